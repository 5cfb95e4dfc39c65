/**
 * End-to-end: the compiled binary as a client of a daemon (`--server`). The daemon side runs in this process: the
 * HTTP app over a real queue store, with its workers delivering to local platform fakes. The client's answers are
 * compared with what the direct commands print from the same push log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { serverOf } from "../../src/cli/client.ts";
import { loadConfig } from "../../src/config/load.ts";
import { secretsOf } from "../../src/core/redact.ts";
import { createApp } from "../../src/server/app.ts";
import type { AppContext } from "../../src/server/context.ts";
import { createMetrics } from "../../src/server/metrics.ts";
import { serveSettings } from "../../src/server/settings.ts";
import { Workers } from "../../src/server/workers.ts";
import { openQueueStore, type QueueStore } from "../../src/store/queue.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { startProxy } from "../fakes/proxy.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp, ROOT } from "./_run.ts";

needBinary();

const TOKEN = "client-e2e-token-7f3a9c21d4";

let good: Fake;
let bad: Fake;
let flaky: Fake;
let dir: string;
let store: QueueStore;
let workers: Workers;
let server: ReturnType<typeof Bun.serve>;
let url: string;
let app: ReturnType<typeof createApp>;
/** Every request the daemon got: method, path and idempotency key. */
const seen: { method: string; path: string; key: string | null }[] = [];

