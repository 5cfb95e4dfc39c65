import type { ArgDef, CommandDef, CommandMeta, Resolvable } from "citty";
import { PpError } from "../core/errors.ts";
import { didYouMean } from "../core/suggest.ts";
import { writeStdout } from "./out.ts";

/**
 * `pp completion <shell>` prints a completion script generated from the command tree, so a new command
 * or flag shows up in every shell without anyone editing four scripts by hand. Channel and group names
 * are not baked in: the scripts ask `pp channels --names` each time, so they follow the config; recent
 * message ids come from `pp __complete ids` the same way.
 */

export const SHELLS = ["bash", "zsh", "fish", "powershell"] as const;
export type Shell = (typeof SHELLS)[number];

/** Where the candidates for a value come from. */
export type ValueSource =
  | { kind: "none" }
  | { kind: "choices"; values: string[] }
  | { kind: "channels" }
  | { kind: "ids" }
  | { kind: "files" };

export interface FlagSpec {
  /** `--dry-run`, `--ch` ... (long spellings, with dashes). */
  long: string[];
  /** `-c` ... */
  short: string[];
  description: string;
  /** Boolean flags take no value. */
  takesValue: boolean;
  values: ValueSource;
}

export interface CommandSpec {
  name: string;
  /** Words from the root to this command: [] for the root, ["config", "check"] for `pp config check`. */
  path: string[];
  description: string;
  flags: FlagSpec[];
  /** What to offer for a word that is neither a flag nor a subcommand. */
  positional: ValueSource;
  subcommands: CommandSpec[];
}

/** Args that name channels or groups wherever they appear. */
const CHANNEL_ARGS = new Set(["ch", "channel", "channels", "unblock"]);
/** Commands whose positional arguments are channel or group names. */
const CHANNEL_POSITIONALS = new Set(["test"]);
const FILE_HINTS = new Set(["path", "file", "dir"]);

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

async function resolveValue<T>(r: Resolvable<T> | undefined): Promise<T | undefined> {
  return typeof r === "function" ? await (r as () => T | Promise<T>)() : await r;
}

function valueSource(key: string, def: ArgDef, commandName: string): ValueSource {
  if (def.type === "enum") return { kind: "choices", values: [...(def.options ?? [])] };
  if (CHANNEL_ARGS.has(key)) return { kind: "channels" };
  if (def.type === "positional" && CHANNEL_POSITIONALS.has(commandName)) return { kind: "channels" };
  if (def.type === "positional" && key === "id") return { kind: "ids" };
  const hint = def.valueHint ?? "";
  // A positional whose value hint lists its values (`bash|zsh|fish`) completes to them.
  if (/^[\w-]+(\|[\w-]+)+$/.test(hint)) return { kind: "choices", values: hint.split("|") };
  if (FILE_HINTS.has(hint)) return { kind: "files" };
  return { kind: "none" };
}

const HELP: FlagSpec = { long: ["--help"], short: ["-h"], description: "Show help", takesValue: false, values: { kind: "none" } };
const VERSION: FlagSpec = { long: ["--version"], short: ["-V"], description: "Show the version", takesValue: false, values: { kind: "none" } };

/** Reads a citty command tree (resolving lazy subcommands) into a plain description of it. */
export async function describe(cmd: CommandDef<any>, path: string[] = []): Promise<CommandSpec> {
  const meta = ((await resolveValue(cmd.meta)) ?? {}) as CommandMeta;
  const args = ((await resolveValue(cmd.args)) ?? {}) as Record<string, ArgDef>;
  const subs = ((await resolveValue(cmd.subCommands)) ?? {}) as Record<string, Resolvable<CommandDef<any>>>;
  const name = path.at(-1) ?? meta.name ?? "pp";
  const flags: FlagSpec[] = [];
  let positional: ValueSource = { kind: "none" };
  for (const [key, def] of Object.entries(args)) {
    if (def.type === "positional") {
      if (positional.kind === "none") positional = valueSource(key, def, name);
      continue;
    }
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases: string[] = Array.isArray(alias) ? alias : alias ? [alias] : [];
    const long = [...new Set([kebab(key), ...aliases.filter((a) => a.length > 1)])].map((n) => `--${n}`);
    const short = aliases.filter((a) => a.length === 1).map((a) => `-${a}`);
    const takesValue = def.type !== "boolean";
    flags.push({
      long,
      short,
      description: def.description ?? "",
      takesValue,
      values: takesValue ? valueSource(key, def, name) : { kind: "none" },
    });
  }
  flags.push(HELP);
  if (path.length === 0) flags.push(VERSION);
  const subcommands: CommandSpec[] = [];
  for (const [subName, sub] of Object.entries(subs)) {
    const subDef = (await resolveValue(sub)) as CommandDef<any>;
    const subMeta = ((await resolveValue(subDef.meta)) ?? {}) as CommandMeta;
    if (subMeta.hidden) continue;
    subcommands.push(await describe(subDef, [...path, subName]));
  }
  return { name, path, description: meta.description ?? "", flags, positional, subcommands };
}

