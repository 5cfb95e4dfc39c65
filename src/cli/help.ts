import type { ArgDef, CommandDef, CommandMeta } from "citty";
import { CATALOG, COMMON } from "../channels/catalog.ts";
import { keysText } from "../channels/describe.ts";

/**
 * `--help` for pp and each command, written here rather than by citty's renderUsage: citty pads option lines
 * to its widest description (170 columns), cannot wrap, colours even a pipe, and can only show a positional
 * as `[SHOW]`, not a usage line such as `pp log show ID`.
 */

export interface HelpStyle {
  /** Columns to fit (the terminal's, else 80). */
  width: number;
  color: boolean;
}

type Row = [label: string, text: string];

const SEND_EXITS: Row[] = [
  ["0", "success: every delivery succeeded (with --server: the daemon has queued the message)"],
  ["1", "at least one delivery failed (see `pp log --failed`, resend with `pp replay --failed`)"],
  ["2", "usage or configuration error; nothing was sent"],
  ["3", "the push log cannot be opened or written; nothing was sent"],
  ["4", "sent, but the outcome could not be written to the push log; stderr lists each channel's outcome"],
  ["5", "the result could not be written to stdout (full or closed); stderr has the message id"],
  ["129, 130, 143", "interrupted (SIGHUP, SIGINT, SIGTERM): requests in flight finished and were logged, what never started is logged as failed (a second signal exits at once: in flight = uncertain)"],
];

const OUTPUT_EXIT: Row = ["5", "the output could not be written to stdout (full or closed)"];

const SERVER_EXIT: Row = ["6", "--server: the daemon could not be reached or is unavailable (no answer, 5xx, still busy at the deadline); nothing was queued, unless stderr says the connection dropped after the request went out"];

/** What each command's exit status can mean, by command path. A subcommand without its own entry uses its parent's. */
const EXITS: ReadonlyMap<string, Row[]> = new Map([
  ["", [
    ["0", "success"],
    ["1", "at least one delivery failed (send, replay, test)"],
    ["2", "usage or configuration error; nothing was sent"],
    ["3", "the push log cannot be opened or written; nothing was sent"],
    ["4", "sent, but the outcome could not be written to the push log (send, replay)"],
    ["5", "the output could not be written to stdout (full or closed)"],
    ["6", "--server: the daemon could not be reached or is unavailable; nothing was queued (send, log, replay)"],
    ["129, 130, 143", "interrupted by SIGHUP, SIGINT or SIGTERM"],
  ]],
  ["send", [...SEND_EXITS.slice(0, 6), SERVER_EXIT, SEND_EXITS[6]!]],
  ["replay", [
    ["0", "success: every replayed delivery succeeded (or nothing was left to replay)"],
    ["1", "at least one delivery failed again (`pp log --failed` lists it)"],
    ...SEND_EXITS.slice(2, 4),
    ["4", "sent, but the outcome could not be written to the push log; stderr lists each channel's outcome"],
    ["5", "the result could not be written to stdout (full or closed); stderr has the new message id"],
    SERVER_EXIT,
    SEND_EXITS[6]!,
  ]],
  ["test", [
    ["0", "every channel accepted the test message"],
    ["1", "at least one channel did not (its line on stderr says why)"],
    ["2", "usage or configuration error; nothing was sent"],
    ["3", "the rate-limit state (kept in the push log's file) cannot be opened; nothing was sent"],
    ["5", "the --json result could not be written to stdout (full or closed)"],
    ["129, 130, 143", "interrupted (SIGHUP, SIGINT, SIGTERM)"],
  ]],
  ["log", [
    ["0", "success (also when no delivery matches)"],
    ["2", "usage or configuration error: a bad --since or --limit, or a message id not in the push log"],
    ["3", "the push log cannot be opened or read"],
    OUTPUT_EXIT,
    SERVER_EXIT,
  ]],
  ["channels", [
    ["0", "success"],
    ["2", "usage or configuration error (a config that does not validate, --unblock naming no channel)"],
    ["3", "--unblock: the push log, which keeps the blocks, cannot be opened or written"],
    OUTPUT_EXIT,
  ]],
  ["config", [
    ["0", "success"],
    ["2", "usage error, or the config file is missing or invalid (stderr says where and why)"],
    OUTPUT_EXIT,
  ]],
  ["config init", [
    ["0", "the starter config was written; its path is on stdout"],
    ["2", "the file already exists (it is left as it is) or cannot be written"],
    OUTPUT_EXIT,
  ]],
  ["config check", [
    ["0", "the config file is valid"],
    ["2", "it is missing or invalid; stderr says where and why"],
  ]],
  ["config path", [
    ["0", "a config file was found (valid or not); its path is on stdout"],
    ["2", "no config file was found; stderr lists where pp looks"],
    OUTPUT_EXIT,
  ]],
  ["completion", [
    ["0", "success"],
    ["2", "usage error (an unknown shell)"],
    OUTPUT_EXIT,
  ]],
  ["serve", [
    ["0", "stopped by SIGTERM or SIGINT after finishing requests in flight; what was not delivered stays queued for the next start"],
    ["2", "usage or configuration error, no token where one is required, the address cannot be listened on, or the user to switch to does not exist; nothing was started"],
    ["3", "the push log (which holds the queue) cannot be opened"],
    ["130, 143", "a second SIGINT or SIGTERM cut the drain short; deliveries in flight are taken up again at the next start"],
  ]],
]);

