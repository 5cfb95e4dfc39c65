/**
 * The README's examples, run as written against the local platform fakes: each platform section's config and
 * command must deliver exactly the payload the section says the platform receives; the quick start's commands
 * must work on the config `pp config init` writes; every TOML block must be a valid config; and the demo must
 * run each command it shows, with the exit status it shows. The blocks are read from README.md itself, so
 * editing an example there changes what is tested.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { parseConfig } from "../src/config/load.ts";
import { CHANNEL_EXAMPLES } from "../src/config/starter.ts";
import { runDemo } from "../scripts/demo.ts";
import { startFake, type Fake, type FakeOptions, type FakeType } from "./fakes/index.ts";
import { parts, smtp, SMTP_PASSWORD, SMTP_USER } from "./fakes/smtp.ts";
import { selfSignedCert } from "./fakes/tls.ts";
import { BIN, needBinary, ROOT } from "./e2e/_run.ts";
import { q, tempDir } from "./helpers.ts";

needBinary();

const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** The text of a `## ` section, up to the next one. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(-1);
  const end = README.indexOf("\n## ", start + 4);
  return README.slice(start, end === -1 ? undefined : end);
}

/** Fenced blocks of one language, in order. */
function blocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm"))].map((m) => m[1]!);
}

const fakes: Fake[] = [];
afterAll(() => Promise.all(fakes.map((f) => f.stop())));

