/**
 * End-to-end: `pp serve` as a user runs it, the compiled binary against local platform fakes, over TCP and a
 * unix socket, with signals.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp } from "./_run.ts";

needBinary();

const TOKEN = "serve-e2e-token-7f3a9c";
const isRoot = process.getuid?.() === 0;

let ops: Fake;
let extra: Fake;
beforeAll(async () => {
  ops = await startFake("slack");
  extra = await startFake("discord");
});
afterAll(async () => {
  await Promise.all([ops.stop(), extra.stop()]);
});

/** Daemons started by a test; any still running at its end is killed. */
const running = new Set<Daemon>();
afterEach(() => {
  for (const d of running) d.proc.kill(9);
  running.clear();
  ops.reset();
  extra.reset();
});

interface Daemon {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** http://127.0.0.1:PORT, or unix:/path. */
  url: string;
  stderr(): string;
  /** Resolves once stderr has a line matching `re`. */
  waitFor(re: RegExp): Promise<string>;
  exited: Promise<number>;
}

function workspace(serve: string): string {
  const dir = tempDir("pp-serve-");
  writeConfig(dir, serve);
  return dir;
}

function writeConfig(dir: string, serve: string, channels?: string, db = join(dir, "pp.db")): void {
  const text = `[log]
path = ${q(db)}
[channels.ops]
type = "slack"
webhook = ${q(ops.webhook)}
${channels ?? ""}
[serve]
${isRoot && !/^user\b/m.test(serve) ? 'user = "root"\n' : ""}${serve}
`;
  writeFileSync(join(dir, "pp.toml"), text, { mode: 0o600 });
  chmodSync(join(dir, "pp.toml"), 0o600);
}

function env(dir: string, more: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1", ...more };
}

async function start(dir: string, args: string[] = [], more: Record<string, string> = {}): Promise<Daemon> {
  const proc = Bun.spawn([BIN, "serve", "--config", join(dir, "pp.toml"), ...args], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: env(dir, more) });
  let text = "";
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const line = text.split("\n").find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      text += decoder.decode(chunk, { stream: true });
      check();
    }
  })();
  const d: Daemon = {
    proc,
    url: "",
    stderr: () => text,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        check();
        void proc.exited.then(async () => {
          await reading;
          check();
          if (waiters.some((w) => w.re === re)) reject(new Error(`pp serve exited (${proc.exitCode}) before printing ${re}; stderr:\n${text}`));
        });
      }),
    exited: proc.exited.then(async (code) => {
      await reading;
      return code;
    }),
  };
  running.add(d);
  const line = await d.waitFor(/listening on \S+/);
  d.url = /listening on (\S+?)(?:"|\s|$)/.exec(line)![1]!;
  return d;
}

/** fetch to a daemon over TCP or its unix socket. */
function call(d: Daemon, path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set("Authorization", `Bearer ${init.token ?? TOKEN}`);
  if (d.url.startsWith("unix:")) return fetch(`http://localhost${path}`, { ...init, headers, unix: d.url.slice(5) } as RequestInit);
  return fetch(`${d.url}${path}`, { ...init, headers });
}