/** Usage lines where the generic `pp CMD [OPTIONS] [ARG]` would mislead, and positionals they replace. */
const USAGE: ReadonlyMap<string, { lines: string[]; hide?: string[] }> = new Map([
  ["", { lines: ["pp COMMAND [OPTIONS]", "pp --version"] }],
  ["send", { lines: ["pp send [OPTIONS] TEXT...", "COMMAND | pp send [OPTIONS]"] }],
  ["log", { lines: ["pp log [OPTIONS]", "pp log show ID [--json]"], hide: ["show"] }],
  ["replay", { lines: ["pp replay [OPTIONS] ID", "pp replay --failed [--since WHEN] [OPTIONS]"] }],
]);

const EXAMPLES: Row[] = [
  ['pp send --ch ops "deploy done"', "to a channel or group"],
  ['df -h | pp send --ch ops --title "Disk report"', "the text from stdin"],
  ['pp send --dry-run --ch feishu "hello"', "show the requests, send nothing"],
  ["pp log --failed --since 1h", "what did not arrive"],
  ["pp replay ID", "send it again"],
  ["pp --version", "version, commit, OS/arch"],
];

/** The help of `cmd`, reached by `path` (`[]` for pp itself, `["config", "check"]`), as lines fitting `style.width`. */
export async function renderHelp(cmd: CommandDef<any>, path: string[], style: HelpStyle): Promise<string> {
  const meta = ((await resolve(cmd.meta)) ?? {}) as CommandMeta;
  const args = ((await resolve(cmd.args)) ?? {}) as Record<string, ArgDef>;
  const subs = ((await resolve(cmd.subCommands)) ?? {}) as Record<string, unknown>;
  const key = path.join(" ");
  const width = Math.max(40, style.width);
  const bold = (s: string) => (style.color ? `\x1b[1m${s}\x1b[22m` : s);
  const cyan = (s: string) => (style.color ? `\x1b[36m${s}\x1b[39m` : s);
  const out: string[] = [];
  const heading = (s: string) => out.push("", bold(s));

  out.push(...wrap(`${["pp", ...path].join(" ")}: ${meta.description ?? ""}`, width));

  const usage = USAGE.get(key);
  const positionals = Object.entries(args).filter(([name, d]) => d.type === "positional" && !usage?.hide?.includes(name));
  const subNames = Object.keys(subs);
  heading("USAGE");
  if (usage) for (const l of usage.lines) out.push(...wrap(l, width, 2));
  else {
    const words = ["pp", ...path];
    if (subNames.length) words.push(subNames.join("|"));
    if (Object.values(args).some((d) => d.type !== "positional")) words.push("[OPTIONS]");
    for (const [name, d] of positionals) words.push(d.required === false ? `[${argName(name, d)}]` : argName(name, d));
    out.push(...wrap(words.join(" "), width, 2));
  }

  if (subNames.length) {
    heading("COMMANDS");
    const rows: Row[] = [];
    for (const [name, sub] of Object.entries(subs)) {
      const def = (await resolve(sub)) as CommandDef<any>;
      const m = ((await resolve(def.meta)) ?? {}) as CommandMeta;
      if (!m.hidden) rows.push([name, m.description ?? ""]);
    }
    out.push(...columns(rows, width, cyan));
    out.push("", ...wrap(`Run ${cyan(`pp ${[...path, "COMMAND"].join(" ")} --help`)} for a command's options.`, width));
  }

  if (positionals.length) {
    heading("ARGUMENTS");
    out.push(...columns(positionals.map(([name, d]) => [argName(name, d), d.description ?? ""]), width, cyan));
  }

  heading("OPTIONS");
  const options: Row[] = Object.entries(args).filter(([, d]) => d.type !== "positional").map(([name, d]) => [optionLabel(name, d), d.description ?? ""]);
  options.push(["-h, --help", "Show this help"]);
  if (path.length === 0) options.push(["-V, --version", "Show the version, commit and OS/arch"]);
  out.push(...columns(options, width, cyan));

  if (path.length === 0) {
    heading("EXAMPLES");
    out.push(...columns(EXAMPLES, width, (s) => s, 48));
    heading("CHANNEL TYPES");
    // From the generated catalog: listing every type's keys must not load every channel module.
    out.push(...columns(CATALOG.map((t) => [t.type, keysText(t)]), width, cyan, 12));
    out.push("", ...wrap(`Keys in [ ] are optional; every type also takes ${COMMON.join(", ")}. ${cyan("pp channels --types")} adds labels and default rates.`, width));
  }

  const exits = EXITS.get(key) ?? EXITS.get(path[0] ?? "");
  if (exits) {
    heading("EXIT CODES");
    out.push(...columns(exits, width, (s) => s, 2));
    if (path.length === 0) out.push("", ...wrap(`Each command's help (${cyan("pp COMMAND --help")}) says what its codes mean.`, width));
  }
  return `${out.join("\n")}\n`;
}

