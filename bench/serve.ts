/**
 * pp serve under load, from the compiled binary; a section of bench/run.ts, or alone:
 *
 *   bun bench/serve.ts [--quick]          # PP_BIN=/path/to/pp measures another build (default dist/pp)
 *
 * 1. Requests per second that POST /api/text accepts (each answer waits for its message's durable commit) under
 *    wrk at 50 connections, next to the same wrk against a minimal Bun.serve hello world compiled the same way,
 *    run alternately on the same machine; the ratio is the figure (target: at least 0.5). Deliveries are held
 *    meanwhile (the channel's platform is unreachable), so the workers stay out of the measurement. A third
 *    server, bench/serve-floor.ts, is the floor for a durable POST on this disk: a group commit with
 *    synchronous = FULL and nothing else.
 * 2. The daemon's resident memory when idle, and with 100 000 messages queued for unreachable platforms.
 * 3. The time to drain those 100 000 messages, after a restart, to a local server that accepts everything,
 *    with rate limits off. Messages are spread over as many channels as there are workers, because pp sends
 *    one delivery per channel at a time (to keep each channel's messages in order).
 *
 * Needs wrk (apt-get install wrk).
 */
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanups, fmtMiB, fmtMs, fmtRatio, ppEnv, runBench, table } from "./lib.ts";

const ROOT = join(import.meta.dir, "..");

export interface ServeSection {
  title: string;
  head: string[];
  rows: string[][];
  notes: string[];
}

export interface ServeBenchOptions {
  bin: string;
  dir: string;
  quick: boolean;
  log: (s: string) => void;
}

interface Wrk {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Compiled with the options scripts/build.ts gives pp, so both servers run the same runtime the same way. */
async function compile(entry: string, outfile: string): Promise<string> {
  const r = await Bun.build({
    entrypoints: [join(ROOT, entry)], minify: true, bytecode: true, format: "esm", splitting: true, sourcemap: "linked",
    compile: { outfile, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!r.success) throw new Error(`cannot compile ${entry}: ${r.logs.map((l) => l.message).join("; ")}`);
  return outfile;
}

/** A port nothing listens on: bound, then released. */
function closedPort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

function rssBytes(pid: number): number {
  const r = Bun.spawnSync(["ps", "-o", "rss=", "-p", String(pid)], { stdout: "pipe", stderr: "ignore" });
  return Number(r.stdout.toString().trim()) * 1024;
}

/** Peak resident memory of a live process (Linux only; NaN elsewhere). */
function peakRssBytes(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** wrk's latency figures ("812.00us", "1.23ms", "2.01s") in milliseconds. */
function wrkMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
}

function runWrk(url: string, seconds: number, script?: string): Wrk {
  const argv = ["wrk", "-t2", "-c50", `-d${seconds}s`, "--latency", ...(script ? ["-s", script] : []), url];
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  if (r.exitCode !== 0) throw new Error(`wrk failed (${r.exitCode}): ${r.stderr.toString().trim() || out}`);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const pct = (p: string) => wrkMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)?.[1] ?? "");
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: pct("50"),
    p99Ms: pct("99"),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
    errors: /Socket errors: (.*)/.exec(out)?.[1] ?? "",
  };
}

