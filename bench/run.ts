/**
 * Benchmarks of the compiled binary (dist/pp), printed as figures; nothing here passes or fails a build.
 *
 *   bun bench/run.ts            # 30 rounds after 3 warm-ups
 *   bun bench/run.ts --quick    # fewer rounds, for a quick look
 *   bun bench/run.ts --runs 50  # more rounds for the start-up part
 *   bun bench/run.ts --build    # rebuild dist/pp first
 *
 * 1. Start-up and one send: `pp --version`, `pp send --dry-run`, `pp send` to a local WeCom fake (push log
 *    write included) and `curl` posting the same payload to the same fake, run round-robin so that a busy
 *    machine slows all of them alike; the figure to watch is the pp send / curl ratio.
 * 2. `pp log` over a push log of a million deliveries, with the query plan behind `pp log --failed`.
 * 3. Binary sizes.
 * 4. Rendering and splitting a 1 MiB message for every channel type, both formats, on adversarial inputs
 *    (in this process, from the sources; bun bench/render.ts runs this part alone).
 * 5. pp serve: requests per second accepted by POST /api/text under wrk next to a compiled hello world, p99
 *    latency, memory idle and with 100 000 messages queued, and the time to drain them (bench/serve.ts; needs wrk).
 *
 * Where pp's start-up time goes, import by import: bun bench/startup.ts.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { openDb } from "../src/store/db.ts";
import { PushLog } from "../src/store/pushlog.ts";
import {
  benchConfig, cleanups, type Cmd, canEvict, fmtMiB, fmtMs, fmtRatio, pairedRatio, ppEnv, quantile, roundRobin, rssMethod, runBench, runOnce, startFake, type Summary, table,
} from "./lib.ts";
import { ensurePushlog } from "./pushlog.ts";
import { benchRender } from "./render.ts";
import { benchServe } from "./serve.ts";
import { unzipList } from "../scripts/lib/zip.ts";

const ROOT = join(import.meta.dir, "..");
// $PP_BIN measures another build (as the end-to-end tests take it).
const BIN = process.env.PP_BIN || join(ROOT, "dist", process.platform === "win32" ? "pp.exe" : "pp");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const runsArg = argv.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : QUICK ? 10 : 30;
const WARMUP = QUICK ? 1 : 3;
const LOG_RUNS = QUICK ? 5 : 15;
const LOG_WARMUP = QUICK ? 1 : 2;
/** Extra rounds under GNU time for peak RSS (it barely varies, and time's own fork would skew wall times). */
const RSS_RUNS = QUICK ? 2 : 5;
const LOG_MESSAGES = 500_000;
const TEXT = "disk usage 91% on /var (web-3)";

if (!Number.isInteger(RUNS) || RUNS < 1 || argv.some((a) => a.startsWith("-") && !["--quick", "--runs", "--build"].includes(a))) {
  console.error("usage: bun bench/run.ts [--quick] [--runs N] [--build]");
  process.exit(2);
}

const log = (s = "") => process.stderr.write(`${s}\n`);

function ensureBinary(): void {
  if (argv.includes("--build") || !existsSync(BIN)) {
    log("building dist/pp ...");
    // The build's own output goes to stderr with the progress lines; stdout carries only the report.
    const b = Bun.spawnSync(["bun", "scripts/build.ts"], { cwd: ROOT, stdout: "pipe", stderr: "inherit" });
    log(b.stdout.toString().trimEnd());
    if (b.exitCode !== 0) throw new Error("bun run build failed");
    return;
  }
  const built = statSync(BIN).mtimeMs;
  const newer = [...new Bun.Glob("src/**/*.ts").scanSync(ROOT), "package.json", "bun.lock"].filter(
    (f) => existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).mtimeMs > built,
  );
  if (newer.length) {
    stale = `note: dist/pp is older than ${newer.slice(0, 3).join(", ")}${newer.length > 3 ? ", ..." : ""}; pass --build to measure the current sources`;
    log(stale);
  }
}
let stale = "";