function* walk(spec: CommandSpec): Generator<CommandSpec> {
  yield spec;
  for (const s of spec.subcommands) yield* walk(s);
}

const spellings = (f: FlagSpec) => [...f.long, ...f.short];
const firstLine = (s: string) => s.split("\n")[0]!.trim();

// ---------------------------------------------------------------- bash

/** Quotes a word for bash/POSIX sh (single quotes; `'` becomes `'\''`). */
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bashValues(src: ValueSource): string {
  switch (src.kind) {
    case "choices":
      return `_pp_words ${shq(src.values.join(" "))}`;
    case "channels":
      return "_pp_channels";
    case "ids":
      return "_pp_ids";
    case "files":
      return "_pp_files";
    case "none":
      return "return 0";
  }
}

function bash(spec: CommandSpec, prog: string): string {
  const all = [...walk(spec)];
  const key = (c: CommandSpec) => shq(c.path.join(" "));
  const subsCase = all
    .filter((c) => c.subcommands.length)
    .map((c) => `    ${key(c)}) echo ${shq(c.subcommands.map((s) => s.name).join(" "))} ;;`)
    .join("\n");
  const flagsCase = all.map((c) => `    ${key(c)}) echo ${shq(c.flags.flatMap(spellings).join(" "))} ;;`).join("\n");
  const valueFlagsCase = all
    .map((c) => {
      const v = c.flags.filter((f) => f.takesValue).flatMap(spellings);
      return v.length ? `    ${key(c)}) echo ${shq(v.join(" "))} ;;` : "";
    })
    .filter(Boolean)
    .join("\n");
  const valueCase = all
    .flatMap((c) =>
      c.flags
        .filter((f) => f.takesValue)
        .map((f) => `    ${spellings(f).map((s) => shq(`${c.path.join(" ")} ${s}`)).join("|")}) ${bashValues(f.values)} ;;`),
    )
    .join("\n");
  const positionalCase = all
    .filter((c) => c.positional.kind !== "none")
    .map((c) => `    ${key(c)}) ${bashValues(c.positional)} ;;`)
    .join("\n");
  const fn = `_${prog.replace(/[^A-Za-z0-9_]/g, "_")}`;
  return `# bash completion for ${prog}. Generated by \`${prog} completion bash\`; do not edit.
# Load it with: source <(${prog} completion bash)

_pp_subcommands() {
  case "$1" in
${subsCase}
  esac
}

_pp_flags() {
  case "$1" in
${flagsCase}
  esac
}

_pp_value_flags() {
  case "$1" in
${valueFlagsCase}
  esac
}

_pp_has() {
  [[ " $1 " == *" $2 "* ]]
}

_pp_words() {
  local IFS=$' \\t\\n'
  COMPREPLY=($(compgen -W "$1" -- "$cur"))
}

_pp_files() {
  compopt -o filenames 2>/dev/null
  local IFS=$'\\n'
  COMPREPLY=($(compgen -f -- "$cur"))
}

# Runs ${prog} itself with the words given and the command line's --config, so that names and ids follow the
# config in use (it prints nothing when the config or the push log cannot be read).
_pp_ask() {
  local prog="\${COMP_WORDS[0]}" i
  [[ "$prog" == "~/"* ]] && prog="$HOME/\${prog#\\~/}"
  local -a cfg=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --config)
        if [[ "\${COMP_WORDS[i+1]}" == "=" ]]; then cfg=(--config "\${COMP_WORDS[i+2]}"); else cfg=(--config "\${COMP_WORDS[i+1]}"); fi ;;
      --config=*) cfg=("\${COMP_WORDS[i]}") ;;
    esac
  done
  "$prog" "$@" "\${cfg[@]}" 2>/dev/null
}

# Channel and group names. A comma-separated list completes its last item.
_pp_channels() {
  local head="" tail="$cur" names i
  if [[ "$cur" == *,* ]]; then
    head="\${cur%,*},"
    tail="\${cur##*,}"
  fi
  names="$(_pp_ask channels --names)"
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$names" -- "$tail"))
  if [[ -n "$head" ]]; then
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]="$head\${COMPREPLY[i]}"; done
  fi
  return 0
}

# Recent message ids, newest first (bash cannot show the preview that follows each id).
_pp_ids() {
  local id rest
  COMPREPLY=()
  compopt -o nosort 2>/dev/null
  while IFS=$'\\t' read -r id rest; do
    [[ "$id" == "$cur"* ]] && COMPREPLY+=("$id")
  done < <(_pp_ask __complete ids)
  return 0
}

_pp_values() {
  case "$1 $2" in
${valueCase}
  esac
}

_pp_positional() {
  case "$1" in
${positionalCase}
  esac
}

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word flag="" eqflag="" i skip=0 rest=0 args=0
  COMPREPLY=()
  # COMP_WORDBREAKS splits --flag=value into "--flag" "=" "value".
  if [[ "$cur" == "=" ]]; then
    eqflag="\${COMP_WORDS[COMP_CWORD-1]}"
    cur=""
  elif ((COMP_CWORD >= 2)) && [[ "\${COMP_WORDS[COMP_CWORD-1]}" == "=" ]]; then
    eqflag="\${COMP_WORDS[COMP_CWORD-2]}"
  fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    ((rest)) && continue
    case "$word" in
      --) rest=1; continue ;;
      = | -*=*) continue ;;
      -*)
        if _pp_has "$(_pp_value_flags "$path")" "$word" && [[ "\${COMP_WORDS[i+1]}" != "=" ]]; then
          skip=1
          flag="$word"
        fi
        continue ;;
    esac
    if ((!args)) && _pp_has "$(_pp_subcommands "$path")" "$word"; then
      path="\${path:+$path }$word"
    else
      args=1
    fi
  done
  if [[ -n "$eqflag" ]]; then
    _pp_values "$path" "$eqflag"
    return 0
  fi
  if ((skip)); then
    _pp_values "$path" "$flag"
    return 0
  fi
  if ((!rest)) && [[ "$cur" == -* ]]; then
    _pp_words "$(_pp_flags "$path")"
    return 0
  fi
  local subs
  subs="$(_pp_subcommands "$path")"
  if ((!args)) && [[ -n "$subs" ]]; then
    _pp_words "$subs"
    return 0
  fi
  _pp_positional "$path"
  return 0
}

complete -F ${fn} ${prog} ${prog}.exe
`;
}

