/**
 * Builds the single-file pp executable.
 *
 *   bun run build                          -> dist/pp for this machine
 *   bun scripts/build.ts --target bun-linux-arm64 --outfile dist/pp-arm64
 *
 * Options chosen by measurement (hyperfine medians on a 2-core x64 VM, see docs/ship.md):
 * bytecode roughly halves start-up (`send --dry-run` 35 ms -> 17 ms); code splitting keeps lazily
 * imported commands out of the start-up path (`--version` 9 -> 7 ms, `log` 17 -> 14 ms); the embedded
 * source map costs about 230 KB and no measurable start-up time, and makes stack traces name source files.
 */
import { existsSync, rmSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };

export const ROOT = resolve(import.meta.dir, "..");
export const ENTRY = join(ROOT, "src/cli/entry.ts");

export interface BuildOptions {
  /** A Bun compile target such as `bun-linux-arm64`; omitted means this machine. */
  target?: string;
  outfile: string;
  version?: string;
  commit?: string;
}

export interface BuildResult {
  /** The file written (Bun appends `.exe` for Windows targets). */
  outfile: string;
  bytes: number;
  ms: number;
}

/** Short commit of the checkout, or "unknown" outside a git work tree (a source tarball). */
export function gitCommit(cwd = ROOT): string {
  try {
    const r = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd, stdout: "pipe", stderr: "ignore" });
    const out = r.stdout.toString().trim();
    return r.exitCode === 0 && /^[0-9a-f]{4,}$/.test(out) ? out : "unknown";
  } catch {
    return "unknown";
  }
}

export const packageVersion: string = pkg.version;

export async function build(opts: BuildOptions): Promise<BuildResult> {
  const version = opts.version ?? packageVersion;
  const commit = opts.commit ?? gitCommit();
  const isWindows = opts.target?.startsWith("bun-windows") ?? process.platform === "win32";
  const wanted = resolve(opts.outfile);
  const outfile = isWindows && !wanted.endsWith(".exe") ? `${wanted}.exe` : wanted;
  // A stale binary must not pass for the new one if the build fails half-way.
  rmSync(outfile, { force: true });

  const started = performance.now();
  // `pp --help` to a pipe or an 80-column file, rendered now: rendering it at run time is most of that command's time.
  const { renderRootHelp } = await import("../src/cli/main.ts");
  const rootHelp = await renderRootHelp({ width: 80, color: false });
  let result: Bun.BuildOutput;
  try {
    result = await Bun.build({
      entrypoints: [ENTRY],
      minify: true,
      bytecode: true,
      // Bytecode needs ESM here: consola uses import.meta, which CommonJS bytecode cannot compile.
      format: "esm",
      splitting: true,
      sourcemap: "linked",
      define: { PP_VERSION: JSON.stringify(version), PP_COMMIT: JSON.stringify(commit), PP_ROOT_HELP: JSON.stringify(rootHelp) },
      compile: {
        // The compile target list in bun-types omits FreeBSD, which Bun 1.4 does support.
        ...(opts.target ? { target: opts.target as Bun.Build.CompileTarget } : {}),
        outfile: wanted,
        // A distributed CLI must not pick up .env or bunfig.toml (whose preload runs code) from the cwd.
        autoloadDotenv: false,
        autoloadBunfig: false,
        // Most pp processes live for milliseconds and run each function a few times: JavaScriptCore's JIT would
        // compile code that never runs again. 100 times its tier-up thresholds keeps start-up in the interpreter
        // (less time and memory); pp serve sets the normal policy back once it listens.
        jitPolicy: 100,
      },
    });
  } catch (e) {
    throw new Error(`build failed for ${opts.target ?? "host"}:\n${formatError(e)}`);
  }
  // Bun reports a failed bytecode generation as a log entry but still writes a binary and succeeds;
  // that binary dies at start-up, so any error-level message fails the build.
  const errors = result.logs.filter((l) => l.level === "error");
  if (!result.success || errors.length) {
    rmSync(outfile, { force: true });
    throw new Error(`build failed for ${opts.target ?? "host"}:\n${errors.map((l) => `  ${l.message}`).join("\n") || "  (no message)"}`);
  }
  if (!existsSync(outfile)) throw new Error(`build for ${opts.target ?? "host"} reported success but wrote no ${outfile}`);
  // The map is embedded in the executable; the copy written beside it is not needed.
  rmSync(`${wanted}.map`, { force: true });
  for (const o of result.outputs) if (o.path.endsWith(".map")) rmSync(o.path, { force: true });
  return { outfile, bytes: statSync(outfile).size, ms: Math.round(performance.now() - started) };
}

function formatError(e: unknown): string {
  const agg = e as { errors?: unknown[] };
  if (Array.isArray(agg.errors) && agg.errors.length) return agg.errors.map((x) => `  ${String(x)}`).join("\n");
  return `  ${String(e)}`;
}

/** Runs `<binary> --version` (optionally through an emulator) and checks what it prints. */
export function checkVersion(binary: string, version: string, commit: string, runner: string[] = []): string {
  const r = Bun.spawnSync([...runner, binary, "--version"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const out = r.stdout.toString().trim();
  if (r.exitCode !== 0) throw new Error(`${basename(binary)} --version exited ${r.exitCode}: ${r.stderr.toString().trim().slice(0, 500)}`);
  const expected = `pp ${version} (${commit}, `;
  if (!out.startsWith(expected)) throw new Error(`${basename(binary)} --version printed "${out}", expected "${expected}..."`);
  return out;
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument "${argv[i]}"; options: --target, --outfile, --version, --commit`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    out[m[1]!] = value;
  }
  return out;
}

if (import.meta.main) {
  try {
    const a = parseArgs(process.argv.slice(2));
    const version = a.version ?? packageVersion;
    const commit = a.commit ?? gitCommit();
    const outfile = a.outfile ?? join(ROOT, "dist", "pp");
    const r = await build({ target: a.target, outfile, version, commit });
    const host = a.target === undefined;
    const line = host ? checkVersion(r.outfile, version, commit) : "(cross build, not run)";
    console.log(`${relative(process.cwd(), r.outfile)}  ${(r.bytes / 1048576).toFixed(1)} MiB  ${r.ms} ms  ${line}`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}