async function postText(d: Daemon, body: Record<string, unknown>, token?: string | null): Promise<{ status: number; json: any }> {
  const res = await call(d, "/api/text", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" }, token });
  return { status: res.status, json: await res.json() };
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    // What the daemons logged says why.
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; pp serve logged:\n${[...running].map((d) => d.stderr()).join("\n---\n")}`);
    await Bun.sleep(25);
  }
}

/** The push log as pp log --json shows it (the CLI reading the daemon's store). */
async function logRows(dir: string): Promise<any[]> {
  const r = await pp(["log", "--json", "--limit", "100", "--config", join(dir, "pp.toml")], { cwd: dir });
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout);
}

describe("pp serve", () => {
  test("starts, says where it listens, and answers /healthz; SIGTERM stops it with exit 0", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}`);
    const d = await start(dir);
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(d.url).not.toEndWith(":0");
    const res = await fetch(`${d.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(d.stderr()).toContain("pp serve: stopped");
  });

  test("refuses 0.0.0.0 without a token, saying how to set one; nothing listens", async () => {
    const dir = workspace(`listen = "0.0.0.0:0"\nallow_anonymous = true`);
    const r = await pp(["serve", "--config", join(dir, "pp.toml")], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `pp: refusing to listen on 0.0.0.0:0 without a token: anyone who can reach it could send through your channels; set one with tokens = ["\${PP_TOKEN}"] in the [serve] section of ${join(dir, "pp.toml")} and export PP_TOKEN=$(openssl rand -hex 32), or pass --token (or listen on 127.0.0.1 or a unix socket)\n`,
    );
    // --listen and PP_LISTEN move it there just the same.
    const flag = await pp(["serve", "--config", join(dir, "pp.toml"), "--listen", "[::]:0"], { cwd: dir });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toStartWith("pp: refusing to listen on [::]:0 without a token");
  });

  test("a loopback listener without a token needs allow_anonymous = true", async () => {
    const closed = workspace(`listen = "127.0.0.1:0"`);
    const r = await pp(["serve", "--config", join(closed, "pp.toml")], { cwd: closed });
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("pp: no token is set for 127.0.0.1:0: set tokens = [");
    expect(r.stderr).toContain("allow_anonymous = true");
    expect(r.stderr.split("\n")).toHaveLength(2);

    const open = workspace(`listen = "127.0.0.1:0"\nallow_anonymous = true`);
    const d = await start(open);
    const sent = await postText(d, { msg: "anonymous hello" }, null);
    expect(sent.status).toBe(200);
    expect(sent.json.code).toBe("ok");
    await until("the delivery", () => ops.accepted().length === 1);
  });

  test("PP_LISTEN and --listen choose the address, IPv6 in brackets", async () => {
    const dir = workspace(`listen = "127.0.0.1:1"\ntoken = ${q(TOKEN)}`);
    const d = await start(dir, [], { PP_LISTEN: "[::1]:0" });
    expect(d.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    const f = await start(dir, ["--listen", "localhost:0"], { PP_LISTEN: "[::1]:0" });
    expect(f.url).toMatch(/^http:\/\/localhost:\d+$/);
    const bad = await pp(["serve", "--config", join(dir, "pp.toml"), "--listen", "39270"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('pp: --listen: invalid listen address "39270": give the address too, "127.0.0.1:39270" for this machine only or "0.0.0.0:39270" for every interface\n');
  });

  test("a push log that cannot be opened: exit 3, one line, nothing left listening", async () => {
    const dir = tempDir("pp-serve-");
    const sock = join(dir, "pp.sock");
    mkdirSync(join(dir, "db-is-a-dir"));
    writeConfig(dir, `listen = ${q(`unix:${sock}`)}\ntoken = ${q(TOKEN)}`, undefined, join(dir, "db-is-a-dir"));
    const r = await pp(["serve", "--config", join(dir, "pp.toml")], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toStartWith(`pp: cannot open the push log ${join(dir, "db-is-a-dir")}: it is a directory`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(sock)).toBe(false);
  });

  test("with a token, requests without it are refused; PP_TOKEN and --token replace the file's", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = "file-token-1234"`);
    const d = await start(dir, [], { PP_TOKEN: TOKEN });
    expect((await postText(d, { msg: "x" }, null)).status).toBe(401);
    expect((await postText(d, { msg: "x" }, "file-token-1234")).status).toBe(401);
    expect((await postText(d, { msg: "x" })).status).toBe(200);
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    const f = await start(dir, ["--token", "flag-token-5678"], { PP_TOKEN: TOKEN });
    expect((await postText(f, { msg: "x" })).status).toBe(401);
    expect((await postText(f, { msg: "x" }, "flag-token-5678")).status).toBe(200);
  });

  test("POST /api/text is delivered to the platform and recorded", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}`);
    const d = await start(dir);
    const sent = await postText(d, { msg: "deploy done", title: "CI" });
    expect(sent.status).toBe(200);
    expect(sent.json).toEqual({ code: "ok", msg: "success", id: expect.stringMatching(/^[0-9A-Z]{26}$/) });
    const got = await until("the delivery", () => ops.accepted()[0]);
    expect(JSON.stringify(got.json)).toContain("deploy done");
    const view = await until("delivered", async () => {
      const r = await call(d, `/api/messages/${sent.json.id}`);
      const j = (await r.json()) as any;
      return j.data?.deliveries?.[0]?.status === "delivered" && j;
    });
    expect(view.data.source).toBe("api");
  });

  test("unix socket: mode 0660, answers over the socket, a stale socket file is replaced, a live one is not", async () => {
    const dir = tempDir("pp-serve-");
    const sock = join(dir, "pp.sock");
    writeConfig(dir, `listen = ${q(`unix:${sock}`)}\ntoken = ${q(TOKEN)}`);
    const d = await start(dir);
    expect(d.url).toBe(`unix:${sock}`);
    expect(statSync(sock).isSocket()).toBe(true);
    expect(statSync(sock).mode & 0o777).toBe(0o660);
    const health = await fetch("http://localhost/healthz", { unix: sock } as RequestInit);
    expect(health.status).toBe(200);
    const sent = await postText(d, { msg: "over the socket" });
    expect(sent.status).toBe(200);
    await until("the delivery", () => ops.accepted().length === 1);

    // A second daemon on the same socket is refused while the first one answers.
    const second = await pp(["serve", "--config", join(dir, "pp.toml")], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toBe(`pp: cannot listen on unix:${sock}: another process is listening there (another pp serve?); stop it or choose another path\n`);

    // kill -9 leaves the socket file behind; the next start replaces it.
    d.proc.kill(9);
    await d.exited;
    running.delete(d);
    expect(existsSync(sock)).toBe(true);
    const again = await start(dir);
    expect((await fetch("http://localhost/healthz", { unix: sock } as RequestInit)).status).toBe(200);
    again.proc.kill("SIGTERM");
    expect(await again.exited).toBe(0);
  });

  test("SIGTERM while a delivery is slow: it finishes and is recorded, new requests are refused, the rest stays queued for the next start", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}\ngrace = "20s"`);
    ops.fault({ kind: "timeout", ms: 1500 });
    const d = await start(dir);
    const first = await postText(d, { msg: "slow one" });
    const second = await postText(d, { msg: "waits behind it" });
    expect([first.status, second.status]).toEqual([200, 200]);
    // The first is at the platform (its answer held back); the second waits for the channel.
    await until("the slow request to arrive", () => ops.requests.length === 1);
    d.proc.kill("SIGTERM");
    await d.waitFor(/SIGTERM: stopping/);
    const late = await postText(d, { msg: "too late" }).catch((e: Error) => ({ status: 0, json: String(e) }));
    expect([0, 503]).toContain(late.status);
    expect(await d.exited).toBe(0);

    const rows = await logRows(dir);
    const byText = (t: string) => rows.find((r) => r.text === t);
    expect(byText("slow one").status).toBe("delivered");
    expect(byText("waits behind it").status).toBe("queued");
    expect(byText("too late")).toBeUndefined();
    expect(ops.requests).toHaveLength(1);

    const next = await start(dir);
    await until("the queued message to be sent", () => ops.accepted().length === 2);
    expect(JSON.stringify(ops.accepted()[1]!.json)).toContain("waits behind it");
    await until("it to be recorded", async () => {
      const r = await call(next, `/api/messages/${second.json.id}`);
      return ((await r.json()) as any).data?.deliveries?.[0]?.status === "delivered";
    });
  });

  test("SIGTERM with a delivery slower than the grace period: exit 0, and the delivery is sent again at the next start", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}\ngrace = "1s"`);
    ops.fault({ kind: "timeout", ms: 4000 });
    const d = await start(dir);
    const sent = await postText(d, { msg: "slower than the grace" });
    expect(sent.status).toBe(200);
    await until("the slow request to arrive", () => ops.requests.length === 1);
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    const row = (await logRows(dir)).find((r) => r.id === sent.json.id);
    expect(row.status).toBe("queued");
    // Its request was out when the daemon stopped: the platform may have it.
    expect(row.possible_duplicate).toBe(true);

    const next = await start(dir);
    await until("it to be sent again and recorded", async () => {
      const r = await call(next, `/api/messages/${sent.json.id}`);
      return ((await r.json()) as any).data?.deliveries?.[0]?.status === "delivered";
    });
    expect(ops.requests.length).toBeGreaterThanOrEqual(2);
    // The held answer counts against the fake's rate limit when it is given: not after the next test began.
    await until("the held request to be answered", () => ops.requests[0]!.answer.status !== 0);
  });

  test("SIGHUP: a valid new config adds a channel; a broken one is refused and the old one stays", async () => {
    const serve = `listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}`;
    const dir = workspace(serve);
    const d = await start(dir);
    expect((await postText(d, { msg: "x", channels: ["extra"] })).status).toBe(400);

    writeConfig(dir, serve, `[channels.extra]\ntype = "discord"\nwebhook = ${q(extra.webhook)}\n`);
    d.proc.kill("SIGHUP");
    await d.waitFor(/reloaded .*2 channels/);
    expect((await postText(d, { msg: "to the new channel", channels: ["extra"] })).status).toBe(200);
    await until("the delivery to the new channel", () => extra.accepted().length === 1);

    writeFileSync(join(dir, "pp.toml"), "[channels.extra\ntype = 1\n");
    d.proc.kill("SIGHUP");
    const line = await d.waitFor(/not reloaded/);
    expect(line).toContain("the previous one stays in force");
    expect(line).toContain("TOML syntax error");
    expect((await postText(d, { msg: "still there", channels: ["extra"] })).status).toBe(200);
    await until("the delivery with the old config", () => extra.accepted().length === 2);

    // POST /-/reload does the same and answers with the reason.
    const refused = await call(d, "/-/reload", { method: "POST" });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as any).msg).toContain("TOML syntax error");
    writeConfig(dir, serve);
    const ok = await call(d, "/-/reload", { method: "POST" });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).code).toBe("ok");
    expect((await postText(d, { msg: "x", channels: ["extra"] })).status).toBe(400);
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);
  });

  test("log lines: one per request, never a token or a token route's path; --log-format json lines parse", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}`);
    const d = await start(dir, ["--log-format", "json"]);
    await postText(d, { msg: "by header" });
    const viaPath = await fetch(`${d.url}/${TOKEN}/hello-by-path?ch=ops`);
    expect(viaPath.status).toBe(200);
    await fetch(`${d.url}/send?token=${TOKEN}&content=by-query`);
    await fetch(`${d.url}/nothing/here/at/all`);
    await until("three deliveries", () => ops.accepted().length === 3);
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);

    const lines = d.stderr().trim().split("\n");
    const parsed = lines.map((l) => JSON.parse(l));
    const requests = parsed.filter((p) => p.request_id);
    expect(requests.map((p) => `${p.method} ${p.route} ${p.status}`)).toEqual(
      expect.arrayContaining(["POST /api/text 200", "GET /:token/:body 200", "GET /send 200"]),
    );
    for (const p of requests) expect(typeof p.latency_ms).toBe("number");
    expect(d.stderr()).not.toContain(TOKEN);
    expect(d.stderr()).not.toContain("hello-by-path");
    expect(parsed[0].msg).toMatch(/^pp serve: listening on http:\/\/127\.0\.0\.1:\d+$/);
  });

  test("--log-level warn keeps request lines out; a bad level is a usage error", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}`);
    const d = await start(dir, [], { PP_LOG_LEVEL: "warn" });
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(d.stderr()).not.toContain("/healthz");
    const bad = await pp(["serve", "--config", join(dir, "pp.toml"), "--log-level", "verbose"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("pp: --log-level \"verbose\" is not a log level; use one of silent, error, warn, info, debug, trace\n");
  });

  test("warns when the config file holds secrets and everyone can read it", async () => {
    const dir = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}`);
    const quiet = await start(dir);
    quiet.proc.kill("SIGTERM");
    expect(await quiet.exited).toBe(0);
    expect(quiet.stderr()).not.toContain("can read it");
    chmodSync(join(dir, "pp.toml"), 0o644);
    const d = await start(dir);
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(d.stderr()).toContain(`${join(dir, "pp.toml")} holds secrets and every user on this machine can read it; chmod 600`);
    expect(d.stderr()).not.toContain(TOKEN);
  });

  test.skipIf(!isRoot)("started as root: drops to the configured user after binding; a missing user is refused (needs root)", async () => {
    const dir = tempDir("pp-serve-");
    // The store is opened after the drop, as that user: its directory must be theirs to write.
    const data = join(dir, "data");
    mkdirSync(data);
    chmodSync(data, 0o777);
    chmodSync(dir, 0o755);
    writeConfig(dir, `listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}\nuser = "nobody"`, undefined, join(data, "pp.db"));
    const d = await start(dir);
    const status = await Bun.file(`/proc/${d.proc.pid}/status`).text();
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe("65534");
    expect(statSync(join(data, "pp.db")).uid).toBe(65534);
    expect((await postText(d, { msg: "as nobody" })).status).toBe(200);
    await until("the delivery", () => ops.accepted().length === 1);
    // The config (0600, root's) was read before the drop; a reload cannot read it, and says what to do.
    d.proc.kill("SIGHUP");
    expect(await d.waitFor(/not reloaded/)).toMatch(/permission denied.*pp serve runs as user "nobody" since it started: chgrp \S+ \S+pp\.toml && chmod 640/);
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);

    const missing = workspace(`listen = "127.0.0.1:0"\ntoken = ${q(TOKEN)}\nuser = "pp-no-such-user"`);
    const r = await pp(["serve", "--config", join(missing, "pp.toml")], { cwd: missing });
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith('pp: pp serve was started as root and drops to user "pp-no-such-user" after binding, but that user does not exist;');
    expect(r.stderr).toContain('set user = "root" there to keep running as root');
  });
});