// ---------------------------------------------------------------- zsh

/** Escapes text for inside an _arguments `[description]` within single quotes. */
const zdesc = (s: string) => firstLine(s).replace(/\\/g, "\\\\").replace(/'/g, `'\\''`).replace(/([[\]])/g, "\\$1");

function zshAction(src: ValueSource): string {
  switch (src.kind) {
    case "choices":
      return `(${src.values.join(" ")})`;
    case "channels":
      return "__pp_channel_names";
    case "ids":
      return "__pp_ids";
    case "files":
      return "_files";
    case "none":
      return " ";
  }
}

function zshFunctionName(c: CommandSpec): string {
  return ["_pp", ...c.path].join("_").replace(/[^A-Za-z0-9_]/g, "_");
}

function zshCommand(c: CommandSpec): string {
  const specs: string[] = [];
  for (const f of c.flags) {
    const names = spellings(f);
    const exclusive = f.long[0] === "--help" || f.long[0] === "--version" ? "(- *)" : names.length > 1 ? `(${names.join(" ")})` : "";
    // --ch can be given several times.
    const repeat = f.values.kind === "channels" ? "*" : "";
    const nameList = names.length > 1 ? `{${names.join(",")}}` : names[0]!;
    const value = f.takesValue ? `:${f.long[0]!.replace(/^--/, "")}:${zshAction(f.values)}` : "";
    const prefix = repeat || exclusive ? `'${repeat || exclusive}'` : "";
    specs.push(`${prefix}${nameList}'[${zdesc(f.description)}]${value.replace(/'/g, `'\\''`)}'`);
  }
  const body: string[] = [];
  if (c.subcommands.length) {
    specs.push(`'1: :->command'`, `'*:: :->args'`);
    const list = c.subcommands.map((s) => `    ${shq(`${s.name}:${firstLine(s.description).replace(/:/g, "\\:")}`)}`).join("\n");
    const cases = c.subcommands.map((s) => `        ${s.name}) ${zshFunctionName(s)} ;;`).join("\n");
    // Subcommand functions see $words shifted; remember how the program itself was called.
    if (c.path.length === 0) body.push(`  local __pp_cmd=$words[1]`);
    body.push(
      `  local curcontext="$curcontext" state line ret=1`,
      `  typeset -A opt_args`,
      `  _arguments -C -s \\\n    ${specs.join(" \\\n    ")} && ret=0`,
      `  case $state in`,
      `    command)`,
      `      local -a commands=(\n${list.replace(/^/gm, "    ")}\n      )`,
      `      _describe -t commands 'command' commands && ret=0`,
      `      ;;`,
      `    args)`,
      `      case $line[1] in\n${cases}\n      esac`,
      `      ;;`,
      `  esac`,
      `  return ret`,
    );
  } else {
    specs.push(`'*:argument:${zshAction(c.positional)}'`);
    body.push(`  _arguments -s \\\n    ${specs.join(" \\\n    ")}`);
  }
  return `${zshFunctionName(c)}() {\n${body.join("\n")}\n}\n`;
}

