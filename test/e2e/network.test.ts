/**
 * End-to-end: the compiled binary against hostile and unusual servers on 127.0.0.1: huge answers, redirects,
 * untrusted certificates, dropped connections and absurd waits.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { selfSignedCert, serveTls } from "../fakes/tls.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

const RAW_TEXT = /fetch\(|verbose|socket connection|ECONNRESET:/;
const stops: (() => unknown)[] = [];
let wecom: Fake;
let slack: Fake;

beforeAll(async () => {
  wecom = await startFake("wecom", { rate: false });
  slack = await startFake("slack", { rate: false });
  stops.push(() => wecom.stop(), () => slack.stop());
});
afterAll(async () => {
  for (const s of stops) await s();
});

/** A workspace whose channels are given as TOML, with its own push log. */
function workspace(channels: string): string {
  const dir = tempDir("pp-net-");
  writeFileSync(join(dir, "pp.toml"), `[defaults]\ndeadline = "20s"\n[log]\npath = ${q(join(dir, "pp.db"))}\n${channels}`);
  return dir;
}

const hook = (name: string, url: string, extra = "") => `[channels.${name}]\ntype = "webhook"\nurl = ${q(url)}\n${extra}\n`;

function serve(handler: (req: Request) => Response | Promise<Response>): string {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", development: false, fetch: handler });
  stops.push(() => s.stop(true));
  return `http://127.0.0.1:${s.port}`;
}

/** The single delivery of the newest message, from the push log. */
async function lastDelivery(dir: string): Promise<{ status: string; attempts: number; error: string | null }> {
  const r = await pp(["log", "--json", "--limit", "1"], { cwd: dir });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout)[0];
}

