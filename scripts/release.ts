/**
 * Builds every release archive and checks each one before anyone downloads it.
 *
 *   bun run release                       -> dist/release/pp_<version>_<os>_<arch>.tar.gz|.zip + SHA256SUMS
 *   bun scripts/release.ts --targets linux_amd64,freebsd_arm64
 *
 * For every target: build, check the binary's headers (ELF/Mach-O/PE, machine, OS ABI, libc loader),
 * package it with README.md, LICENSE, examples/pp.toml and completions/, list the archive back, and run a
 * smoke test where this machine can execute the binary (natively, under qemu-user or wine).
 * Exits non-zero when anything fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { gzip } from "node:zlib";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { build, checkVersion, gitCommit, packageVersion, ROOT } from "./build.ts";
import { describeBinary, inspectBinary, type Arch, type Os } from "./lib/binfmt.ts";
import { unzipList, zip, type ZipEntry } from "./lib/zip.ts";
import { completionScript, COMPLETION_FILES, ppSpec, SHELLS } from "../src/cli/completion.ts";

const gz = promisify(gzip);

export interface Target {
  /** Bun's compile target. */
  bun: string;
  os: Os;
  arch: Arch;
  /** The arch part of the archive name: Go-style names, with the CPU or libc variant after a dash. */
  label: string;
  libc?: "glibc" | "musl";
}

export const TARGETS: Target[] = [
  { bun: "bun-linux-x64", os: "linux", arch: "x64", label: "amd64", libc: "glibc" },
  { bun: "bun-linux-x64-baseline", os: "linux", arch: "x64", label: "amd64-baseline", libc: "glibc" },
  { bun: "bun-linux-x64-musl", os: "linux", arch: "x64", label: "amd64-musl", libc: "musl" },
  { bun: "bun-linux-arm64", os: "linux", arch: "arm64", label: "arm64", libc: "glibc" },
  { bun: "bun-darwin-x64", os: "darwin", arch: "x64", label: "amd64" },
  { bun: "bun-darwin-arm64", os: "darwin", arch: "arm64", label: "arm64" },
  { bun: "bun-windows-x64", os: "windows", arch: "x64", label: "amd64" },
  { bun: "bun-freebsd-x64", os: "freebsd", arch: "x64", label: "amd64" },
  { bun: "bun-freebsd-arm64", os: "freebsd", arch: "arm64", label: "arm64" },
];

export const targetId = (t: Target) => `${t.os}_${t.label}`;

export function archiveName(version: string, t: Target): string {
  return `pp_${version}_${targetId(t)}.${t.os === "windows" ? "zip" : "tar.gz"}`;
}

/** Files every archive carries besides the binary, relative to the repository root. */
export const DOC_FILES = ["README.md", "LICENSE", "examples/pp.toml"];

export interface Row {
  target: string;
  archive: string;
  bytes: number;
  format: string;
  smoke: string;
  ok: boolean;
}

export interface ReleaseOptions {
  version?: string;
  commit?: string;
  outDir?: string;
  targets?: Target[];
  /** Progress lines (to stderr by default). */
  log?: (line: string) => void;
}

/** How this machine can execute a target's binary, or why it cannot. */
export function runnerFor(t: Target): { runner: string[] } | { skip: string } {
  const hostOs = process.platform === "win32" ? "windows" : process.platform;
  if (t.os === "linux" && t.libc === "musl") {
    // The musl builds need musl's loader and its libstdc++, which a glibc distribution does not have.
    return existsSync("/lib/ld-musl-x86_64.so.1") && hostOs === "linux" && process.arch === t.arch && existsSync("/etc/alpine-release")
      ? { runner: [] }
      : { skip: "format only (needs a musl system)" };
  }
  if (t.os === hostOs && t.arch === process.arch) return { runner: [] };
  if (t.os === "linux" && t.arch === "arm64" && hostOs === "linux") {
    const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
    if (!qemu) return { skip: "format only (no qemu-aarch64-static)" };
    if (!existsSync("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1")) return { skip: "format only (no /usr/aarch64-linux-gnu)" };
    return { runner: [qemu, "-L", "/usr/aarch64-linux-gnu"] };
  }
  if (t.os === "windows" && t.arch === "x64" && hostOs === "linux") {
    const wine = Bun.which("wine") ?? Bun.which("wine64");
    return wine ? { runner: [wine] } : { skip: "format only (no wine)" };
  }
  return { skip: "format only" };
}

/**
 * runnerFor, plus one check for wine: Debian 12's wine 8 lacks DLLs that Bun's Windows runtime imports
 * (bcryptprimitives.dll), so the loader refuses the binary before any pp code runs. That says nothing about
 * pp, so it is reported as "format only" with the reason rather than as a failed smoke test.
 */