function zsh(spec: CommandSpec, prog: string): string {
  const fns = [...walk(spec)].map(zshCommand).join("\n");
  return `#compdef ${prog} ${prog}.exe
# zsh completion for ${prog}. Generated by \`${prog} completion zsh\`; do not edit.
# Install it as _${prog} in a directory on $fpath, or load it with: source <(${prog} completion zsh)

# The command line's --config, in $reply, so that names and ids follow the config in use.
__pp_config() {
  local i
  reply=()
  for ((i = 2; i < CURRENT; i++)); do
    case $words[i] in
      --config) reply=(--config "$words[i+1]") ;;
      --config=*) reply=("$words[i]") ;;
    esac
  done
}

# Channel and group names come from the config in use, so ask ${prog} itself (it prints nothing when the
# config cannot be read).
__pp_channel_names() {
  local -a names reply
  __pp_config
  names=(\${(f)"$(\${~__pp_cmd:-$words[1]} channels --names $reply 2>/dev/null)"})
  # --ch takes a comma-separated list: complete its last item.
  compset -P '*,'
  compadd -a names
}

# Recent message ids with a preview of each, newest first.
__pp_ids() {
  local -a lines ids reply
  local i
  __pp_config
  lines=(\${(f)"$(\${~__pp_cmd:-$words[1]} __complete ids $reply 2>/dev/null)"})
  for i in $lines; do ids+=("\${i%%$'\\t'*}:\${i#*$'\\t'}"); done
  _describe -V -t ids 'message id' ids
}

${fns}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _pp "$@"
else
  compdef _pp ${prog} ${prog}.exe
fi
`;
}

// ---------------------------------------------------------------- fish

const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

