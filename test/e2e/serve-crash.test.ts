/**
 * `kill -9` of the compiled `pp serve`: nothing answered 200 is lost, and what is sent twice is at most what
 * was in flight, each marked possible_duplicate in the push log. Platforms are Bun.serve sinks in this process
 * that count every message by a unique marker in its text.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, needBinary, pp } from "./_run.ts";
import { q, tempDir } from "../helpers.ts";

needBinary();

const TOKEN = "crash-test-token-0123456789";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A port nothing listens on (bound, then released), so a channel there is unreachable until a sink takes it. */
function freePort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

interface Sink {
  /** Arrivals per marker: a request counts once its whole body was read. */
  arrivals: Map<string, number>;
  /** Markers whose request has arrived and is not yet answered. */
  inflight: Set<string>;
  total(): number;
  stop(): void;
}

/** A platform that accepts every webhook post after `delayMs`; `onArrival` runs as each request arrives. */
function startSink(port: number, o: { delayMs?: number; onArrival?: (sink: Sink) => void } = {}): Sink {
  const arrivals = new Map<string, number>();
  const inflight = new Set<string>();
  let total = 0;
  const sink: Sink = { arrivals, inflight, total: () => total, stop: () => void server.stop(true) };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(req) {
      const body = await req.text();
      const marker = /mk-\d+-[a-z0-9]+/.exec(body)?.[0];
      if (!marker) return new Response("no marker", { status: 400 });
      arrivals.set(marker, (arrivals.get(marker) ?? 0) + 1);
      total++;
      inflight.add(marker);
      o.onArrival?.(sink);
      if (o.delayMs) await sleep(o.delayMs);
      inflight.delete(marker);
      return Response.json({ ok: true });
    },
  });
  return sink;
}

interface Daemon {
  proc: Bun.Subprocess;
  url: string;
}

const running: Daemon[] = [];
const sinks: Sink[] = [];
afterEach(() => {
  for (const d of running.splice(0)) d.proc.kill("SIGKILL");
  for (const s of sinks.splice(0)) s.stop();
});

let started = 0;

async function startDaemon(dir: string, config: string): Promise<Daemon> {
  const port = freePort();
  // Its log goes to a file: a pipe nobody reads would fill up and stall the daemon.
  const log = join(dir, `serve-${++started}.log`);
  const proc = Bun.spawn([BIN, "serve", "--config", config, "--listen", `127.0.0.1:${port}`], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1" },
    stdin: "ignore",
    stdout: Bun.file(log),
    stderr: Bun.file(`${log}.err`),
  });
  const d = { proc, url: `http://127.0.0.1:${port}` };
  running.push(d);
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`pp serve exited with ${proc.exitCode}: ${readFileSync(`${log}.err`, "utf8")}`);
    if (await fetch(`${d.url}/healthz`).then((r) => r.status === 200, () => false)) return d;
    if (i > 1000) throw new Error("pp serve did not answer /healthz");
    await sleep(20);
  }
}

async function kill9(d: Daemon): Promise<void> {
  d.proc.kill("SIGKILL");
  await d.proc.exited;
  expect(d.proc.signalCode).toBe("SIGKILL");
}

/** POSTs one message; the message id when it was answered 200, else null (the daemon died first). */
async function post(d: Daemon, text: string, ch: string): Promise<string | null> {
  try {
    const r = await fetch(`${d.url}/api/text`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ msg: text, ch }),
    });
    const body = (await r.json()) as { code: string; id: string };
    if (r.status !== 200) throw new Error(`POST /api/text answered ${r.status}: ${JSON.stringify(body)}`);
    return body.id;
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("POST /api/text answered")) throw e;
    return null;
  }
}