const progress = (total: number) => (r: number) => process.stderr.write(`\r  round ${r + 1}/${total}${r + 1 === total ? "\n" : ""}`);

// ---------------------------------------------------------------------------------------------------------------

interface Section {
  title: string;
  head: string[];
  rows: string[][];
  notes: string[];
}
const sections: Section[] = [];

async function benchSend(dir: string, config: string): Promise<void> {
  const url = await startFake(cleanups);
  const dbPath = join(dir, "pp.db");
  writeFileSync(config, benchConfig(url, dbPath));
  const env = ppEnv({ PP_CONFIG: config });

  // curl posts exactly the body pp would send, taken from pp's own dry run.
  const dry = runOnce({ name: "dry-run --json", argv: [BIN, "send", "--dry-run", "--json", "--ch", "w", TEXT], env });
  const body = JSON.parse(dry.stdout)[0].requests[0].body as string;

  // The two yardsticks, compiled as pp is: an empty program, and the floor (fetch + two SQLite writes).
  const empty = await compileProbe("bench/empty.ts", join(dir, "empty"));
  const floor = await compileProbe("bench/floor.ts", join(dir, "floor"));
  const cmds: Cmd[] = [
    { name: "pp --version", argv: [BIN, "--version"], env },
    { name: "pp --help", argv: [BIN, "--help"], env },
    { name: "pp channels --names", argv: [BIN, "channels", "--names"], env },
    { name: "pp log", argv: [BIN, "log"], env },
    { name: "pp send --dry-run", argv: [BIN, "send", "--dry-run", "--ch", "w", TEXT], env },
    { name: "pp send", argv: [BIN, "send", "--ch", "w", TEXT], env },
    { name: "empty compiled Bun program", argv: [empty] },
    { name: "floor: fetch + 2 SQLite writes", argv: [floor, url, body], env: { FLOOR_DB: join(dir, "floor.db") } },
    { name: "curl -X POST (same payload)", argv: ["curl", "-sS", "--fail", "-X", "POST", "-H", "Content-Type: application/json", "-d", body, url] },
  ];
  // Memory twice: with the binaries' pages as the build wrote them, then read back from disk (lib.ts evict).
  const readBack = canEvict();
  const rssRounds = RSS_RUNS * (readBack ? 2 : 1);
  log(`1/5 start-up and one send: ${RUNS} rounds of ${cmds.length} commands after ${WARMUP} warm-up round(s), then ${rssRounds} for memory`);
  const res = roundRobin(cmds, RUNS, WARMUP, RSS_RUNS, progress(RUNS + rssRounds), readBack ? [BIN, empty, floor] : []);

  // Every `pp send` must have been delivered, or the figures describe a failure path.
  const db = openDb(dbPath);
  const c = db.query("SELECT count(*) AS n, sum(status = 'delivered') AS ok FROM deliveries").get() as { n: number; ok: number };
  db.close();
  const expected = RUNS + WARMUP + rssRounds;
  if (c.n !== expected || c.ok !== expected) throw new Error(`pp send: expected ${expected} delivered, the push log has ${c.ok} of ${c.n}`);

  const [version, help, names, logCmd, dryRun, send, emptyRun, floorRun, curl] = res as Summary[] as [Summary, Summary, Summary, Summary, Summary, Summary, Summary, Summary, Summary];
  const ratio = pairedRatio(send, curl);
  const target = (s: Summary, max: number) => `${fmtRatio(pairedRatio(s, emptyRun))} (target: at most ${max}×) -> ${pairedRatio(s, emptyRun) <= max ? "met" : "NOT met"}`;
  sections.push({
    title: `Start-up and one send (${RUNS} round-robin rounds, ${WARMUP} warm-up; ratios are medians of per-round ratios)`,
    head: ["command", "median", "p90", "min", "peak RSS (median)", "peak RSS, read from disk", "vs curl", "vs empty program"],
    rows: res.map((s) => [
      s.name, fmtMs(s.medianMs), fmtMs(s.p90Ms), fmtMs(s.minMs), fmtMiB(s.medianRssBytes), fmtMiB(s.readBackRssBytes), fmtRatio(pairedRatio(s, curl)), fmtRatio(pairedRatio(s, emptyRun)),
    ]),
    notes: [
      `pp send / curl: ${fmtRatio(ratio)} median of per-round ratios (target: at most 1.7×) -> ${ratio <= 1.7 ? "met" : "NOT met"}; the floor: ${fmtRatio(pairedRatio(floorRun, curl))}`,
      `pp send peak RSS (target: at most 28 MiB): ${fmtMiB(send.medianRssBytes)} with the binary as the build wrote it -> ${send.medianRssBytes <= 28 * 1048576 ? "met" : "NOT met"}; ` +
        (readBack ? `${fmtMiB(send.readBackRssBytes)} with its pages read back from disk -> ${send.readBackRssBytes <= 28 * 1048576 ? "met" : "NOT met"}` : "not measured read back from disk (no GNU dd)"),
      "(a file just written stays in the page cache in large folios, and each is mapped whole into a process that touches any page of it: RSS then counts pages the process never used)",
      `pp --help / empty program: ${target(help, 1.2)}; pp channels --names: ${target(names, 1.2)}; pp log: ${target(logCmd, 1.5)}`,
      `send cost beyond the dry run (push log + HTTP round trip): ${fmtMs(send.medianMs - dryRun.medianMs)}; dry run beyond --version (imports, config): ${fmtMs(dryRun.medianMs - version.medianMs)}`,
      `${c.ok} of ${c.n} sends delivered and logged`,
    ],
  });
}

