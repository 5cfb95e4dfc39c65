/**
 * End-to-end: secrets never leave pp, and nothing a platform or a message holds reaches the terminal raw.
 * A hostile local server answers with escape sequences and echoes what it was sent (its own URL path, the
 * Authorization header fetch derived from the URL's credentials, and another channel's key).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

const PATH_SECRET = "hunter-secret";
const USER = "alice-user";
const PASSWORD = "wonder-land-pw";
const OTHER_KEY = "other-channels-key";
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
const SECRETS = [PATH_SECRET, USER, PASSWORD, OTHER_KEY, BASIC];
/** What a terminal would act on: C0 but newline and tab, DEL, C1. */
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const HOSTILE = `\x1b[2J\x1b]0;pwned\x07\x9b31m\x1b[8mhidden\r✔ all delivered`;

let server: ReturnType<typeof Bun.serve>;
let base: string;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      await req.text();
      if (url.pathname === "/cgi-bin/webhook/send") return Response.json({ errcode: 0, errmsg: "ok" });
      const auth = req.headers.get("authorization") ?? "none";
      // An error text long enough to be cut, with the echoes placed around the cut.
      const body = `${HOSTILE} no route for ${url.pathname} (auth ${auth}, forwarded key=${OTHER_KEY}) ${"x".repeat(250)} ${url.pathname}`;
      return new Response(body, { status: 400 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

function workspace(): string {
  const dir = tempDir("pp-e2e-secrets-");
  const [scheme, rest] = base.split("://");
  writeFileSync(
    join(dir, "pp.toml"),
    `[log]
path = ${q(join(dir, "pp.db"))}
[defaults]
retries = 0
[channels.hook]
type = "webhook"
url = ${q(`${base}/webhook/${PATH_SECRET}`)}
[channels.creds]
type = "webhook"
url = ${q(`${scheme}://${USER}:${PASSWORD}@${rest}/basic`)}
[channels.other]
type = "wecom"
webhook = ${q(`${base}/cgi-bin/webhook/send?key=${OTHER_KEY}`)}
`,
  );
  return dir;
}

function clean(where: string, text: string): void {
  for (const s of SECRETS) expect(text, `${where} shows ${s}`).not.toContain(s);
  expect(text, `${where} holds a raw control character`).not.toMatch(RAW);
}

describe("secrets", () => {
  test("every output of a destination shows it by one rule", async () => {
    const cwd = workspace();
    const list = await pp(["channels"], { cwd });
    const json = await pp(["channels", "--json"], { cwd });
    expect(list.code).toBe(0);
    clean("pp channels", list.stdout + list.stderr + json.stdout);
    expect(list.stdout).toContain(`${base}/***`);
    expect(list.stdout).toContain(`${base}/cgi-bin/webhook/send?key=***`);

    const dry = await pp(["send", "--dry-run", "--ch", "hook,creds,other", "hi"], { cwd });
    const dryJson = await pp(["send", "--dry-run", "--json", "--ch", "hook,creds,other", "hi"], { cwd });
    expect(dry.code).toBe(0);
    clean("--dry-run", dry.stdout + dry.stderr + dryJson.stdout);
    expect(dry.stdout).toContain(`POST ${base}/***`);
    // The header fetch derives from the URL's credentials is shown as going out, without its value.
    expect(dry.stdout).toContain("Authorization: Basic ***");
  });

  test("a failed send leaks nothing to stderr or the push log, and no escape reaches the terminal", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "hook,creds", "hello"], { cwd });
    expect(r.code).toBe(1);
    clean("pp send stderr", r.stderr);
    expect(r.stderr).toContain("\\x1b[2J");
    expect(r.stderr).toContain("\\u009b");
    expect(r.stderr).toContain("***");
    const id = r.stdout.trim();

    for (const args of [["log"], ["log", "--json"], ["log", "--failed"], ["log", "show", id], ["log", "show", id, "--json"]]) {
      const out = await pp(args, { cwd });
      expect(out.code).toBe(0);
      clean(`pp ${args.join(" ")}`, out.stdout + out.stderr);
    }
    const shown = JSON.parse((await pp(["log", "show", id, "--json"], { cwd })).stdout);
    const hook = shown.deliveries.find((d: { channel: string }) => d.channel === "hook");
    expect(hook.target).toBe(`${base}/***`);
    // The answer is kept (escape sequences and all, JSON-escaped), only without secrets.
    expect(hook.attempts_log[0].response).toContain("\x1b]0;pwned");

    const t = await pp(["test", "hook", "creds"], { cwd });
    expect(t.code).toBe(1);
    clean("pp test", t.stdout + t.stderr);
  });

  test("a message's own text and title are kept as written and printed escaped", async () => {
    const cwd = workspace();
    const title = "T\x1b]0;pwned\x07";
    const text = `\x1b[2Jclear\x9b31m\r✔ all delivered`;
    const r = await pp(["send", "--ch", "other", "--title", title, text], { cwd });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    for (const args of [["log"], ["log", "show", id]]) {
      const out = await pp(args, { cwd });
      clean(`pp ${args.join(" ")}`, out.stdout + out.stderr);
      expect(out.stdout).toContain("\\x1b");
    }
    const rows = JSON.parse((await pp(["log", "--json"], { cwd })).stdout);
    expect(rows[0]).toMatchObject({ title, text });
  });

  test("a channel name from the command line is escaped in the error", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "\x1b]0;pwned\x07\x1b[2J", "hi"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("pp: ");
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toContain("\\x1b]0;pwned\\x07");
  });
});