/** A long-running child whose first stdout line is its URL (the compiled hello world). */
async function startPrinting(argv: string[], env?: Record<string, string | undefined>): Promise<{ url: string; proc: Bun.Subprocess<"ignore", "pipe", "inherit"> }> {
  const proc = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  cleanups.push(() => proc.kill("SIGKILL"));
  const reader = proc.stdout.getReader();
  let buf = "";
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  try {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${argv[0]} exited before printing its URL`);
      buf += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return { url: buf.split("\n")[0]!.trim(), proc };
}

interface Daemon {
  url: string;
  proc: Bun.Subprocess;
  logFile: string;
  readyMs: number;
  stop(): Promise<void>;
}

/** Starts `pp serve` and waits until GET /healthz answers 200. */
async function startDaemon(bin: string, config: string, logFile: string): Promise<Daemon> {
  const port = closedPort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const proc = Bun.spawn([bin, "serve", "--config", config, "--listen", `127.0.0.1:${port}`], {
    env: ppEnv({ NO_COLOR: "1" }),
    stdin: "ignore",
    stdout: Bun.file(logFile),
    stderr: Bun.file(`${logFile}.err`),
  });
  cleanups.push(() => proc.kill("SIGKILL"));
  const tail = () => {
    for (const f of [`${logFile}.err`, logFile]) {
      const t = existsSync(f) ? readFileSync(f, "utf8").trim() : "";
      if (t) return t.split("\n").slice(-5).join("\n");
    }
    return "(no output)";
  };
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`pp serve exited with ${proc.exitCode}:\n${tail()}`);
    if (performance.now() - started > 20_000) throw new Error(`pp serve did not answer /healthz within 20 s:\n${tail()}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await sleep(20);
  }
  const readyMs = performance.now() - started;
  return {
    url, proc, logFile, readyMs,
    async stop() {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

function config(o: { db: string; token: string; urls: string[]; queueMax: number }): string {
  const lines = [
    "[log]", `path = ${JSON.stringify(o.db)}`,
    "[serve]", `tokens = [${JSON.stringify(o.token)}]`, `channels = ["w0"]`,
    // Neither the per-token request rate nor the queue bound may shape what is measured; run as root there is
    // no "pp" user to drop to.
    `rate = "1000000000/s"`, `queue_max = ${o.queueMax}`, "workers = 16", `user = "root"`,
  ];
  o.urls.forEach((u, i) => lines.push(`[channels.w${i}]`, `type = "webhook"`, `url = ${JSON.stringify(u)}`, `rate = "1000000/s"`));
  return `${lines.join("\n")}\n`;
}

/** The config holds a token: pp warns when others can read it. */
function writeConfig(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** Posts n messages, `concurrency` at a time, spread over the channels; every answer must be 200. */
async function fill(url: string, token: string, n: number, channels: number, concurrency: number, onProgress: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await fetch(`${url}/api/text`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ msg: `queued ${i}`, ch: `w${i % channels}` }),
      });
      const body = await r.text();
      if (r.status !== 200) throw new Error(`POST /api/text answered ${r.status} at message ${i}: ${body.slice(0, 300)}`);
      if (++done % 10_000 === 0) onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Deliveries still to be made, read from the store beside the running daemon (WAL lets both read). */
function openCount(db: string): () => { open: number; delivered: number; total: number } {
  const d = new Database(db, { readonly: true });
  const q = d.query(
    "SELECT count(*) AS total, coalesce(sum(status IN ('queued', 'pending')), 0) AS open, coalesce(sum(status = 'delivered'), 0) AS delivered FROM deliveries",
  );
  cleanups.push(() => d.close());
  return () => q.get() as { open: number; delivered: number; total: number };
}

export async function benchServe(o: ServeBenchOptions): Promise<ServeSection> {
  if (!Bun.which("wrk")) throw new Error("wrk is not installed (apt-get install wrk)");
  const seconds = o.quick ? 3 : 10;
  const rounds = o.quick ? 1 : 2;
  const queued = o.quick ? 20_000 : 100_000;
  const WORKERS = 16;
  const token = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

  o.log("  compiling the hello world and the floor");
  const hello = await startPrinting([await compile("bench/hello.ts", join(o.dir, "hello"))]);
  const floor = await startPrinting([await compile("bench/serve-floor.ts", join(o.dir, "floor"))], { ...process.env, FLOOR_DB: join(o.dir, "floor.db") });

  // 1. Throughput: a store of its own, channels that cannot deliver.
  const dead = closedPort();
  const acceptCfg = join(o.dir, "serve-accept.toml");
  const acceptDb = join(o.dir, "serve-accept.db");
  writeConfig(acceptCfg, config({ db: acceptDb, token, urls: [`http://127.0.0.1:${dead}/hook`], queueMax: 100_000_000 }));
  const accept = await startDaemon(o.bin, acceptCfg, join(o.dir, "serve-accept.log"));
  const lua = join(o.dir, "post.lua");
  writeFileSync(
    lua,
    [
      'wrk.method = "POST"',
      'wrk.headers["Content-Type"] = "application/json"',
      `wrk.headers["Authorization"] = "Bearer ${token}"`,
      "local n = 0",
      "request = function()",
      "  n = n + 1",
      '  return wrk.format(nil, nil, nil, \'{"msg":"disk usage 91% on /var (web-3), check \' .. n .. \'"}\')',
      "end",
      "",
    ].join("\n"),
  );
  const helloRuns: Wrk[] = [];
  const floorRuns: Wrk[] = [];
  const ppRuns: Wrk[] = [];
  for (let r = 0; r < rounds; r++) {
    o.log(`  round ${r + 1}/${rounds}: wrk ${seconds} s against the hello world, the floor, then POST /api/text`);
    helloRuns.push(runWrk(hello.url, seconds));
    floorRuns.push(runWrk(`${floor.url}/api/text`, seconds, lua));
    ppRuns.push(runWrk(`${accept.url}/api/text`, seconds, lua));
  }
  floor.proc.kill("SIGTERM");
  await accept.stop();
  // Every 200 must stand for a stored message.
  const adb = new Database(acceptDb, { readonly: true });
  const stored = (adb.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
  adb.close();
  const answered = ppRuns.reduce((s, w) => s + w.requests - w.non2xx, 0);

  // 2. Memory: idle, then with `queued` messages waiting for platforms that cannot be reached.
  const qDb = join(o.dir, "serve-queue.db");
  const qCfg = join(o.dir, "serve-queue.toml");
  const deadUrls = Array.from({ length: WORKERS }, (_, i) => `http://127.0.0.1:${dead}/hook/${i}`);
  writeConfig(qCfg, config({ db: qDb, token, urls: deadUrls, queueMax: queued * 2 }));
  const held = await startDaemon(o.bin, qCfg, join(o.dir, "serve-queue.log"));
  await sleep(1000);
  const idleRss = rssBytes(held.proc.pid);
  o.log(`  queueing ${queued.toLocaleString("en")} messages for unreachable platforms`);
  const fillStart = performance.now();
  await fill(held.url, token, queued, WORKERS, 64, (d) => o.log(`    ${d.toLocaleString("en")}`));
  const fillMs = performance.now() - fillStart;
  await sleep(1000);
  const queuedRss = rssBytes(held.proc.pid);
  const queuedPeak = peakRssBytes(held.proc.pid);
  const count = openCount(qDb);
  const atRss = count();
  await held.stop();

  // 3. Drain: the same store, the platforms back (the hello world accepts every request), a fresh daemon.
  writeConfig(qCfg, config({ db: qDb, token, urls: deadUrls.map((_, i) => `${hello.url}/hook/${i}`), queueMax: queued * 2 }));
  const before = count();
  o.log(`  draining ${before.open.toLocaleString("en")} queued deliveries`);
  const drainStart = performance.now();
  const drain = await startDaemon(o.bin, qCfg, join(o.dir, "serve-drain.log"));
  let left = before.open;
  for (let polls = 0; left > 0; polls++) {
    await sleep(250);
    left = count().open;
    if (polls % 20 === 19) o.log(`    ${left.toLocaleString("en")} left`);
    if (drain.proc.exitCode !== null) throw new Error(`pp serve exited with ${drain.proc.exitCode} while draining`);
  }
  const drainMs = performance.now() - drainStart;
  const drainPeak = peakRssBytes(drain.proc.pid);
  const drainRss = rssBytes(drain.proc.pid);
  await drain.stop();
  const after = count();

  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const ratios = ppRuns.map((w, i) => w.rps / helloRuns[i]!.rps);
  const ratio = med(ratios);
  const fmtRps = (n: number) => Math.round(n).toLocaleString("en");
  const rows: string[][] = [];
  const row = (name: string, w: Wrk, i: number) =>
    [`${name} (round ${i + 1})`, fmtRps(w.rps), fmtMs(w.p50Ms), fmtMs(w.p99Ms), w.requests.toLocaleString("en"), String(w.non2xx), fmtRatio(w.rps / helloRuns[i]!.rps)];
  ppRuns.forEach((w, i) => {
    rows.push(row("hello world", helloRuns[i]!, i));
    rows.push(row("floor: group commit, FULL", floorRuns[i]!, i));
    rows.push(row("pp serve POST /api/text", w, i));
  });
  const vsFloor = med(ppRuns.map((w, i) => w.rps / floorRuns[i]!.rps));
  const socketErrors = [...helloRuns, ...floorRuns, ...ppRuns].map((w) => w.errors).filter(Boolean);
  const p99 = med(ppRuns.map((w) => w.p99Ms));
  return {
    title: `pp serve: wrk -t2 -c50 -d${seconds}s, ${rounds} round(s) alternating with a compiled Bun.serve hello world`,
    head: ["target", "req/s", "p50", "p99", "requests", "non-2xx", "vs hello"],
    rows,
    notes: [
      `POST /api/text / hello world: ${fmtRatio(ratio)} (median of rounds; target: at least 0.5×) -> ${ratio >= 0.5 ? "met" : "NOT met"}; p99 ${fmtMs(p99)}; POST /api/text / floor: ${fmtRatio(vsFloor)}`,
      `every 200 stored: ${stored.toLocaleString("en")} messages in the store for ${answered.toLocaleString("en")} answers of 200 -> ${stored >= answered ? "yes" : "NO"}`,
      ...(socketErrors.length ? [`wrk socket errors: ${socketErrors.join("; ")}`] : []),
      `start-up to a healthy /healthz: ${fmtMs(accept.readyMs)} (empty store), ${fmtMs(drain.readyMs)} (${before.open.toLocaleString("en")} queued)`,
      `RSS idle: ${fmtMiB(idleRss)}; with ${queued.toLocaleString("en")} messages accepted, ${atRss.open.toLocaleString("en")} of them still queued: ${fmtMiB(queuedRss)} (peak ${fmtMiB(queuedPeak)}); queueing them took ${(fillMs / 1000).toFixed(1)} s from one client, 64 at a time`,
      `drain of ${before.open.toLocaleString("en")} queued deliveries over ${WORKERS} channels to a local server, rate limits off: ${(drainMs / 1000).toFixed(1)} s from start (${fmtRps(before.open / (drainMs / 1000))}/s); ${after.delivered.toLocaleString("en")} delivered; RSS after ${fmtMiB(drainRss)}, peak ${fmtMiB(drainPeak)}`,
    ],
  };
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv.some((a) => a !== "--quick")) {
    console.error("usage: bun bench/serve.ts [--quick]");
    process.exit(2);
  }
  const bin = process.env.PP_BIN || join(ROOT, "dist", "pp");
  await runBench(async () => {
    if (!existsSync(bin)) throw new Error(`no binary at ${bin}: run bun run build, or set PP_BIN`);
    const dir = mkdtempSync(join(tmpdir(), "pp-bench-serve-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const s = await benchServe({ bin, dir, quick: argv.includes("--quick"), log: (l) => process.stderr.write(`${l}\n`) });
    console.log(["", `## ${s.title}`, "", table(s.head, s.rows), "", ...s.notes].join("\n"));
  });
}