/** Compiles a yardstick program with the options scripts/build.ts gives pp, so both start alike. */
async function compileProbe(entry: string, outfile: string): Promise<string> {
  const r = await Bun.build({
    entrypoints: [join(ROOT, entry)], minify: true, bytecode: true, format: "esm", splitting: true, sourcemap: "linked",
    compile: { outfile, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!r.success) throw new Error(`cannot compile ${entry}: ${r.logs.map((l) => l.message).join("; ")}`);
  return outfile;
}

/** Records the statements PushLog prepares, so the plan shown is that of the query pp really runs. */
function capture(db: Database, run: (log: PushLog) => unknown): { sql: string; params: unknown[] }[] {
  const seen: { sql: string; params: unknown[] }[] = [];
  const statement = (sql: string, prepared: boolean) => {
    const st = prepared ? db.prepare(sql) : db.query(sql);
    const wrap = (fn: "all" | "get" | "values" | "run" | "iterate") => (...params: unknown[]) => {
      seen.push({ sql, params });
      return (st[fn] as (...p: unknown[]) => unknown).apply(st, params);
    };
    return { all: wrap("all"), get: wrap("get"), values: wrap("values"), run: wrap("run"), iterate: wrap("iterate"), finalize: () => st.finalize() };
  };
  const spy = { query: (sql: string) => statement(sql, false), prepare: (sql: string) => statement(sql, true) };
  run(new PushLog(spy as unknown as Database));
  return seen;
}

function plan(db: Database, sql: string, params: unknown[]): string[] {
  const rows = db.query(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as never[])) as { id: number; parent: number; detail: string }[];
  const depth = new Map<number, number>([[0, 0]]);
  return rows.map((r) => {
    const d = (depth.get(r.parent) ?? 0) + 1;
    depth.set(r.id, d);
    return `${"  ".repeat(d)}${r.detail}`;
  });
}

function timeInProcess(fn: () => unknown, runs: number): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  return quantile(t.sort((a, b) => a - b), 0.5);
}

