/**
 * Installs the pp built from this checkout, with its shell completions, for the current user:
 *
 *   bun run build && bun run install-local                  -> ~/.local/bin/pp
 *   bun run install-local --prefix /usr/local/bin           -> a chosen directory
 *
 * Options: --prefix DIR (where pp goes; default ~/.local/bin), --completions-prefix DIR (default: the parent of
 * --prefix, so ~/.local), --no-completions, --bin FILE (the binary to install; default dist/pp).
 * Completions go where bash-completion, zsh and fish look under that prefix: share/bash-completion/completions/pp,
 * share/zsh/site-functions/_pp and share/fish/vendor_completions.d/pp.fish, the same layout as install.sh.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const EXE = process.platform === "win32" ? "pp.exe" : "pp";

export const COMPLETION_PATHS = {
  bash: "share/bash-completion/completions/pp",
  zsh: "share/zsh/site-functions/_pp",
  fish: "share/fish/vendor_completions.d/pp.fish",
} as const;

export interface InstallOptions {
  bin?: string;
  prefix?: string;
  completionsPrefix?: string;
  completions?: boolean;
  /** The PATH to check the install directory against (default $PATH). */
  path?: string;
}

/** The lines to show the user: what was installed where, and what to add to the shell when it is not on PATH. */
export function installLocal(opts: InstallOptions = {}): string[] {
  const home = process.env.HOME || homedir();
  const bin = resolve(opts.bin ?? join(ROOT, "dist", EXE));
  if (!existsSync(bin)) throw new Error(`${bin} does not exist; run bun run build first (or pass --bin FILE)`);
  const prefix = resolve(opts.prefix ?? join(home, ".local", "bin"));
  const target = join(prefix, EXE);
  mkdirSync(prefix, { recursive: true });
  // Copy beside the target, then rename over it: a pp that is running (or being completed) keeps its old file.
  const staging = join(prefix, `.${EXE}.${process.pid}.tmp`);
  try {
    copyFileSync(bin, staging);
    chmodSync(staging, 0o755);
    renameSync(staging, target);
  } finally {
    rmSync(staging, { force: true });
  }
  const lines = [`installed ${target}`];
  const version = Bun.spawnSync([target, "--version"], { stdout: "pipe", stderr: "pipe" });
  if (version.exitCode !== 0) throw new Error(`${target} --version failed: ${version.stderr.toString().trim()}`);
  lines[0] += ` (${version.stdout.toString().trim()})`;

  if (opts.completions !== false && process.platform !== "win32") {
    const base = resolve(opts.completionsPrefix ?? dirname(prefix));
    for (const [shell, rel] of Object.entries(COMPLETION_PATHS)) {
      // From the installed binary itself, so the completions always match the pp they complete.
      const r = Bun.spawnSync([target, "completion", shell], { stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`${target} completion ${shell} failed: ${r.stderr.toString().trim()}`);
      const file = join(base, rel);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, r.stdout);
      lines.push(`installed ${file}`);
    }
    lines.push(`zsh: add  fpath=(${join(base, "share/zsh/site-functions")} $fpath)  before compinit in ~/.zshrc`);
  }
  const onPath = (opts.path ?? process.env.PATH ?? "").split(delimiter).some((d) => d && resolve(d) === prefix);
  if (!onPath) lines.push(`${prefix} is not on your PATH; add  export PATH="${prefix}:$PATH"  to your shell's startup file (~/.bashrc, ~/.zshrc) and open a new shell`);
  return lines;
}

function parseArgs(argv: string[]): InstallOptions {
  const opts: InstallOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--prefix") opts.prefix = value();
    else if (a === "--completions-prefix") opts.completionsPrefix = value();
    else if (a === "--bin") opts.bin = value();
    else if (a === "--no-completions") opts.completions = false;
    else if (a === "--help" || a === "-h") {
      console.log("usage: bun run install-local [--prefix DIR] [--completions-prefix DIR] [--no-completions] [--bin FILE]");
      process.exit(0);
    } else throw new Error(`unknown option ${a}; options: --prefix DIR, --completions-prefix DIR, --no-completions, --bin FILE`);
  }
  return opts;
}

if (import.meta.main) {
  try {
    for (const line of installLocal(parseArgs(process.argv.slice(2)))) console.log(line);
  } catch (e) {
    console.error(`install-local: ${(e as Error).message}`);
    process.exit(1);
  }
}