async function resolve<T>(r: T | (() => T | Promise<T>) | Promise<T> | undefined): Promise<T | undefined> {
  return typeof r === "function" ? await (r as () => T | Promise<T>)() : await r;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function argName(name: string, d: ArgDef): string {
  const hint = d.valueHint && !d.valueHint.includes("|") ? d.valueHint : name;
  const word = hint.toUpperCase();
  return name === "text" || name === "names" ? `${word}...` : word;
}

function optionLabel(name: string, d: ArgDef): string {
  const alias = (d as { alias?: string | string[] }).alias;
  const aliases = Array.isArray(alias) ? alias : alias ? [alias] : [];
  const short = aliases.filter((a) => a.length === 1).map((a) => `-${a}, `).join("");
  const value = d.type === "boolean" ? "" : d.type === "enum" ? ` ${(d.options ?? []).join("|")}` : ` ${(d.valueHint ?? "value").toUpperCase()}`;
  // Long names line up whether or not a short one comes first.
  return `${short || "    "}--${kebab(name)}${value}`;
}

const width = (s: string) => Bun.stringWidth(s);

/**
 * Words of `text` in lines of at most `max` columns after `indent` spaces. A word is never cut: one longer
 * than the line stands alone on its line.
 */
export function wrap(text: string, max: number, indent = 0): string[] {
  const pad = " ".repeat(indent);
  const room = Math.max(1, max - indent);
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(/ +/)) {
      if (word === "") continue;
      if (line !== "" && width(line) + 1 + width(word) > room) {
        lines.push(pad + line);
        line = word;
      } else line = line === "" ? word : `${line} ${word}`;
    }
    lines.push(pad + line);
  }
  return lines;
}

/**
 * Label and text in two columns, the text wrapped to `max` and its continuation lines indented to the text
 * column. A label wider than `widest` gets a line of its own, so one long label does not push every text right.
 */
export function columns(rows: Row[], max: number, paint: (s: string) => string, widest = 24): string[] {
  const fitting = rows.map(([l]) => width(l)).filter((w) => w <= widest);
  const col = Math.max(0, ...fitting);
  const indent = 2 + col + 2;
  const lines: string[] = [];
  for (const [label, text] of rows) {
    const body = wrap(text, max, indent);
    const w = width(label);
    const lead = label.length - label.trimStart().length;
    const painted = " ".repeat(lead) + paint(label.slice(lead));
    if (w <= col) lines.push(`  ${painted}${" ".repeat(col - w + 2)}${body[0]!.slice(indent)}`, ...body.slice(1));
    else lines.push(`  ${painted}`, ...body);
  }
  return lines.map((l) => l.trimEnd());
}