function benchLog(dir: string, config: string): void {
  log(`2/5 pp log over ${LOG_MESSAGES * 2} deliveries`);
  const g = ensurePushlog(LOG_MESSAGES);
  log(`  ${g.cached ? "cached" : `generated in ${(g.ms / 1000).toFixed(1)} s`}: ${g.path}`);
  // Windows are anchored to the newest row, not to now, so a cached log gives the same figures next week.
  const iso = (ms: number) => new Date(ms).toISOString();
  const since1h = g.newest - 3_600_000;
  const since7d = g.newest - 7 * 86_400_000;

  const db = openDb(g.path);
  const queries: { label: string; run: (l: PushLog) => unknown }[] = [
    { label: "log --failed", run: (l) => l.list({ failed: true, limit: 20 }) },
    { label: "log --failed --ch ops", run: (l) => l.list({ failed: true, channel: "ops", limit: 20 }) },
    { label: "log --since 1h", run: (l) => l.list({ since: since1h, limit: 20 }) },
    { label: "log --stats --since 7d", run: (l) => l.stats(since7d) },
  ];
  const plans: string[] = [];
  const inProcess = new Map<string, number>();
  for (const q of queries) {
    const seen = capture(db, q.run);
    for (const [i, s] of seen.slice(0, 2).entries()) {
      plans.push(`${q.label}${seen.length > 1 ? ` (statement ${i + 1} of ${seen.length})` : ""}:`, ...plan(db, s.sql, s.params));
    }
    const log = new PushLog(db);
    inProcess.set(q.label, timeInProcess(() => q.run(log), q.label.includes("stats") ? 5 : 200));
  }
  db.close();

  const emptyDb = join(dir, "empty.db");
  openDb(emptyDb).close();
  // $PP_DB wins over the config's [log] path; the config is still read, as it is for a user who has one.
  const env = ppEnv({ PP_DB: g.path, PP_CONFIG: config });
  const cmds: Cmd[] = [
    { name: "pp log --failed (empty log)", argv: [BIN, "log", "--failed"], env: { ...env, PP_DB: emptyDb } },
    { name: "pp log --failed", argv: [BIN, "log", "--failed"], env },
    // Same rows without the table, to separate rendering (local time zone set-up, colours) from the query.
    { name: "pp log --failed --json", argv: [BIN, "log", "--failed", "--json"], env },
    { name: "pp log --failed --ch ops", argv: [BIN, "log", "--failed", "--ch", "ops"], env },
    { name: "pp log --since 1h", argv: [BIN, "log", "--since", iso(since1h)], env },
    { name: "pp log --stats --since 7d", argv: [BIN, "log", "--stats", "--since", iso(since7d)], env },
  ];
  // Fail early, with pp's own message, if this pp cannot read the log at all.
  const probe = runOnce(cmds[1]!);
  if (!/failed/.test(probe.stdout)) throw new Error(`pp log --failed printed no failed rows:\n${probe.stdout}${probe.stderr}`);
  const res = roundRobin(cmds, LOG_RUNS, LOG_WARMUP, RSS_RUNS, progress(LOG_RUNS + RSS_RUNS));
  const base = res[0]!;
  const failed = res[1]!;
  const inProc = (name: string) => inProcess.get(name.replace(/^pp /, "").replace(" --json", "")) ?? NaN;
  sections.push({
    title: `pp log over ${g.deliveries.toLocaleString("en")} deliveries, ${g.failed.toLocaleString("en")} failed (${LOG_RUNS} rounds, ${LOG_WARMUP} warm-up)`,
    head: ["command", "median", "p90", "peak RSS (median)", "beyond empty log", "query alone"],
    rows: res.map((s, i) => [
      s.name, fmtMs(s.medianMs), fmtMs(s.p90Ms), fmtMiB(s.medianRssBytes), i === 0 ? "-" : fmtMs(s.medianMs - base.medianMs), i === 0 ? "-" : fmtMs(inProc(s.name)),
    ]),
    notes: [
      `pp log --failed: ${fmtMs(failed.medianMs)} (target: under 100 ms) -> ${failed.medianMs < 100 ? "met" : "NOT met"}`,
      `--since windows end at the newest row (${iso(g.newest)}), so a cached log gives the same figures on later days`,
      `"query alone" is the PushLog call in this process, without pp's start-up`,
      "",
      "EXPLAIN QUERY PLAN:",
      ...plans.map((p) => `  ${p}`),
    ],
  });
}