describe("answers", () => {
  test("a success answer of 200 KiB is recorded delivered", async () => {
    const big = JSON.stringify({ errcode: 0, errmsg: "ok", pad: "p".repeat(200 * 1024) });
    wecom.reset();
    wecom.fault({ kind: "status", status: 200, body: big, headers: { "content-type": "application/json" } });
    const dir = workspace(`[channels.w]\ntype = "wecom"\nwebhook = ${q(wecom.webhook)}\n`);
    const r = await pp(["send", "--ch", "w", "hello"], { cwd: dir });
    expect(r.stderr).not.toContain("unexpected response");
    expect(r.code).toBe(0);
    expect(wecom.requests).toHaveLength(1);
    expect(await lastDelivery(dir)).toMatchObject({ status: "delivered", attempts: 1 });
  });

  test("an endless success answer is not taken as success, nor sent again", async () => {
    let hits = 0;
    const chunk = new Uint8Array(64 * 1024).fill(32);
    const url = serve(() => {
      hits++;
      return new Response(new ReadableStream({ pull: (c) => c.enqueue(chunk) }));
    });
    const dir = workspace(hook("endless", `${url}/hook`));
    const r = await pp(["send", "--ch", "endless", "hello"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("larger than 1 MiB");
    expect(hits).toBe(1);
    // The platform may have the message: it is listed as uncertain, and a replay leaves it alone unasked.
    const failed = JSON.parse((await pp(["log", "--failed", "--json"], { cwd: dir })).stdout);
    expect(failed.map((row: { status: string }) => row.status)).toEqual(["uncertain"]);
    const replay = await pp(["replay", "--failed"], { cwd: dir });
    expect(replay.code).toBe(0);
    expect(hits).toBe(1);
  });
});

describe("answers cut off", () => {
  test("a 200 whose body stops arriving is uncertain, not retried, and not replayed unasked", async () => {
    let hits = 0;
    const url = serve(() => {
      hits++;
      // The status and the first bytes arrive at once, then the body stalls until the client gives up.
      return new Response(new ReadableStream({
        start: (c) => c.enqueue(new TextEncoder().encode('{"ok":')),
        pull: () => new Promise(() => {}),
      }), { status: 200, headers: { "content-type": "application/json" } });
    });
    const dir = workspace(hook("stall", `${url}/hook`, `timeout = "1s"\nretries = 3`));
    const r = await pp(["send", "--ch", "stall", "hello"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("answer was cut off");
    expect(hits).toBe(1);
    expect(await lastDelivery(dir)).toMatchObject({ status: "uncertain", attempts: 1 });
    expect((await pp(["replay", "--failed"], { cwd: dir })).code).toBe(0);
    expect(hits).toBe(1);
  });
});

describe("redirects", () => {
  test.each([
    ["a 307", (_path: string) => ({ status: 307, location: "https://hooks.example.net/new/SECRET-PATH?token=hunter2" }), "hooks.example.net"],
    ["a redirect loop", (path: string) => ({ status: 302, location: path }), "127.0.0.1:"],
  ])("%s is a permanent error after one request, naming only the host", async (_name, answer, host) => {
    const methods: string[] = [];
    const url = serve((req) => {
      methods.push(req.method);
      const a = answer(new URL(req.url).pathname);
      return new Response("moved", { status: a.status, headers: { location: a.location } });
    });
    const dir = workspace(hook("moved", `${url}/hooks/old-SECRET-PATH`));
    const r = await pp(["send", "--ch", "moved", "hello"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the webhook URL redirects to ${host}`);
    expect(r.stderr).toContain("use the new URL");
    expect(r.stderr).not.toContain("SECRET-PATH");
    expect(r.stderr).not.toContain("hunter2");
    expect(methods).toEqual(["POST"]);
    expect(await lastDelivery(dir)).toMatchObject({ status: "failed", attempts: 1 });
  });
});

describe("TLS", () => {
  test("an untrusted certificate fails at once; NODE_EXTRA_CA_CERTS makes it trusted", async () => {
    const cert = selfSignedCert(tempDir());
    let hits = 0;
    const s = serveTls(cert, () => (hits++, new Response("ok")));
    stops.push(() => s.stop(true));
    const dir = workspace(hook("tls", `https://127.0.0.1:${s.port}/hook`));

    const r = await pp(["send", "--ch", "tls", "hello"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("self-signed");
    expect(r.stderr).toContain("NODE_EXTRA_CA_CERTS");
    expect(r.stderr).not.toContain("gave up after");
    expect(r.stderr).not.toMatch(RAW_TEXT);
    expect(await lastDelivery(dir)).toMatchObject({ status: "failed", attempts: 1 });
    expect(hits).toBe(0);

    const trusted = await pp(["send", "--ch", "tls", "hello"], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: cert.cert } });
    expect(trusted.stderr).not.toContain("self-signed");
    expect(trusted.code).toBe(0);
    expect(hits).toBe(1);
  });

  test("a certificate for another host name is permanent and told in words", async () => {
    const cert = selfSignedCert(tempDir(), "DNS:hooks.example.net");
    const s = serveTls(cert, () => new Response("ok"));
    stops.push(() => s.stop(true));
    const dir = workspace(hook("tls", `https://127.0.0.1:${s.port}/hooks/SECRET-PATH`));
    const r = await pp(["send", "--ch", "tls", "hello"], { cwd: dir, env: { NODE_EXTRA_CA_CERTS: cert.cert } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the TLS certificate of 127.0.0.1:${s.port} is for another host name`);
    expect(r.stderr).not.toMatch(RAW_TEXT);
    expect(r.stderr).not.toContain("SECRET-PATH");
    expect(await lastDelivery(dir)).toMatchObject({ status: "failed", attempts: 1 });
  });
});

describe("dropped connections", () => {
  test("a reset or a close before the answer is told in words, not in the runtime's", async () => {
    slack.reset();
    slack.fault({ kind: "drop" }, 2);
    const closing = createServer((sock: Socket) => sock.once("data", () => sock.end()));
    await new Promise<void>((res) => closing.listen(0, "127.0.0.1", res));
    stops.push(() => new Promise((res) => closing.close(res)));
    const port = (closing.address() as { port: number }).port;
    const dir = workspace(
      `[channels.s]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\nretries = 1\n${hook("closing", `http://127.0.0.1:${port}/hook`, "retries = 0")}`,
    );
    const r = await pp(["send", "--ch", "s,closing", "hello"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/s\s.*connection to 127\.0\.0\.1:\d+ was reset or closed before a complete answer/);
    expect(r.stderr).toMatch(/closing\s.*connection to 127\.0\.0\.1:\d+ was reset or closed before a complete answer/);
    expect(r.stderr).not.toMatch(RAW_TEXT);
    const log = await pp(["log", "--json"], { cwd: dir });
    expect(log.stdout).not.toMatch(RAW_TEXT);
  });
});

describe("a platform's wait", () => {
  test("a short wait is honoured and its cause told", async () => {
    slack.reset();
    slack.fault({ kind: "rate_limited", retryAfterSec: 2 });
    const dir = workspace(`[channels.s]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\n`);
    const r = await pp(["send", "--ch", "s", "hello"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("pp: s: waiting 2.0s before retrying (Slack asked to wait 2s (Retry-After))");
    expect(slack.accepted()).toHaveLength(1);
  });

  test("Retry-After: 100000 is capped; pp channels shows the block, --unblock lifts it", async () => {
    slack.reset();
    slack.fault({ kind: "rate_limited", retryAfterSec: 100_000 });
    const ch = (name: string) => `[channels.${name}]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\n`;
    const dir = workspace(`${ch("s")}${ch("twin")}`);
    const cause = "Slack asked to wait 100000s (Retry-After), capped at 15m";

    const before = Date.now();
    const r = await pp(["send", "--ch", "s", "hello"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(cause);
    expect(slack.requests).toHaveLength(1);
    expect((await lastDelivery(dir)).error).toContain(cause);

    const list = await pp(["channels", "--json"], { cwd: dir });
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout).channels as { name: string; blocked: { cause: string; until: string } | null }[];
    // Blocks belong to the destination: both names on the one webhook are blocked.
    for (const row of rows) {
      expect(row.blocked?.cause).toBe(cause);
      const until = Date.parse(row.blocked!.until);
      expect(until).toBeGreaterThanOrEqual(before + 15 * 60_000);
      expect(until).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    }
    const table = await pp(["channels"], { cwd: dir });
    expect(table.stdout).toMatch(/BLOCKED\s+UNTIL\s+CAUSE/);
    expect(table.stdout).toContain(cause);

    // The next send does not blame pp's own limit, and sends nothing.
    const again = await pp(["send", "--ch", "twin", "hello", "--deadline", "2s"], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(cause);
    expect(again.stderr).not.toContain("limit 1/s");
    expect(slack.requests).toHaveLength(1);

    const unknown = await pp(["channels", "--unblock", "nope"], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^pp: .*"nope".*s, twin/);

    const lift = await pp(["channels", "--unblock", "s"], { cwd: dir });
    expect(lift.code).toBe(0);
    expect(lift.stderr).toContain("lifted the block on s");
    expect(lift.stderr).toContain("twin");
    expect(JSON.parse((await pp(["channels", "--json"], { cwd: dir })).stdout).channels.map((c: { blocked: unknown }) => c.blocked)).toEqual([null, null]);

    const after = await pp(["send", "--ch", "twin", "hello"], { cwd: dir });
    expect(after.code).toBe(0);
    expect(slack.accepted()).toHaveLength(1);
  });
});