/** user = "root": when the tests run as root there is no "pp" user to drop to, and keeping root changes nothing here. */
function writeConfig(dir: string, o: { sinkPort: number; channels: number; workers: number }): string {
  const lines = ["[log]", `path = ${q(join(dir, "pp.db"))}`, "[serve]", `tokens = [${q(TOKEN)}]`, `workers = ${o.workers}`, `channels = ["c0"]`, `grace = "1s"`, `user = "root"`];
  for (let i = 0; i < o.channels; i++) {
    // Retries enough to outlast the time the platform is down; no rate limit to wait for.
    lines.push(`[channels.c${i}]`, `type = "webhook"`, `url = ${q(`http://127.0.0.1:${o.sinkPort}/hook/${i}`)}`, `rate = "100000/s"`, "retries = 20");
  }
  const file = join(dir, "pp.toml");
  writeFileSync(file, `${lines.join("\n")}\n`);
  chmodSync(file, 0o600);
  return file;
}

interface Row {
  id: string;
  status: string;
  text: string;
  possible_duplicate: boolean;
}

/** Every delivery in the push log, read with `pp log --json` beside the running daemon. */
async function logRows(dir: string, config: string): Promise<Row[]> {
  const r = await pp(["log", "--json", "--limit", "10000", "--config", config], { cwd: dir });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Row[];
}

/** Waits until `done` holds, checking every 100 ms; gives up (and the test then fails on its assertions) after 45 s. */
async function until(done: () => boolean | Promise<boolean>): Promise<void> {
  const giveUp = Date.now() + 45_000;
  while (!(await done()) && Date.now() < giveUp) await sleep(100);
}

const marker = (i: number, run: string) => `mk-${i}-${run}`;

describe("pp serve survives kill -9", () => {
  test("messages accepted while the platform was down all arrive exactly once after a restart", async () => {
    const dir = tempDir();
    const N = 200;
    const run = Math.random().toString(36).slice(2, 10);
    const sinkPort = freePort();
    const config = writeConfig(dir, { sinkPort, channels: 1, workers: 4 });

    const first = await startDaemon(dir, config);
    const ids: (string | null)[] = [];
    for (let i = 0; i < N; i += 20) {
      ids.push(...(await Promise.all(Array.from({ length: 20 }, (_, k) => post(first, `check ${marker(i + k, run)}`, "c0")))));
    }
    expect(ids.filter((id) => id === null)).toEqual([]);
    await kill9(first);

    const sink = startSink(sinkPort);
    sinks.push(sink);
    const second = await startDaemon(dir, config);
    await until(() => sink.arrivals.size >= N);
    // Nothing is left to send once every delivery has ended; only then is "exactly once" final.
    let rows: Row[] = [];
    await until(async () => {
      rows = await logRows(dir, config);
      return rows.length >= N && rows.every((r) => r.status !== "queued" && r.status !== "pending");
    });
    await kill9(second);

    expect(rows.filter((r) => r.status !== "delivered")).toEqual([]);
    expect(rows).toHaveLength(N);
    const missing = Array.from({ length: N }, (_, i) => marker(i, run)).filter((m) => !sink.arrivals.has(m));
    expect(missing).toEqual([]);
    const twice = [...sink.arrivals].filter(([, n]) => n !== 1);
    expect(twice).toEqual([]);
    expect(sink.arrivals.size).toBe(N);
  }, 60_000);

  test("killed while deliveries succeed: every 200 arrives, at most `workers` twice, each of those marked", async () => {
    const dir = tempDir();
    const WORKERS = 4;
    const CHANNELS = 8;
    const MAX = 600;
    const run = Math.random().toString(36).slice(2, 10);
    const sinkPort = freePort();
    const config = writeConfig(dir, { sinkPort, channels: CHANNELS, workers: WORKERS });

    let first: Daemon | undefined;
    let killedWith: string[] | undefined;
    let armedAt = Infinity;
    // The kill lands when every worker has a request at the platform (or, on a box too busy for that, at the
    // first arrival a while after arming): those requests reached the platform and their answers never will reach pp.
    const sink = startSink(sinkPort, {
      delayMs: 15,
      onArrival: (s) => {
        if (killedWith || !first || s.total() < 100) return;
        armedAt = Math.min(armedAt, Date.now());
        if (s.inflight.size >= WORKERS || Date.now() - armedAt > 5_000) {
          killedWith = [...s.inflight];
          first.proc.kill("SIGKILL");
        }
      },
    });
    sinks.push(sink);
    first = await startDaemon(dir, config);

    // Clients keep posting, paced near the delivery rate, until the daemon dies.
    const answered = new Map<string, string>();
    let next = 0;
    const client = async () => {
      while (next < MAX && !killedWith) {
        const i = next++;
        const id = await post(first!, `deploy ${marker(i, run)}`, `c${i % CHANNELS}`);
        if (id === null) break;
        answered.set(marker(i, run), id);
        await sleep(8);
      }
    };
    await Promise.all(Array.from({ length: 4 }, client));
    await until(() => killedWith !== undefined);
    expect(killedWith).toBeDefined();
    await first.proc.exited;
    expect(first.proc.signalCode).toBe("SIGKILL");
    expect(killedWith!.length).toBeGreaterThan(0);
    expect(answered.size).toBeGreaterThan(50);

    const second = await startDaemon(dir, config);
    let rows: Row[] = [];
    await until(async () => {
      if ([...answered.keys()].some((m) => !sink.arrivals.has(m))) return false;
      rows = await logRows(dir, config);
      return rows.every((r) => r.status !== "queued" && r.status !== "pending");
    });
    await kill9(second);

    // Every message answered 200 arrived.
    expect([...answered.keys()].filter((m) => !sink.arrivals.has(m))).toEqual([]);
    // Nothing arrived more than twice, and only what could have been in flight arrived twice.
    const counts = [...sink.arrivals];
    expect(counts.filter(([, n]) => n > 2)).toEqual([]);
    const twice = counts.filter(([, n]) => n === 2).map(([m]) => m).sort();
    expect(twice.length).toBeLessThanOrEqual(WORKERS);
    // What the platform held when pp died had no recorded answer: it is sent again.
    expect(twice).toEqual(expect.arrayContaining(killedWith!));

    // Each duplicate is marked in the push log; every delivery ended delivered.
    const byMarker = new Map(rows.map((r) => [/mk-\d+-[a-z0-9]+/.exec(r.text)?.[0] ?? "", r]));
    for (const m of twice) {
      expect(byMarker.get(m)?.possible_duplicate, `${m} arrived twice`).toBe(true);
    }
    expect(rows.filter((r) => r.possible_duplicate).length).toBeLessThanOrEqual(WORKERS);
    expect(rows.filter((r) => r.status !== "delivered")).toEqual([]);
    // The push log's ids are the ones the API answered.
    for (const [m, id] of answered) expect(byMarker.get(m)?.id).toBe(id);
  }, 60_000);
});