/** A directory whose bin/pp is the binary under test, with a shell environment that finds it first. */
function shell(home: string, env: Record<string, string> = {}) {
  mkdirSync(join(home, "bin"), { recursive: true });
  symlinkSync(BIN, join(home, "bin", "pp"));
  // Async: the fakes answer from this process, so a blocking spawn would wait on itself.
  return async (script: string) => {
    const p = Bun.spawn(["sh", "-ec", script], {
      cwd: home,
      env: { PATH: `${join(home, "bin")}:/usr/bin:/bin`, HOME: home, NO_COLOR: "1", ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  };
}

/**
 * The README shows real platform URLs; the test swaps their origin for the fake's and reads the `${VAR}` in the
 * URL off the fake's webhook, which also checks that the README's path is the one the platform (as faked) serves.
 */
function pointAt(url: string, fake: Fake): { url: string; env: Record<string, string> } {
  const fakeUrl = new URL(fake.webhook);
  const swapped = url.replace(/^https?:\/\/[^/]+/, fakeUrl.origin);
  const m = /\$\{([A-Z_]+)\}/.exec(swapped);
  if (!m) return { url: swapped, env: {} };
  const prefix = swapped.slice(0, m.index);
  const suffix = swapped.slice(m.index + m[0].length);
  expect(fake.webhook.startsWith(prefix)).toBe(true);
  expect(fake.webhook.endsWith(suffix)).toBe(true);
  return { url: swapped, env: { [m[1]!]: fake.webhook.slice(prefix.length, fake.webhook.length - suffix.length) } };
}

/** The setting that holds a platform's base URL, for types configured by credential rather than by webhook URL. */
const BASE_KEY: Partial<Record<string, string>> = { wecom_app: "api", telegram: "api", ntfy: "server", gotify: "server", bark: "server", pushplus: "api", serverchan: "api", pushover: "api" };
/** The setting whose `${VAR}` is the fake's credential. */
const CREDENTIAL_KEY: Partial<Record<string, string>> = { telegram: "token", ntfy: "topic", gotify: "token", bark: "key", pushplus: "token", serverchan: "sendkey", pushover: "token" };

/**
 * For a type configured by a credential (and a server that has a default): the base URL set to the fake's origin,
 * written in or added after `type = …`, and the credential's `${VAR}` read off the fake.
 */
function pointBase(toml: string, ch: Record<string, any>, fake: Fake): { config: string; env: Record<string, string> } {
  const baseKey = BASE_KEY[ch.type];
  const credKey = CREDENTIAL_KEY[ch.type];
  // A WeCom application's fake is given the README's credentials instead (FakeOptions).
  const given = ch.type === "wecom_app";
  expect({ type: ch.type, baseKey, credKey }).toEqual({ type: ch.type, baseKey: expect.any(String), credKey: given ? undefined : expect.any(String) });
  const origin = new URL(fake.webhook).origin;
  const line = `${baseKey} = ${q(origin)}`;
  const re = new RegExp(`^${baseKey} = .*$`, "m");
  const config = re.test(toml) ? toml.replace(re, line) : toml.replace(/^type = .*$/m, (t) => `${t}\n${line}`);
  if (given) return { config, env: {} };
  const m = /^\$\{([A-Z_]+)\}$/.exec(String(ch[credKey!]));
  expect(m).not.toBeNull();
  return { config, env: { [m![1]!]: fake.token } };
}

/** Deep equality where the README writes "…" for a value that changes (a signature, a timestamp), or an example time. */
function like(expected: unknown, actual: unknown, path = "$"): void {
  if (expected === "…") return;
  if (typeof expected === "string" && /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(expected)) {
    expect({ path, value: actual }).toEqual({ path, value: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) });
    return;
  }
  if (expected && typeof expected === "object") {
    expect(actual !== null && typeof actual === "object").toBe(true);
    expect({ path, keys: Object.keys(actual as object).sort() }).toEqual({ path, keys: Object.keys(expected).sort() });
    for (const [k, v] of Object.entries(expected)) like(v, (actual as Record<string, unknown>)[k], `${path}.${k}`);
    return;
  }
  expect({ path, value: actual }).toEqual({ path, value: expected });
}

/**
 * The e-mail example against a real SMTP server on 127.0.0.1 that wants STARTTLS (its self-signed certificate
 * trusted through NODE_EXTRA_CA_CERTS) and the example's login; the README's JSON is the envelope it receives.
 */
async function emailExample(p: string): Promise<void> {
  const toml = blocks(p, "toml")[0]!;
  const [cmd] = blocks(p, "sh");
  const ch = Object.values((parse(toml) as any).channels)[0] as Record<string, any>;
  expect(ch.user).toBe(SMTP_USER);
  const cert = selfSignedCert(tempDir("pp-readme-cert-"));
  const server = await smtp({ key: readFileSync(cert.key), cert: readFileSync(cert.cert) });
  try {
    const vars: Record<string, string> = { NODE_EXTRA_CA_CERTS: cert.cert };
    for (const [, v] of toml.matchAll(/\$\{([A-Z_]+)\}/g)) vars[v!] = SMTP_PASSWORD;
    const home = tempDir("pp-readme-");
    const config = toml.replace(/^host = .*$/m, `host = "127.0.0.1"\nport = ${server.port}`);
    writeFileSync(join(home, "pp.toml"), `[log]\npath = ${q(join(home, "pp.db"))}\n\n${config}`);
    const r = await shell(home, vars)(cmd!);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const claimed = [...p.slice(p.indexOf(cmd!)).matchAll(/`(\{[^`]+\})`/g)].map((m) => m[1]!)[0];
    expect(server.got).toHaveLength(1);
    const got = server.got[0]!;
    expect(got.secure).toBe(true);
    like(JSON.parse(claimed!), { from: got.from, to: got.to });
    const m = parts(got.raw);
    expect(m.headers.get("subject")).toBe(/-t "([^"]+)"/.exec(cmd!)![1]!);
    expect(m.html).toContain("<b>api v1.4.2</b> is live");
    expect(m.text).toBe("api v1.4.2 is live");
    expect(m.headers.has("bcc")).toBe(false);
  } finally {
    await server.close();
  }
}

describe("README: Platforms, one worked example each", () => {
  const platforms = section("Platforms").split(/\n### /).slice(1);

  test("there is one example per channel type", () => {
    const types = platforms.map((p) => (parse(blocks(p, "toml")[0]!) as any).channels);
    expect(types.map((c) => (Object.values(c)[0] as { type: string }).type).sort()).toEqual(Object.keys(CHANNEL_EXAMPLES).sort());
  });

  for (const p of platforms) {
    const title = p.slice(0, p.indexOf("\n"));
    if (/^type = "email"$/m.test(blocks(p, "toml")[0]!)) {
      test(`${title}: the command sends what the README says the mail server receives`, () => emailExample(p));
      continue;
    }
    test(`${title}: the command delivers what the README says the platform receives`, async () => {
      const toml = blocks(p, "toml")[0]!;
      const [cmd] = blocks(p, "sh");
      const [name, ch] = Object.entries((parse(toml) as any).channels)[0] as [string, Record<string, any>];
      const vars: Record<string, string> = {};
      for (const [, v] of toml.matchAll(/\$\{([A-Z_]+)\}/g)) vars[v!] = v!.includes("SECRET") ? `SEC${v!.toLowerCase()}` : `readme-${v!.toLowerCase()}`;
      const expand = (s: string) => s.replace(/\$\{([A-Z_]+)\}/g, (_, v) => vars[v]!);
      const opts: FakeOptions = {};
      if (ch.secret) opts.secret = expand(ch.secret);
      if (ch.keyword) opts.keyword = ch.keyword;
      if (ch.headers) opts.requireHeaders = Object.fromEntries(Object.entries(ch.headers).map(([k, v]) => [k, expand(String(v))]));
      if (ch.success) opts.successPath = { path: ch.success.path, value: ch.success.equals };
      if (ch.type === "pushover") opts.user = expand(ch.user);
      if (ch.type === "wecom_app") Object.assign(opts, { corpId: ch.corp_id, agentId: ch.agent_id });
      const fake = await startFake(ch.type as FakeType, opts);
      fakes.push(fake);
      let config: string;
      if (ch.webhook === undefined && ch.url === undefined) {
        const pointed = pointBase(toml, ch, fake);
        config = pointed.config;
        Object.assign(vars, pointed.env);
      } else {
        const key = ch.webhook === undefined ? "url" : "webhook";
        const { url, env } = pointAt(ch[key], fake);
        Object.assign(vars, env);
        config = toml.replace(/^(webhook|url) = .*$/m, `${key} = ${q(url)}`);
      }

      const home = tempDir("pp-readme-");
      writeFileSync(join(home, "pp.toml"), `[log]\npath = ${q(join(home, "pp.db"))}\n\n${config}`);
      const r = await shell(home, vars)(cmd!);
      expect({ name, code: r.code, stderr: r.stderr }).toEqual({ name, code: 0, stderr: expect.any(String) });

      const after = p.slice(p.indexOf(cmd!));
      const claimed = [...after.matchAll(/`(\{[^`]+\})`/g)].map((m) => m[1]!).find((s) => {
        try {
          return JSON.parse(s) !== null;
        } catch {
          return false;
        }
      });
      expect(claimed).toBeDefined();
      const got = fake.accepted();
      expect(got).toHaveLength(1);
      like(JSON.parse(claimed!), got[0]!.json);
    });
  }
});

