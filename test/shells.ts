/**
 * Drives pp's committed completion scripts in real shells, the way a user's <TAB> does. Each returns the
 * raw candidate lines (fish: "candidate<TAB>description"); callers sort or split as they need.
 */
import { expect } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

/** bash: runs `_pp` for the words typed so far (the last one may be empty). */
export function bashComplete(env: Record<string, string>, words: string[]): string[] {
  const script = `
source ${JSON.stringify(join(ROOT, "completions/pp.bash"))}
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}
_pp
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = Bun.spawnSync(["bash", "--noprofile", "--norc", "-c", script, "bash", ...words], { env, stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  return r.stdout.toString().split("\n").filter(Boolean);
}

/** fish: `complete -C line`. */
export function fishComplete(env: Record<string, string>, line: string): string[] {
  const r = Bun.spawnSync(["fish", "--no-config", "-c", `source ${join(ROOT, "completions/pp.fish")}; complete -C ${JSON.stringify(line)}`], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.stderr.toString()).toBe("");
  return r.stdout.toString().split("\n").filter(Boolean);
}

/**
 * zsh: types the line and <TAB> (`tabs` times: the first may only insert a common start) into an interactive
 * zsh (through zpty), with _pp on its fpath under `work`, and returns what the screen shows once `expectText`
 * appears (or after about 5 s).
 */
export function zshScreen(env: Record<string, string>, work: string, line: string, expectText: string, tabs = 1): string {
  const fpath = join(work, "zfunc");
  mkdirSync(fpath, { recursive: true });
  writeFileSync(join(fpath, "_pp"), readFileSync(join(ROOT, "completions/_pp")));
  const driver = `
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=(${fpath} \\$fpath); autoload -U compinit; compinit -u -D; unsetopt beep; LISTMAX=1000; COLUMNS=200"
zpty -w z "echo RE''ADY"
zpty -r z line '*READY*'
zpty -w -n z ${JSON.stringify(line)}$'${"\\t".repeat(tabs)}'
out=""
for i in {1..50}; do
  while zpty -r -t z chunk; do out+=$chunk; done
  [[ $out == *${JSON.stringify(expectText)}* ]] && break
  sleep 0.1
done
print -r -- "$out"
zpty -d z`;
  const r = Bun.spawnSync(["zsh", "-f", "-c", driver], { env, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
  return r.stdout.toString().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}