export function runnerOrSkip(t: Target, binary: string): { runner: string[] } | { skip: string } {
  const how = runnerFor(t);
  if ("skip" in how || t.os !== "windows") return how;
  const r = Bun.spawnSync([...how.runner, binary, "--version"], { env: { ...process.env, WINEDEBUG: "err+module" }, stdout: "pipe", stderr: "pipe" });
  const missing = /Library (\S+) \(which is needed by/.exec(r.stderr.toString());
  if (r.exitCode !== 0 && missing) return { skip: `format only (this wine cannot load Bun's Windows runtime: ${missing[1]} missing)` };
  return how;
}

const SMOKE_SECRET = "smoke0123456789secret";

/** `--version`, `send --dry-run` against a throwaway config, `log` on an empty push log. */
export function smoke(binary: string, runner: string[], version: string, commit: string): string {
  const dir = mkdtempSync(join(tmpdir(), "pp-smoke-"));
  try {
    const cfg = join(dir, "pp.toml");
    writeFileSync(cfg, `[channels.ops]\ntype = "wecom"\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${SMOKE_SECRET}"\n\n[defaults]\nchannels = "ops"\n`);
    const env = { ...process.env, NO_COLOR: "1", PP_DB: join(dir, "pp.db"), PP_CONFIG: cfg, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, WINEDEBUG: "-all" };
    checkVersion(binary, version, commit, runner);
    const run = (args: string[]) => {
      const r = Bun.spawnSync([...runner, binary, ...args], { env, cwd: dir, stdout: "pipe", stderr: "pipe" });
      const out = r.stdout.toString() + r.stderr.toString();
      if (r.exitCode !== 0) throw new Error(`pp ${args.join(" ")} exited ${r.exitCode}: ${out.trim().slice(0, 300)}`);
      return out;
    };
    const dry = run(["send", "--dry-run", "--config", cfg, "smoke test"]);
    if (!dry.includes("POST https://qyapi.weixin.qq.com/")) throw new Error(`send --dry-run printed no request: ${dry.slice(0, 200)}`);
    if (dry.includes(SMOKE_SECRET)) throw new Error("send --dry-run printed the webhook key");
    run(["log", "--config", cfg]);
    return "ok";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sha256(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

function must(cmd: string[], cwd?: string): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** Stage directory -> archive. tar output is made reproducible (fixed owner, order and times). */
async function pack(stage: string, top: string, archive: string, isZip: boolean, exe: string): Promise<void> {
  if (isZip) {
    const files = must(["find", top, "-mindepth", "0"], stage).split("\n").filter(Boolean).sort();
    const entries: ZipEntry[] = [];
    for (const f of files) {
      const full = join(stage, f);
      if (statSync(full).isDirectory()) entries.push({ name: `${f}/` });
      else entries.push({ name: f, data: await Bun.file(full).bytes(), mode: basename(f) === exe ? 0o755 : 0o644 });
    }
    await Bun.write(archive, await zip(entries));
    return;
  }
  const r = Bun.spawnSync(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "--format=gnu", "-cf", "-", top], {
    cwd: stage,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`tar failed: ${r.stderr.toString().trim()}`);
  await Bun.write(archive, await gz(r.stdout, { level: 6 }));
}

/** Lists an archive back and checks it holds what a user expects. */
function verifyArchive(archive: string, top: string, exe: string): void {
  const names = archive.endsWith(".zip")
    ? unzipList(archive).map((e) => `${e.name}${e.mode & 0o111 ? " x" : ""}`)
    : must(["tar", "-tvzf", archive]).split("\n").filter(Boolean).map((l) => {
        const name = l.split(/\s+/).slice(5).join(" ");
        return `${name}${l.startsWith("-rwx") ? " x" : ""}`;
      });
  const want = [`${top}/${exe} x`, ...DOC_FILES.map((f) => `${top}/${f}`), ...SHELLS.map((s) => `${top}/completions/${COMPLETION_FILES[s]}`)];
  const missing = want.filter((w) => !names.includes(w));
  if (missing.length) throw new Error(`${basename(archive)} lacks ${missing.join(", ")} (has ${names.join(", ")})`);
}

export async function release(opts: ReleaseOptions = {}): Promise<{ rows: Row[]; sums: string; ms: number }> {
  const started = performance.now();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const version = opts.version ?? packageVersion;
  const commit = opts.commit ?? gitCommit();
  const outDir = opts.outDir ?? join(ROOT, "dist", "release");
  const targets = opts.targets ?? TARGETS;
  for (const f of DOC_FILES) if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing; every archive ships it`);

  rmSync(outDir, { recursive: true, force: true });
  const stage = join(outDir, ".stage");
  mkdirSync(stage, { recursive: true });
  const spec = await ppSpec();
  const completions = Object.fromEntries(SHELLS.map((s) => [COMPLETION_FILES[s], completionScript(s, spec)]));

  const rows: Row[] = [];
  const packing: Promise<void>[] = [];
  // Builds run one at a time (each is mostly Bun writing ~110 MB); compression of the previous target
  // runs on zlib's thread pool meanwhile.
  for (const t of targets) {
    const archiveFile = archiveName(version, t);
    const top = archiveFile.replace(/\.(tar\.gz|zip)$/, "");
    const exe = t.os === "windows" ? "pp.exe" : "pp";
    const row: Row = { target: targetId(t), archive: archiveFile, bytes: 0, format: "-", smoke: "-", ok: false };
    rows.push(row);
    const dir = join(stage, top);
    try {
      mkdirSync(join(dir, "examples"), { recursive: true });
      mkdirSync(join(dir, "completions"), { recursive: true });
      log(`building ${t.bun}`);
      const built = await build({ target: t.bun, outfile: join(dir, "pp"), version, commit });
      const info = await inspectBinary(built.outfile);
      row.format = describeBinary(info);
      if (info.os !== t.os || info.arch !== t.arch || (t.libc && info.libc !== t.libc)) {
        throw new Error(`${t.bun}: built ${row.format}, expected ${t.os} ${t.arch}${t.libc ? ` ${t.libc}` : ""}`);
      }
      row.format = `ok: ${row.format}`;
      const how = runnerOrSkip(t, built.outfile);
      if ("skip" in how) row.smoke = how.skip;
      else {
        log(`smoke-testing ${targetId(t)}${how.runner.length ? ` with ${basename(how.runner[0]!)}` : ""}`);
        row.smoke = smoke(built.outfile, how.runner, version, commit) + (how.runner.length ? ` (${basename(how.runner[0]!)})` : "");
      }
      for (const f of DOC_FILES) await Bun.write(join(dir, f), Bun.file(join(ROOT, f)));
      for (const [name, text] of Object.entries(completions)) await Bun.write(join(dir, "completions", name), text);
      const archive = join(outDir, archiveFile);
      packing.push(
        pack(stage, top, archive, t.os === "windows", exe)
          .then(() => {
            verifyArchive(archive, top, exe);
            row.bytes = statSync(archive).size;
            row.ok = true;
            rmSync(dir, { recursive: true, force: true });
          })
          .catch((e) => {
            row.smoke = `FAIL: ${(e as Error).message}`;
          }),
      );
      // Two archives compressing at once keep both cores busy without holding every binary in memory.
      if (packing.length >= 2) await packing.shift();
    } catch (e) {
      if (row.format === "-" || !row.format.startsWith("ok")) row.format = `FAIL: ${(e as Error).message}`;
      else row.smoke = `FAIL: ${(e as Error).message}`;
    }
  }
  await Promise.all(packing);
  rmSync(stage, { recursive: true, force: true });

  const lines: string[] = [];
  for (const r of rows) {
    const file = join(outDir, r.archive);
    if (r.ok && !existsSync(file)) {
      r.ok = false;
      r.smoke = "FAIL: archive missing";
    }
    if (r.ok) lines.push(`${await sha256(file)}  ${r.archive}`);
  }
  // The installer is published beside the archives, so `curl .../install.sh | sh` finds them.
  await Bun.write(join(outDir, "install.sh"), Bun.file(join(ROOT, "scripts", "install.sh")));
  lines.push(`${await sha256(join(outDir, "install.sh"))}  install.sh`);
  const sums = `${lines.sort((a, b) => a.slice(66).localeCompare(b.slice(66))).join("\n")}\n`;
  await Bun.write(join(outDir, "SHA256SUMS"), sums);
  return { rows, sums, ms: Math.round(performance.now() - started) };
}

export function table(rows: Row[]): string {
  const head = ["TARGET", "ARCHIVE", "SIZE", "FORMAT", "SMOKE"];
  const body = rows.map((r) => [r.target, r.archive, r.bytes ? `${(r.bytes / 1048576).toFixed(1)} MiB` : "-", r.format, r.smoke]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const opt = (name: string) => {
    const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i === -1) return undefined;
    return argv[i]!.includes("=") ? argv[i]!.slice(name.length + 3) : argv[i + 1];
  };
  let targets = TARGETS;
  const only = opt("targets");
  if (only) {
    const ids = only.split(",");
    const unknown = ids.filter((id) => !TARGETS.some((t) => targetId(t) === id));
    if (unknown.length) {
      console.error(`error: unknown target ${unknown.join(", ")}; targets are ${TARGETS.map(targetId).join(", ")}`);
      process.exit(2);
    }
    targets = TARGETS.filter((t) => ids.includes(targetId(t)));
  }
  try {
    const { rows, ms } = await release({ version: opt("version"), commit: opt("commit"), targets });
    console.log(table(rows));
    const outDir = join(ROOT, "dist", "release");
    console.log(`\n${relative(process.cwd(), join(outDir, "SHA256SUMS"))} written; ${rows.filter((r) => r.ok).length}/${rows.length} targets ok in ${(ms / 1000).toFixed(1)} s`);
    process.exit(rows.every((r) => r.ok) ? 0 : 1);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}