beforeAll(async () => {
  good = await startFake("webhook", { rate: false });
  // Refuses every request for a header pp never sends: a permanent failure, so the delivery ends failed.
  bad = await startFake("webhook", { rate: false, requireHeaders: { "x-never-sent": "1" } });
  flaky = await startFake("webhook", { rate: false });
  dir = tempDir("pp-client-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]
channels = ["good"]
[log]
path = ${q(join(dir, "pp.db"))}
[serve]
deadline = "10s"
[channels.good]
type = "webhook"
url = ${q(good.webhook)}
tags = ["web"]
[channels.bad]
type = "webhook"
url = ${q(bad.webhook)}
retries = 0
[channels.flaky]
type = "webhook"
url = ${q(flaky.webhook)}
retries = 0
`,
  );
  const cfg = loadConfig(join(dir, "pp.toml"));
  const settings = serveSettings(cfg, { token: TOKEN }, {});
  store = openQueueStore(cfg.dbPath);
  const events = createMetrics();
  workers = new Workers({
    queue: store.queue, limiter: store.limiter, config: () => cfg, settings: () => settings, events,
    secrets: () => [...secretsOf(cfg.channels.values()), TOKEN],
  });
  workers.start();
  const ctx: AppContext = {
    config: () => cfg, settings: () => settings, inbox: store.queue, events, wake: () => workers.wake(),
    reload: async () => ({ ok: true }), draining: () => false, logRequest: () => {},
  };
  app = createApp(ctx);
  server = Bun.serve({
    port: 0, hostname: "127.0.0.1",
    fetch(req) {
      seen.push({ method: req.method, path: new URL(req.url).pathname, key: req.headers.get("idempotency-key") });
      return app(req, "127.0.0.1");
    },
  });
  url = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await workers?.stop(1000);
  server?.stop(true);
  store?.close();
  await Promise.all([good?.stop(), bad?.stop(), flaky?.stop()]);
});

const client = (args: string[], o: { env?: Record<string, string>; stdin?: string } = {}) =>
  pp(args, { cwd: dir, stdin: o.stdin, env: { PP_SERVER: url, PP_TOKEN: TOKEN, COLUMNS: "220", ...o.env } });
/** The same command run directly on the daemon's push log. */
const direct = (args: string[]) => pp([...args, "--config", join(dir, "pp.toml")], { cwd: dir, env: { COLUMNS: "220" } });

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (ok()) return;
    await Bun.sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const statusOf = (id: string) => store.queue.message(id)?.deliveries.map((d) => d.status) ?? [];
const ended = (id: string) => {
  const s = statusOf(id);
  return s.length > 0 && s.every((x) => x !== "queued" && x !== "pending");
};
const messagesWith = (text: string) => store.queue.messages({ limit: 500 }).messages.filter((m) => m.text === text);

describe("pp send --server", () => {
  test("prints the id as a direct send does; the daemon delivers it to the platform", async () => {
    const r = await client(["send", "--ch", "good", "--title", "Deploy", "v1.2 is out"]);
    expect(r.stderr).toContain(`queued by ${url}`);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(r.stdout).toBe(`${id}\n`);
    await until("the delivery", () => ended(id));
    expect(statusOf(id)).toEqual(["delivered"]);
    const m = store.queue.message(id)!;
    expect(m.source).toBe("api");
    expect(m.title).toBe("Deploy");
    expect(good.accepted().some((x) => x.raw.includes("v1.2 is out"))).toBe(true);
    // The request carried a key of its own, so that a retry cannot queue the message twice.
    expect(seen.at(-1)).toMatchObject({ method: "POST", path: "/api/text" });
    expect(seen.at(-1)!.key).toBeTruthy();
  });

  test("--json answers an object with the id; stdin is the text, as for a direct send", async () => {
    const r = await client(["send", "--json"], { stdin: "from stdin\n" });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ status: "queued", server: url });
    expect(store.queue.message(j.id)?.text).toBe("from stdin");
    expect(r.stderr).toBe("");
  });

  test("a wrong token: exit 2, one line saying what to set, the token never shown, nothing queued", async () => {
    const before = store.queue.messages({ limit: 500 }).messages.length;
    const wrong = "wrong-token-5b8e1d0c";
    const r = await client(["send", "hello"], { env: { PP_TOKEN: wrong } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith(`pp: ${url}`);
    expect(r.stderr).toContain("--token or PP_TOKEN");
    expect(r.stderr).not.toContain(wrong);
    const none = await client(["send", "hello"], { env: { PP_TOKEN: "" } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("needs a token");
    expect(store.queue.messages({ limit: 500 }).messages.length).toBe(before);
  });

  test("the daemon's reason for refusing a message is shown, with exit 2", async () => {
    const r = await client(["send", "--ch", "nosuch", "hello"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith(`pp: ${url} refused the message (400: `);
    expect(r.stderr).toContain("nosuch");
  });

  test("a daemon that is down: exit 6, naming the server without its credentials; nothing printed on stdout", async () => {
    const port = await closedPort();
    const r = await client(["send", "--deadline", "10s", "hello"], { env: { PP_SERVER: `http://admin:hunter2pw@127.0.0.1:${port}/?token=qtok99` } });
    expect(r.code).toBe(6);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith(`pp: cannot hand the message to http://127.0.0.1:${port}: connection refused`);
    expect(r.stderr).toContain("nothing was queued");
    for (const secret of ["hunter2pw", "admin", "qtok99", TOKEN]) expect(r.stderr).not.toContain(secret);
  });

  test("a connection dropped after the daemon took the request: the retry gets the same id, nothing is queued twice", async () => {
    const proxy = dropFirstProxy(server.port!);
    try {
      const text = `dropped once ${Date.now()}`;
      const r = await client(["send", "--ch", "good", text], { env: { PP_SERVER: `http://127.0.0.1:${proxy.port}` } });
      expect(r.stderr).toBe(`pp: queued by http://127.0.0.1:${proxy.port}; follow it with: pp log show ${r.stdout.trim()} --server http://127.0.0.1:${proxy.port}\n`);
      expect(r.code).toBe(0);
      expect(proxy.dropped()).toBe(1);
      const found = messagesWith(text);
      expect(found.map((m) => m.id)).toEqual([r.stdout.trim()]);
      // Both tries reached the daemon, with one key: it answered the repeat with the first message's id.
      const tries = seen.filter((x) => x.path === "/api/text").slice(-2);
      expect(tries[0]!.key).toBe(tries[1]!.key);
      await until("the delivery", () => ended(found[0]!.id));
      expect(good.accepted().filter((x) => x.raw.includes(text))).toHaveLength(1);
    } finally {
      proxy.stop();
    }
  });

  test("503 is tried again; 429 is waited out as Retry-After asks, within the deadline", async () => {
    const flaky = answerFirst([
      { status: 503, body: { code: "unavailable", msg: "shutting down", id: "R1" } },
      { status: 429, body: { code: "resource_exhausted", msg: "rate exceeded", id: "R2" }, headers: { "retry-after": "1" } },
    ]);
    try {
      const r = await client(["send", "--ch", "good", "after a restart"], { env: { PP_SERVER: `http://127.0.0.1:${flaky.port}` } });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("is busy (429); waiting 1 s");
      expect(flaky.answered()).toBe(3);
      expect(messagesWith("after a restart").map((m) => m.id)).toEqual([r.stdout.trim()]);
    } finally {
      flaky.stop();
    }
  });

  test("a 429 asking for longer than the deadline: exit 6 at once, nothing queued", async () => {
    const busy = answerFirst([{ status: 429, body: { code: "resource_exhausted", msg: "the queue is full", id: "R3" }, headers: { "retry-after": "3600" } }]);
    try {
      const r = await client(["send", "--deadline", "30s", "later"], { env: { PP_SERVER: `http://127.0.0.1:${busy.port}` } });
      expect(r.code).toBe(6);
      expect(r.stderr).toContain("beyond the deadline; nothing was queued");
      expect(busy.answered()).toBe(1);
    } finally {
      busy.stop();
    }
  });

  test("--dry-run shows the request with the token hidden, and sends nothing", async () => {
    const before = seen.length;
    const r = await client(["send", "--dry-run", "--ch", "good", "hi"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`POST ${url}/api/text`);
    expect(r.stdout).toContain("authorization: Bearer ***");
    expect(r.stdout).not.toContain(TOKEN);
    expect(seen.length).toBe(before);
  });

  test("a daemon on a unix socket", async () => {
    const path = join(dir, "pp.sock");
    const onSocket = Bun.serve({ unix: path, fetch: (req) => app(req) });
    try {
      const r = await client(["send", "--ch", "good", "over a socket"], { env: { PP_SERVER: `unix:${path}` } });
      expect(r.code).toBe(0);
      expect(store.queue.message(r.stdout.trim())?.text).toBe("over a socket");
    } finally {
      onSocket.stop(true);
    }
    const gone = await client(["send", "--deadline", "2s", "hello"], { env: { PP_SERVER: `unix:${path}` } });
    expect(gone.code).toBe(6);
    expect(gone.stderr).toContain(`nothing listens on the socket ${path}`);
  });

  test("--verbose shows the exchange with the daemon, the token hidden", async () => {
    const r = await client(["send", "-v", "--ch", "good", "shown"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`> POST ${url}/api/text`);
    expect(r.stderr).toContain("> authorization: Bearer ***");
    expect(r.stderr).toContain("* HTTP 200");
    expect(r.stderr).not.toContain(TOKEN);
  });

  test("HTTP_PROXY with a NO_PROXY that names other hosts: a loopback daemon is still reached directly, the token never goes to the proxy", async () => {
    const proxy = startProxy();
    try {
      const r = await client(["send", "--ch", "good", "proxied?"], { env: { HTTP_PROXY: proxy.url(), NO_PROXY: "example.com" } });
      expect(r.code).toBe(0);
      expect(proxy.seen).toEqual([]);
    } finally {
      proxy.stop();
    }
  });

  test("--tag on the command line replaces PP_CHANNELS, as for a direct send", async () => {
    const r = await client(["send", "--tag", "web", "tagged through the daemon"], { env: { PP_CHANNELS: "bad" } });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    await until("the delivery", () => ended(id));
    expect(store.queue.message(id)!.deliveries.map((d) => d.channel)).toEqual(["good"]);
  });

  test("--token without a server is a usage error", async () => {
    const r = await pp(["send", "--token", "x", "hi"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("goes with --server");
  });
});

describe("pp log and pp replay --server print what the direct commands print", () => {
  let failedId: string;
  let okId: string;
  /** Failed once, then delivered by a replay: `pp log --failed` lists it only with --all. */
  let healedId: string;
  /** Expired before it could be sent: `pp log --failed` lists it, `pp replay --failed` leaves it. */
  let expiredId: string;

  beforeAll(async () => {
    flaky.fault({ kind: "status", status: 400, body: "bad request" }, 1);
    healedId = (await client(["send", "--ch", "flaky", "failed once"])).stdout.trim();
    okId = (await client(["send", "--ch", "good", "all fine"])).stdout.trim();
    failedId = (await client(["send", "--ch", "good,bad", "half of it"])).stdout.trim();
    await until("the messages to end", () => ended(okId) && ended(failedId) && ended(healedId));
    expect(statusOf(failedId).sort()).toEqual(["delivered", "failed"]);
    expect(statusOf(healedId)).toEqual(["failed"]);
    const replay = (await client(["replay", healedId])).stdout.trim();
    await until("the replay", () => ended(replay));
    expect(statusOf(replay)).toEqual(["delivered"]);
    const late = await fetch(`${url}/api/text`, {
      method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ msg: "too late", channels: ["bad"], expires_at: Date.now() - 1000 }),
    });
    expiredId = ((await late.json()) as { id: string }).id;
    await until("the message to expire", () => ended(expiredId));
    expect(statusOf(expiredId)).toEqual(["expired"]);
  });

  test("pp log show ID, as text and --json", async () => {
    for (const extra of [[], ["--json"]]) {
      const viaServer = await client(["log", "show", failedId, ...extra]);
      const local = await direct(["log", "show", failedId, ...extra]);
      expect(viaServer.code).toBe(0);
      expect(viaServer.stdout).toBe(local.stdout);
      expect(viaServer.stdout).toContain("failed");
    }
  });

  test("pp log show with an unknown id: exit 2", async () => {
    const r = await client(["log", "show", "01NOSUCHMESSAGE0000000000"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith(`pp: no message with id "01NOSUCHMESSAGE0000000000" on ${url}`);
  });

  test("pp log, pp log --ch, pp log --failed, as text and --json", async () => {
    const cases = [
      ["log"], ["log", "--ch", "bad"], ["log", "--failed"], ["log", "--failed", "--all"], ["log", "--failed", "--ch", "flaky", "--all"], ["log", "--failed", "--limit", "1"],
      ["log", "--limit", "3"], ["log", "--since", "1h", "--ch", "good"], ["log", "--stats"], ["log", "--stats", "--ch", "bad", "--since", "1h"],
    ];
    for (const args of cases) {
      for (const extra of [[], ["--json"]]) {
        const viaServer = await client([...args, ...extra]);
        const local = await direct([...args, ...extra]);
        expect(viaServer.code).toBe(0);
        expect(viaServer.stdout).toBe(local.stdout);
      }
    }
    // Narrow enough that ids are shortened to a prefix that names one message.
    const narrow = await client(["log"], { env: { COLUMNS: "80" } });
    expect(narrow.stdout).toBe((await pp(["log", "--config", join(dir, "pp.toml")], { cwd: dir, env: { COLUMNS: "80" } })).stdout);
    expect(narrow.stdout).toContain(` ${failedId.slice(0, 12)} `);
    const failed = (await client(["log", "--failed", "--json"])).stdout;
    expect(failed).toContain(failedId);
    expect(failed).toContain(expiredId);
    expect(failed).not.toContain(healedId);
    expect((await client(["log", "--failed", "--all", "--json"])).stdout).toContain(healedId);
  });

  test("pp replay ID: the daemon queues the replay of what was not delivered; the new id on stdout", async () => {
    const r = await client(["replay", failedId]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(id).not.toBe(failedId);
    const m = store.queue.message(id)!;
    expect(m.replay_of).toBe(failedId);
    expect(m.deliveries.map((d) => d.channel)).toEqual(["bad"]);
    await until("the replay", () => ended(id));
  });

  test("pp replay of a delivered message: nothing to send, exit 0, as directly", async () => {
    const r = await client(["replay", okId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`nothing to send: every delivery of message ${okId} has been delivered`);
  });

  test("pp replay --failed: each failed message replayed once, with a summary; --json as the direct shape", async () => {
    const r = await client(["replay", "--failed", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(["replays", "skipped", "replayed", "delivered", "failed"]);
    expect(j.replays.map((x: { replay_of: string }) => x.replay_of)).toEqual([failedId]);
    await until("the replay", () => ended(j.replays[0].id));
    const text = await client(["replay", "--failed"]);
    expect(text.code).toBe(0);
    expect(text.stderr).toContain(`pp: queued 1 replay on ${url}`);
  });

  test("pp log through a daemon that refuses the token, or that is down", async () => {
    const wrong = await client(["log"], { env: { PP_TOKEN: "not-the-token-42" } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--token or PP_TOKEN");
    const port = await closedPort();
    const down = await client(["log", "--failed"], { env: { PP_SERVER: `http://127.0.0.1:${port}` } });
    expect(down.code).toBe(6);
    expect(down.stderr).toStartWith(`pp: cannot read the push log of http://127.0.0.1:${port}: connection refused`);
    expect(down.stderr).not.toContain("queued");
  });

  test("pp replay with an unknown id: exit 2", async () => {
    const r = await client(["replay", "01NOSUCHMESSAGE0000000000"]);
    expect(r.code).toBe(2);
  });
});

describe("start-up", () => {
  /** The modules of src/cli that one run of pp (from source) loaded. */
  async function loaded(args: string[]): Promise<string[]> {
    const script = join(dir, "loaded.ts");
    writeFileSync(script, `const { main } = await import(${JSON.stringify(join(ROOT, "src/cli/main.ts"))});
await main(process.argv.slice(2));
process.stderr.write("\\nLOADED " + JSON.stringify(Object.keys(require.cache).filter((k) => k.includes("/src/cli/"))));
`);
    const p = Bun.spawn(["bun", script, ...args], { cwd: dir, stdout: "ignore", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: dir, PP_TOKEN: TOKEN } });
    const err = await new Response(p.stderr).text();
    await p.exited;
    return JSON.parse(err.slice(err.lastIndexOf("LOADED ") + 7)).map((k: string) => k.slice(k.lastIndexOf("/") + 1));
  }

  test("a direct send never loads the client module; one through a server does", async () => {
    const direct = await loaded(["send", "--dry-run", "--config", join(dir, "pp.toml"), "--ch", "good", "hi"]);
    expect(direct).toContain("send.ts");
    expect(direct).not.toContain("client.ts");
    expect(await loaded(["send", "--dry-run", "--server", url, "hi"])).toContain("client.ts");
  });
});

describe("the server address", () => {
  test.each([
    ["127.0.0.1:39270", "http://127.0.0.1:39270", "http://127.0.0.1:39270/api/text"],
    ["http://pp.internal", "http://pp.internal:80", "http://pp.internal/api/text"],
    ["https://ops:pw@pp.example.com/pp/?token=abc#x", "https://pp.example.com:443/pp", "https://ops:pw@pp.example.com/pp/api/text"],
    ["http://[::1]:39270/", "http://[::1]:39270", "http://[::1]:39270/api/text"],
    ["unix:/run/pp/pp.sock", "unix:/run/pp/pp.sock", "http://localhost/api/text"],
  ])("%s is shown as %s", (address, shown, api) => {
    const s = serverOf(address, "t0ken");
    expect(s.shown).toBe(shown);
    expect(new URL("api/text", s.base).href).toBe(api);
  });

  test.each([["ftp://host"], ["unix:run/pp.sock"], ["http://"], [" "]])("%p is refused as a usage error", (address) => {
    expect(() => serverOf(address, undefined)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/**
 * A TCP proxy to the daemon that, on its first connection, passes the request on and, once the daemon has
 * answered, closes the client's connection without the answer: the message is queued, the client never hears.
 * Later connections are passed through both ways.
 */
function dropFirstProxy(target: number): { port: number; dropped(): number; stop(): void } {
  let connections = 0;
  let dropped = 0;
  type Side = { upstream?: Socket<unknown>; pending: Uint8Array[]; drop: boolean };
  const listener: TCPSocketListener<Side> = Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        const side: Side = { pending: [], drop: ++connections === 1 };
        client.data = side;
        void Bun.connect({
          hostname: "127.0.0.1",
          port: target,
          socket: {
            open(up) {
              side.upstream = up;
              for (const chunk of side.pending.splice(0)) up.write(chunk);
            },
            data(up, chunk) {
              if (side.drop) {
                dropped++;
                client.terminate();
                up.end();
                return;
              }
              client.write(chunk);
            },
            close() {
              client.end();
            },
          },
        });
      },
      data(client, chunk) {
        const up = client.data.upstream;
        if (up) up.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data.upstream?.end();
      },
    },
  });
  return { port: listener.port, dropped: () => dropped, stop: () => listener.stop(true) };
}

/** Answers its first requests as given, then passes the rest on to the daemon. */
function answerFirst(answers: { status: number; body: unknown; headers?: Record<string, string> }[]) {
  let n = 0;
  const s = Bun.serve({
    port: 0, hostname: "127.0.0.1",
    async fetch(req) {
      const a = answers[n++];
      if (a) return Response.json(a.body, { status: a.status, headers: a.headers });
      const u = new URL(req.url);
      return fetch(`${url}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: await req.arrayBuffer() });
    },
  });
  return { port: s.port!, answered: () => n, stop: () => s.stop(true) };
}