describe("README: other examples", () => {
  test("every TOML block is a valid config", () => {
    const all = blocks(README, "toml");
    expect(all.length).toBeGreaterThan(7);
    const saved = { ...process.env };
    try {
      for (const t of all) {
        for (const [, v] of t.matchAll(/\$\{([A-Z_]+)\}/g)) process.env[v!] = v!.includes("SECRET") ? "SECx" : "x";
        expect(() => parseConfig(t, "README.md")).not.toThrow();
      }
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    }
  });

  test("the opening example runs as shown against a Feishu channel and an ops group", async () => {
    const intro = README.slice(0, README.indexOf("\n## "));
    const block = blocks(intro, "sh")[0]!;
    const feishu = await startFake("feishu");
    fakes.push(feishu);
    const home = tempDir("pp-readme-");
    writeFileSync(
      join(home, "pp.toml"),
      `[log]\npath = ${q(join(home, "pp.db"))}\n[channels.feishu]\ntype = "feishu"\nwebhook = ${q(feishu.webhook)}\n[groups]\nops = ["feishu"]\n`,
    );
    const r = await shell(home)(block);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(feishu.accepted().map((x) => JSON.stringify(x.json))).toEqual([expect.stringContaining("deploy done"), expect.stringContaining("Disk report")]);
  });

  test("the quick start: pp config init, uncomment Slack, then check, test and send as shown", async () => {
    const quick = section("Quick start");
    const home = tempDir("pp-readme-");
    const slack = await startFake("slack");
    fakes.push(slack);
    const sh = shell(home);
    const inits = blocks(quick, "sh").flatMap((b) => b.split("\n").filter((l) => l.startsWith("pp config init")));
    expect(inits).toHaveLength(1);
    const init = await sh(inits[0]!);
    expect(init.code).toBe(0);

    // What the reader does by hand: uncomment the Slack section (pointed at the local stand-in).
    const file = join(home, ".config", "pp", "config.toml");
    let text = readFileSync(file, "utf8");
    for (const line of CHANNEL_EXAMPLES.slack.toml) text = text.replace(`# ${line}`, line);
    const { url, env } = pointAt(CHANNEL_EXAMPLES.slack.toml.find((l) => l.startsWith("webhook"))!.slice(11, -1), slack);
    text = text.replace(/^webhook = "https:\/\/hooks\.slack\.com\/services\/\$\{SLACK_HOOK\}"$/m, `webhook = ${q(url)}`);
    writeFileSync(file, text);

    const marked = quick.slice(quick.indexOf("<!-- The README test runs this block"));
    const block = blocks(marked, "sh")[0]!;
    expect(block).toContain("export SLACK_HOOK=");
    const script = block.replace(/^export SLACK_HOOK=\S+/m, `export SLACK_HOOK=${env.SLACK_HOOK}`);
    const r = await sh(script);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("slack") });
    expect(slack.accepted().map((x) => x.json.text)).toContain("hello from pp");
    expect(slack.accepted()).toHaveLength(2);
  });

  test("the demo runs each command it shows, and each ends as shown", async () => {
    expect(section("Quick start")).toContain("bun run demo");
    const shown: string[] = [];
    const { steps, wecom, feishu, refused } = await runDemo(BIN, (s) => shown.push(s));
    for (const s of steps) {
      expect({ cmd: s.cmd, code: s.code }).toEqual({ cmd: s.cmd, code: s.expect });
      expect(shown).toContain(`$ ${s.cmd}`);
    }
    // A real refusal (a missing keyword) fixed in the config, not a fault that clears itself.
    expect(steps.some((s) => s.expect === 1 && s.output.includes("Key Words Not Found"))).toBe(true);
    expect(steps.find((s) => s.cmd === "pp replay --failed")!.output).toContain("1 delivered, 0 failed");
    expect({ wecom, feishu, refused }).toEqual({ wecom: 1, feishu: 2, refused: 1 });
  }, 30_000);
});

describe("the test suite", () => {
  // Bun prints a skipped test as "(skip) <name>": the name is all a reader of the run sees, so it says what is missing and how to get it.
  test("every conditional skip names what it needs", async () => {
    const names: string[] = [];
    for await (const file of new Bun.Glob("test/**/*.ts").scan({ cwd: ROOT })) {
      const src = readFileSync(join(ROOT, file), "utf8");
      for (const m of src.matchAll(/\.(skipIf|if|todoIf)\(([^)]|\)(?!\s*\())*\)\s*\(\s*("(?:[^"\\]|\\.)*"|`[^`]*`)/g)) names.push(`${file}: ${m[3]}`);
      const calls = [...src.matchAll(/\.(skipIf|todoIf)\(/g)].length;
      expect({ file, calls }).toEqual({ file, calls: names.filter((n) => n.startsWith(`${file}: `)).length });
    }
    expect(names.length).toBeGreaterThan(3);
    for (const n of names) expect(n).toMatch(/\(needs [^)]+\)/);
  });
});
