/**
 * Where the start-up time of `pp send` goes, measured in compiled binaries built into a temp dir with the
 * options scripts/build.ts uses (minify, ESM bytecode, splitting, embedded source map):
 *
 * 1. Probes: tiny programs that each load one library or touch one runtime feature, timed against an empty
 *    program; the difference is what that import or call costs on its own.
 * 2. Variants of pp itself with one change each (a library swapped for a cheaper stand-in), timed against pp
 *    built as is, sending one message to a local WeCom fake; the difference is what that change would save.
 *
 *   bun bench/startup.ts [--quick]
 *
 * Everything built here goes to the temp dir and is removed at the end.
 */
import type { BunPlugin } from "bun";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../src/store/db.ts";
import { benchConfig, cleanups, type Cmd, fmtMs, pairedRatio, ppEnv, quantile, roundRobin, runBench, runOnce, startFake, type Summary, table } from "./lib.ts";

const ROOT = join(import.meta.dir, "..");
const ENTRY = join(ROOT, "src/cli/entry.ts");
const QUICK = process.argv.includes("--quick");
const RUNS = QUICK ? 8 : 25;
const WARMUP = QUICK ? 1 : 3;
const TEXT = "disk usage 91% on /var (web-3)";

const log = (s = "") => process.stderr.write(`${s}\n`);

/** Same options as scripts/build.ts, so a probe starts the way pp does. */
async function compile(entry: string, outfile: string, plugins: BunPlugin[] = []): Promise<void> {
  const r = await Bun.build({
    entrypoints: [entry],
    minify: true,
    bytecode: true,
    format: "esm",
    splitting: true,
    sourcemap: "linked",
    define: { PP_VERSION: '"0.0.0-bench"', PP_COMMIT: '"bench"' },
    plugins,
    compile: { outfile, autoloadDotenv: false, autoloadBunfig: false },
  });
  const errors = r.logs.filter((l) => l.level === "error");
  if (!r.success || errors.length) throw new Error(`build of ${entry} failed: ${errors.map((e) => e.message).join("; ")}`);
}

/** One probe per line; each must do its thing without printing, unless printing is what it measures. */
function probes(): Record<string, string> {
  const src = (p: string) => JSON.stringify(join(ROOT, "src", p));
  return {
    "empty program": "export {};",
    "console.log": `console.log("x");`,
    "console.error": `console.error("x");`,
    "process.stdout.write": `process.stdout.write("x\\n");`,
    "process.stderr.write": `process.stderr.write("x\\n");`,
    "process.stdout.isTTY": `if (process.stdout.isTTY) console.log("tty");`,
    // pp loads node:fs anyway (config, push log); after it, the streams cost far less than on their own.
    "node:fs mkdirSync": `import { mkdirSync } from "node:fs"; mkdirSync(process.env.PROBE_DIR!, { recursive: true });`,
    "node:fs mkdirSync, then process.stdout.write": `import { mkdirSync } from "node:fs"; mkdirSync(process.env.PROBE_DIR!, { recursive: true }); process.stdout.write("x\\n");`,
    "fstatSync(1).isCharacterDevice()": `import { fstatSync } from "node:fs"; if (fstatSync(1).isCharacterDevice()) console.log("tty");`,
    "picocolors": `import pc from "picocolors"; if (pc.green("x") === "") console.log("never");`,
    "consola (pp config only)": `import { consola } from "consola"; if (!consola.level) console.log("never");`,
    "citty: parse one flag": `import { defineCommand, runCommand } from "citty"; await runCommand(defineCommand({ args: { ch: { type: "string" } }, run() {} }), { rawArgs: ["--ch", "w"] });`,
    "valibot: one object schema": `import * as v from "valibot"; v.parse(v.object({ a: v.string() }), { a: "x" });`,
    "smol-toml: parse a line": `import { parse } from "smol-toml"; if (parse('a = "b"').a !== "b") console.log("never");`,
    "marked: import Lexer": `import { Lexer } from "marked"; if (!Lexer.lex) console.log("never");`,
    "new Date().getHours() (time zone)": `if (new Date().getHours() < 0) console.log("never");`,
    "crypto.getRandomValues": `if (crypto.getRandomValues(new Uint8Array(16)).length !== 16) console.log("never");`,
    "fetch POST to the fake": `await (await fetch(process.env.PROBE_URL!, { method: "POST", headers: { "Content-Type": "application/json" }, body: process.env.PROBE_BODY })).text();`,
    "src/store openStore + close": `import { openStore } from ${src("store/index.ts")}; openStore(process.env.PROBE_DB!).close();`,
    // The writes one delivered `pp send` makes: a rate slot, the message, its delivery, one attempt, the outcome.
    "src/store openStore + one send's writes": [
      `import { openStore } from ${src("store/index.ts")};`,
      `const s = openStore(process.env.PROBE_DB!); const now = Date.now();`,
      `s.limiter.acquire("k", [{ count: 100000, windowMs: 1000 }], now);`,
      `const [b] = s.log.begin({ id: crypto.randomUUID(), createdAt: now, text: "x", format: "text", source: "cli", targets: ["w"] }, [{ channel: "w", type: "wecom", target: "t", parts: 1 }], { leaseUntil: now + 60000 });`,
      `const d = b!.id!; const a = s.log.sending({ deliveryId: d, part: 1, parts: 1, attempt: 1, startedAt: now });`,
      `s.log.answered(a, { latencyMs: 1, httpStatus: 200, outcome: "ok", error: null, response: "{}" });`,
      `s.log.finish(d, { status: "delivered", attempts: 1, latencyMs: 1, error: null }); s.close();`,
    ].join(" "),
    "src/core/markdown.ts": `import { toWecom } from ${src("core/markdown.ts")}; if (!toWecom) console.log("never");`,
    "src/channels/index.ts (7 channels)": `import { channels } from ${src("channels/index.ts")}; if (!channels) console.log("never");`,
    "src/config/load.ts loadConfig()": `import { loadConfig } from ${src("config/load.ts")}; loadConfig(process.env.PROBE_CONFIG);`,
  };
}