/** The size of the pp binary inside an archive, read from its listing without unpacking. */
function binaryInside(archive: string): number | undefined {
  if (archive.endsWith(".zip")) return unzipList(archive).find((e) => /\/pp(\.exe)?$/.test(e.name))?.size;
  const r = Bun.spawnSync(["tar", "-tvzf", archive], { stdout: "pipe", stderr: "ignore" });
  const line = r.stdout.toString().split("\n").find((l) => / \S+\/pp$/.test(l));
  return line ? Number(line.trim().split(/\s+/)[2]) : undefined;
}

function benchSizes(): void {
  const rows: string[][] = [];
  const notes: string[] = [];
  const size = (n: number | undefined) => (n === undefined ? ["-", "-"] : [n.toLocaleString("en"), fmtMiB(n)]);
  if (existsSync(BIN)) rows.push([relative(ROOT, BIN), ...size(statSync(BIN).size), "-", "-"]);
  const rel = join(ROOT, "dist", "release");
  const archives = existsSync(rel) ? readdirSync(rel).filter((f) => /\.(tar\.gz|zip)$/.test(f)).sort() : [];
  for (const f of archives) rows.push([f, ...size(binaryInside(join(rel, f))), ...size(statSync(join(rel, f)).size)]);
  if (!archives.length) notes.push("note: no release archives in dist/release/ (run `bun run release`); only dist/pp is listed");
  sections.push({ title: "Binary sizes", head: ["binary", "bytes", "size", "archive bytes", "archive size"], rows, notes });
}

function benchRendering(): void {
  const size = QUICK ? 262_144 : 1_048_576;
  log(`4/5 rendering ${size.toLocaleString("en")}-character inputs for every channel type`);
  const f = benchRender(size, undefined, (label) => log(`  ${label}`));
  sections.push({
    title: `Rendering and splitting one ${size.toLocaleString("en")}-character message (plan(), lexing included)`,
    head: f.head,
    rows: f.rows,
    notes: [`worst: ${fmtMs(f.worst.ms)} (${f.worst.where}) (target: well under 1000 ms) -> ${f.worst.ms < 1000 ? "met" : "NOT met"}`],
  });
}

async function main(): Promise<void> {
  ensureBinary();
  const dir = mkdtempSync(join(tmpdir(), "pp-bench-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const rev = runOnce({ name: "pp --version", argv: [BIN, "--version"] }).stdout.trim();
  log(`${rev}; bun ${Bun.version}; ${navigator.hardwareConcurrency} cores${QUICK ? "; --quick" : ""}`);
  const config = join(dir, "pp.toml");
  await benchSend(dir, config);
  benchLog(dir, config);
  log("3/5 binary sizes");
  benchSizes();
  benchRendering();
  log("5/5 pp serve under wrk, memory, and draining a queue");
  sections.push(await benchServe({ bin: BIN, dir, quick: QUICK, log }));

  const out: string[] = ["", `pp benchmark: ${rev}, bun ${Bun.version}, ${navigator.hardwareConcurrency} cores, ${new Date().toISOString()}${QUICK ? " (--quick)" : ""}`];
  if (stale) out.push(stale);
  for (const s of sections) {
    out.push("", `## ${s.title}`, "", table(s.head, s.rows));
    if (s.notes.length) out.push("", ...s.notes);
  }
  out.push("", `Peak RSS: median of ${RSS_RUNS} extra rounds, measured with ${rssMethod}.`);
  console.log(out.join("\n"));
}

await runBench(main);