function fish(spec: CommandSpec, prog: string): string {
  const all = [...walk(spec)];
  const lines: string[] = [];
  for (const c of all) {
    const cond = `-n ${fq(`__pp_is ${shq(c.path.join(" "))}`)}`;
    for (const s of c.subcommands) {
      lines.push(`complete -c ${prog} -f ${cond} -a ${s.name} -d ${fq(firstLine(s.description))}`);
    }
    for (const f of c.flags) {
      const names = [...f.long.map((l) => `-l ${l.slice(2)}`), ...f.short.map((s) => `-s ${s.slice(1)}`)].join(" ");
      let value = "";
      if (f.takesValue) {
        if (f.values.kind === "choices") value = ` -x -a ${fq(f.values.values.join(" "))}`;
        else if (f.values.kind === "channels") value = ` -x -a '(__pp_channels)'`;
        else if (f.values.kind === "ids") value = ` -x -a '(__pp_ids)'`;
        else if (f.values.kind === "files") value = ` -r -F`;
        else value = " -x";
      }
      lines.push(`complete -c ${prog} ${cond} ${names}${value} -d ${fq(firstLine(f.description))}`);
    }
    if (!c.subcommands.length) {
      const p = c.positional;
      if (p.kind === "choices") lines.push(`complete -c ${prog} -f ${cond} -a ${fq(p.values.join(" "))}`);
      else if (p.kind === "channels") lines.push(`complete -c ${prog} -f ${cond} -a '(__pp_channels)'`);
      else if (p.kind === "ids") lines.push(`complete -c ${prog} -f -k ${cond} -a '(__pp_ids)'`);
      else if (p.kind === "files") lines.push(`complete -c ${prog} -F ${cond}`);
    }
  }
  const known = all.filter((c) => c.path.length).map((c) => shq(c.path.join(" ")));
  return `# fish completion for ${prog}. Generated by \`${prog} completion fish\`; do not edit.
# Install it as ~/.config/fish/completions/${prog}.fish, or load it with: ${prog} completion fish | source

complete -c ${prog} -e
complete -c ${prog} -f

# Prints the subcommand path typed so far ("" for the root, "config check", ...).
function __pp_path
    set -l known ${known.join(" ")}
    set -l path ""
    for tok in (commandline -opc)[2..-1]
        string match -q -- '-*' $tok; and continue
        set -l next (string trim -- "$path $tok")
        contains -- $next $known; or break
        set path $next
    end
    echo $path
end

function __pp_is
    test (__pp_path) = "$argv[1]"
end

# Runs ${prog} itself with the words given and the command line's --config, so that names and ids follow the
# config in use (it prints nothing when the config or the push log cannot be read).
function __pp_ask
    set -l tokens (commandline -opc)
    set -l cfg
    set -l i (contains -i -- --config $tokens)
    and set cfg --config $tokens[(math $i + 1)]
    for t in $tokens
        string match -q -- '--config=*' $t; and set cfg $t
    end
    command $tokens[1] $argv $cfg 2>/dev/null
end

# Channel and group names. --ch takes a comma-separated list: complete its last item, keeping the ones
# before it (fish matches candidates against the whole word).
function __pp_channels
    set -l head (string replace -r -- '^-[^=]*=' '' (commandline -ct) | string replace -r -- '[^,]*$' '')
    for name in (__pp_ask channels --names)
        printf '%s%s\\n' $head $name
    end
end

# Recent message ids, newest first, each with a preview as its description.
function __pp_ids
    __pp_ask __complete ids
end

${lines.join("\n")}
`;
}

// ---------------------------------------------------------------- PowerShell

const psq = (s: string) => `'${s.replace(/'/g, "''")}'`;