const stubPlugin = (name: string, filter: RegExp, contents: string): BunPlugin => ({
  name,
  setup(b) {
    b.onResolve({ filter }, () => ({ path: name, namespace: `stub-${name}` }));
    b.onLoad({ filter: /.*/, namespace: `stub-${name}` }, () => ({ contents, loader: "js" }));
  },
});

/** Every channel module loaded at start-up, as before the registry loaded them on demand. */
const eagerChannels: BunPlugin = {
  name: "eager-channels",
  setup(b) {
    b.onLoad({ filter: /src\/channels\/index\.ts$/ }, async (a) => {
      const text = await Bun.file(a.path).text();
      const patched = text.replace(/^import type (\w+) from "(\.\/\w+\.ts)";$/gm, 'import $1 from "$2";');
      if (patched === text) throw new Error("src/channels/index.ts no longer has the imports this variant changes");
      return { contents: patched.replace(/require\("\.\/(\w+)\.ts"\)\.default/g, "$1"), loader: "ts" };
    });
  },
};

/** marked replaced by a module that throws: proves a plain-text send never loads it. */
const MARKED_STUB = `export class Lexer { constructor() { throw new Error("marked is not loaded in this variant"); } static lex() { throw new Error("marked is not loaded in this variant"); } }`;

// Each variant is pp with one change; the difference to "pp as built" is what that change costs or saves.
const VARIANTS: { name: string; plugins: BunPlugin[] }[] = [
  { name: "pp as built", plugins: [] },
  { name: "all channel modules loaded eagerly", plugins: [eagerChannels] },
  { name: "marked stubbed out (must not change anything)", plugins: [stubPlugin("marked", /^marked$/, MARKED_STUB)] },
];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pp-startup-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // Probes live in the temp dir but resolve packages from the repository.
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));

  const url = await startFake(cleanups);
  const config = join(dir, "pp.toml");
  writeFileSync(config, benchConfig(url, join(dir, "pp.db")));
  openDb(join(dir, "probe.db")).close();
  const env = ppEnv({ PP_CONFIG: config });
  const body = JSON.stringify({ msgtype: "text", text: { content: TEXT } });

  const ps = Object.entries(probes());
  log(`building ${ps.length} probes and ${VARIANTS.length} pp variants into ${dir} ...`);
  const probeCmds: Cmd[] = [];
  for (const [i, [name, code]] of ps.entries()) {
    const file = join(dir, `probe${i}.ts`);
    writeFileSync(file, `${code}\n`);
    await compile(file, join(dir, `probe${i}`));
    probeCmds.push({
      name,
      argv: [join(dir, `probe${i}`)],
      env: { ...env, PROBE_URL: url, PROBE_BODY: body, PROBE_DB: join(dir, "probe.db"), PROBE_CONFIG: config, PROBE_DIR: join(dir, "made") },
    });
  }
  const variantCmds: Cmd[] = [];
  for (const [i, v] of VARIANTS.entries()) {
    await compile(ENTRY, join(dir, `pp${i}`), v.plugins);
    variantCmds.push({ name: v.name, argv: [join(dir, `pp${i}`), "send", "--ch", "w", TEXT], env });
  }
  // Every variant must still send, or its time describes an error path.
  for (const c of variantCmds) runOnce(c);

  const progress = (total: number) => (r: number) => process.stderr.write(`\r  round ${r + 1}/${total}${r + 1 === total ? "\n" : ""}`);
  log(`probes: ${RUNS} round-robin rounds`);
  const pr = roundRobin(probeCmds, RUNS, WARMUP, 0, progress(RUNS));
  log(`pp variants (pp send --ch w): ${RUNS} round-robin rounds`);
  const vr = roundRobin(variantCmds, RUNS, WARMUP, 0, progress(RUNS));

  const base = pr[0]!;
  const ppBase = vr[0]!;
  const pairedDiff = (a: Summary, b: Summary) =>
    quantile(a.samples.map((s, i) => s.ms - b.samples[i]!.ms).sort((x, y) => x - y), 0.5);
  const out = [
    "",
    `## Start-up probes (compiled like dist/pp; ${RUNS} round-robin rounds, ${WARMUP} warm-up)`,
    "",
    table(
      ["probe", "median", "p90", "cost vs empty"],
      pr.map((s, i) => [s.name, fmtMs(s.medianMs), fmtMs(s.p90Ms), i === 0 ? "-" : fmtMs(pairedDiff(s, base))]),
    ),
    "",
    "cost vs empty: median over rounds of (probe - empty program), each pair measured in the same round.",
    "",
    `## pp send --ch w, one change at a time (${RUNS} round-robin rounds)`,
    "",
    table(
      ["variant", "median", "p90", "saves vs as built", "ratio"],
      vr.map((s, i) => [s.name, fmtMs(s.medianMs), fmtMs(s.p90Ms), i === 0 ? "-" : fmtMs(-pairedDiff(s, ppBase)), i === 0 ? "-" : `${pairedRatio(s, ppBase).toFixed(2)}×`]),
    ),
  ];
  console.log(out.join("\n"));
}

await runBench(main);