function powershell(spec: CommandSpec, prog: string): string {
  const all = [...walk(spec)];
  const entries = all.map((c) => {
    const subs = c.subcommands.map((s) => `@(${psq(s.name)}, ${psq(firstLine(s.description))})`);
    const flags = c.flags.flatMap((f) => spellings(f).map((n) => `@(${psq(n)}, ${psq(firstLine(f.description))})`));
    const values = c.flags
      .filter((f) => f.takesValue)
      .flatMap((f) => spellings(f).map((n) => `${psq(n)} = ${psValues(f.values)}`));
    return `    ${psq(c.path.join(" "))} = @{
        Subcommands = @(${subs.join(", ")})
        Flags = @(${flags.join(", ")})
        Values = @{ ${values.join("; ")} }
        Positional = ${psValues(c.positional)}
    }`;
  });
  return `# PowerShell completion for ${prog}. Generated by \`${prog} completion powershell\`; do not edit.
# Load it from your profile with: ${prog} completion powershell | Out-String | Invoke-Expression

Register-ArgumentCompleter -Native -CommandName ${psq(prog)}, ${psq(`${prog}.exe`)} -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $tree = @{
${entries.join("\n")}
    }
    $words = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -le $cursorPosition } | ForEach-Object { $_.Extent.Text })
    if ($wordToComplete -ne '' -and $words.Count -gt 1) { $words = $words[0..($words.Count - 2)] }
    $path = ''
    $skip = $false
    for ($i = 1; $i -lt $words.Count; $i++) {
        $w = $words[$i]
        if ($skip) { $skip = $false; continue }
        if ($w -like '-*') { if (-not $w.Contains('=') -and $tree[$path].Values.ContainsKey($w)) { $skip = $true }; continue }
        $next = ($path + ' ' + $w).Trim()
        if ($tree.ContainsKey($next)) { $path = $next } else { break }
    }
    $node = $tree[$path]
    $prev = if ($words.Count -gt 1) { $words[-1] } else { '' }
    $candidates = @()
    if ($skip -and $node.Values.ContainsKey($prev)) {
        $candidates = @(& $node.Values[$prev] | ForEach-Object { , @($_, $_) })
    } elseif ($wordToComplete -like '-*') {
        $candidates = $node.Flags
    } elseif ($node.Subcommands.Count -gt 0) {
        $candidates = $node.Subcommands
    } else {
        $candidates = @(& $node.Positional | ForEach-Object { , @($_, $_) })
    }
    $candidates | Where-Object { $_[0] -like "$wordToComplete*" } | ForEach-Object {
        [System.Management.Automation.CompletionResult]::new($_[0], $_[0], 'ParameterValue', $(if ($_[1]) { $_[1] } else { $_[0] }))
    }
}
`;
}

function psValues(src: ValueSource): string {
  switch (src.kind) {
    case "choices":
      return `{ @(${src.values.map(psq).join(", ")}) }`;
    case "channels":
      // Channel and group names come from the config in use; pp prints nothing when it cannot read it.
      return `{ & $commandAst.CommandElements[0].Extent.Text channels --names 2>$null }`;
    case "ids":
      return `{ & $commandAst.CommandElements[0].Extent.Text __complete ids 2>$null | ForEach-Object { ($_ -split "\`t")[0] } }`;
    case "files":
      return `{ @(Get-ChildItem -Name -Path "$wordToComplete*" -ErrorAction SilentlyContinue) }`;
    case "none":
      return "{ @() }";
  }
}

// ---------------------------------------------------------------- entry points

const GENERATORS: Record<Shell, (spec: CommandSpec, prog: string) => string> = { bash, zsh, fish, powershell };

export function completionScript(shell: Shell, spec: CommandSpec, prog = "pp"): string {
  return GENERATORS[shell](spec, prog);
}

/** The file each shell's script is committed as under completions/ and installed as. */
export const COMPLETION_FILES: Record<Shell, string> = { bash: "pp.bash", zsh: "_pp", fish: "pp.fish", powershell: "pp.ps1" };

/**
 * The description of the real command tree (loads every command module). A verb a command takes as its
 * first argument (`pp log show ID`) is offered as a subcommand, with the command's --json and --config.
 */
export async function ppSpec(): Promise<CommandSpec> {
  const { root, VERBS } = await import("./main.ts");
  const spec = await describe(root);
  for (const c of walk(spec)) {
    const verbs = Object.hasOwn(VERBS, c.path.join(" ")) ? VERBS[c.path.join(" ")]! : {};
    for (const [name, description] of Object.entries(verbs)) {
      c.subcommands.push({
        name,
        path: [...c.path, name],
        description,
        flags: c.flags.filter((f) => ["--json", "--config", "--help"].includes(f.long[0]!)),
        positional: { kind: "ids" },
        subcommands: [],
      });
    }
  }
  return spec;
}

export default {
  meta: {
    name: "completion",
    description: "Print a shell completion script (bash, zsh, fish or powershell)",
  },
  args: {
    shell: { type: "positional", description: "Shell to print the script for", valueHint: SHELLS.join("|"), required: true },
  },
  async run({ args }) {
    const shell = String(args.shell);
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw new PpError("usage", `unknown shell "${shell}"${didYouMean(shell, SHELLS) || `; choose one of ${SHELLS.join(", ")}`}`);
    }
    writeStdout(completionScript(shell as Shell, await ppSpec()));
  },
} satisfies CommandDef<any>;
