#!/usr/bin/env bun
import type { CommandDef } from "citty";
import type { HelpStyle } from "./help.ts";
import { PpError } from "../core/errors.ts";
import { versionLine } from "../version.ts";
import { isSqliteError, openedStorePath, storeError } from "../store/errors.ts";
import { suggest } from "../core/suggest.ts";
import { checkFlags } from "./args.ts";
import { runWithArgs } from "./run.ts";
import { clean, colorFor, outAsync, outputWidth, writeStderr, writeStdoutAsync } from "./out.ts";

type Loader = () => Promise<{ default: CommandDef<any> }>;

/**
 * The command tree. Each command is loaded only when it runs, so `pp send` does not pay for the others
 * (`pp --help` and completion generation load them all).
 */
export const commands: Record<string, Loader> = {
  send: () => import("./send.ts"),
  test: () => import("./test.ts"),
  log: () => import("./log.ts"),
  replay: () => import("./replay.ts"),
  channels: () => import("./channels.ts"),
  config: () => import("./config.ts"),
  serve: () => import("./serve.ts"),
  completion: () => import("./completion.ts"),
  // Hidden: what the completion scripts ask for (recent message ids).
  __complete: () => import("./complete.ts"),
};

export async function loadCommand(name: string): Promise<CommandDef<any>> {
  return (await commands[name]!()).default;
}

export const root: CommandDef<any> = {
  meta: {
    name: "pp",
    description: "Send notifications to chat apps, push services, e-mail and webhooks",
  },
  subCommands: Object.fromEntries(Object.keys(commands).map((n) => [n, () => loadCommand(n)])),
};

/**
 * Each command's line in `pp --help`, as its own meta says (a test holds the two together): listing them does not
 * load every command and what it imports, which would make `pp --help` take twice as long.
 */
export const SUMMARIES: ReadonlyMap<string, { description: string; hidden?: true }> = new Map([
  ["send", { description: "Send a message to channels or groups (text from arguments or stdin)" }],
  ["test", { description: "Send a test message to channels (default: all) and show what each platform answered" }],
  ["log", { description: "Show the push log (newest first); `pp log show ID` for one message with every attempt" }],
  ["replay", { description: "Send a logged message again (to the channels where it was not delivered), or every undelivered one with --failed" }],
  ["channels", { description: "List configured channels and groups (destinations redacted)" }],
  ["config", { description: "Create, check or locate the configuration" }],
  ["serve", { description: "Run the daemon: an HTTP API that queues messages durably and delivers them ([serve] in the config)" }],
  ["completion", { description: "Print a shell completion script (bash, zsh, fish or powershell)" }],
  ["__complete", { description: "For the completion scripts: recent message ids", hidden: true }],
]);

/** The root as `pp --help` shows it: commands with a summary are not loaded. */
function rootForHelp(): CommandDef<any> {
  const subs = root.subCommands as Record<string, () => Promise<CommandDef<any>>>;
  return {
    ...root,
    subCommands: Object.fromEntries(Object.keys(commands).map((n) => {
      const s = SUMMARIES.get(n);
      return [n, s ? { meta: { name: n, ...s } } : subs[n]!];
    })),
  };
}

/** `pp --help` as it is at run time, for the given style. */
export async function renderRootHelp(style: HelpStyle): Promise<string> {
  const { renderHelp } = await import("./help.ts");
  return renderHelp(rootForHelp(), [], style);
}

/**
 * `pp --help` for 80 columns without colour (a pipe, a file), rendered by scripts/build.ts from the same code:
 * rendering it is most of what that command takes. Undefined when running from source.
 */
declare const PP_ROOT_HELP: string | undefined;

/** Help on stdout, fitted to its width and coloured only when it is a terminal (per-command exit codes: help.ts). */
async function printHelp(cmd: CommandDef<any>, parent?: CommandDef<any>): Promise<void> {
  const style = { width: outputWidth(), color: colorFor(1) };
  // Not writeStdout: to a pipe (completion, `| less`) these writes do not load node:fs.
  if (cmd === root && style.width === 80 && !style.color && typeof PP_ROOT_HELP === "string") return writeStdoutAsync(PP_ROOT_HELP);
  if (cmd === root) return writeStdoutAsync(await renderRootHelp(style));
  const { renderHelp } = await import("./help.ts");
  const name = async (c: CommandDef<any>) => String(((typeof c.meta === "function" ? await c.meta() : await c.meta) ?? {}).name ?? "");
  const path = parent && parent !== root ? [await name(parent), await name(cmd)] : [await name(cmd)];
  await writeStdoutAsync(await renderHelp(cmd, path, style));
}

/**
 * Words a command takes as its first argument the way other commands take a subcommand (`pp log show ID`),
 * with what each does: resolve() answers a misspelt one, and completion offers them.
 */
export const VERBS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  log: { show: "One message with every delivery and attempt, and the platforms' answers" },
};

/** Finds the (possibly nested) command named by argv, returning it with the arguments that belong to it. */
async function resolve(argv: string[]): Promise<{ cmd: CommandDef<any>; parent?: CommandDef<any>; rest: string[] }> {
  let cmd: CommandDef<any> = root;
  let parent: CommandDef<any> | undefined;
  let rest = argv;
  const path: string[] = [];
  type Entry = CommandDef<any> | (() => Promise<CommandDef<any>>);
  const load = async (entry: Entry) => (typeof entry === "function" ? await entry() : entry);
  for (;;) {
    const subs = (typeof cmd.subCommands === "function" ? await cmd.subCommands() : cmd.subCommands) as Record<string, Entry> | undefined;
    const name = rest[0];
    if (!subs || name === undefined || name.startsWith("-")) {
      // `pp log shw ID` is a typo of the verb, not an id to look up.
      const verbs = Object.hasOwn(VERBS, path.join(" ")) ? Object.keys(VERBS[path.join(" ")]!) : [];
      const near = name !== undefined && !name.startsWith("-") && !verbs.includes(name) ? suggest(name, verbs) : undefined;
      if (near !== undefined) throw new PpError("usage", `unknown command "${[...path, name].join(" ")}"; did you mean "pp ${[...path, near].join(" ")}"?`);
      return { cmd, parent, rest };
    }
    // Own keys only: `pp constructor` must not find Object.prototype.constructor.
    const entry = Object.hasOwn(subs, name) ? subs[name] : undefined;
    if (!entry) {
      // Hidden commands are neither listed nor offered.
      const visible: string[] = [];
      for (const [n, e] of Object.entries(subs)) {
        const c = await load(e);
        const meta = (typeof c.meta === "function" ? await c.meta() : await c.meta) ?? {};
        if (!meta.hidden) visible.push(n);
      }
      const near = suggest(name, visible);
      const typed = [...path, name].join(" ");
      throw new PpError(
        "usage",
        near !== undefined ? `unknown command "${typed}"; did you mean "pp ${[...path, near].join(" ")}"?` : `unknown command "${typed}"; commands are: ${visible.join(", ")}`,
      );
    }
    parent = cmd;
    cmd = await load(entry);
    path.push(name);
    rest = rest.slice(1);
  }
}

/** Options that may come before the command name (`pp --config X send ...`); each command still decides if it takes them. */
const GLOBAL_FLAGS = new Map<string, "value" | "switch">([
  ["--config", "value"],
  ["--json", "switch"],
  ["--quiet", "switch"],
  ["-q", "switch"],
]);

/** Splits the global options before the command from the rest; any other option there is a usage error. */
function leadingGlobals(argv: string[]): { globals: string[]; after: string[] } {
  const globals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-" || a === "--" || a === "--help" || a === "-h") break;
    const name = a.split("=")[0]!;
    const kind = GLOBAL_FLAGS.get(name);
    if (!kind) {
      const near = suggest(name.replace(/^-+/, ""), [...GLOBAL_FLAGS.keys()].filter((k) => k.startsWith("--")).map((k) => k.slice(2)));
      if (near !== undefined) throw new PpError("usage", `unknown option "${name}"; did you mean "--${near}"?`);
      throw new PpError("usage", `unknown option "${name}" before the command; only ${[...GLOBAL_FLAGS.keys()].join(", ")} may come first, other options go after the command (pp --help)`);
    }
    globals.push(a);
    if (kind === "value" && !a.includes("=")) {
      if (i + 1 >= argv.length) throw new PpError("usage", `option "${a}" needs a value`);
      globals.push(argv[++i]!);
    }
  }
  return { globals, after: argv.slice(i) };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "-v")) {
    try {
      await outAsync(versionLine());
    } catch (err) {
      return reportError(err);
    }
    return 0;
  }
  try {
    const { globals, after } = leadingGlobals(argv);
    const found = await resolve(after);
    const { cmd, parent } = found;
    const rest = [...globals, ...found.rest];
    if (cmd === root && globals.length && !rest.includes("--help") && !rest.includes("-h")) {
      throw new PpError("usage", `no command after ${globals[0]}; commands are: ${Object.keys(commands).filter((n) => !n.startsWith("__")).join(", ")} (pp --help)`);
    }
    if (rest.includes("--help") || rest.includes("-h") || (cmd === root && rest.length === 0)) {
      await printHelp(cmd, parent);
      return 0;
    }
    if (!cmd.run) {
      await printHelp(cmd, parent);
      return 2;
    }
    const dashdash = rest.indexOf("--");
    checkFlags(dashdash === -1 ? rest : rest.slice(0, dashdash), (cmd.args ?? {}) as Record<string, any>);
    process.exitCode = 0;
    await runWithArgs(cmd, rest);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return reportError(err);
  }
}

export function reportError(err: unknown): number {
  if (err instanceof PpError) {
    // Messages quote names and answers given to pp (--ch values, platform texts): never raw to the terminal.
    writeStderr(`pp: ${clean(err.message)}\n`);
    return err.exitCode;
  }
  // citty's own argument errors (missing positional, bad enum value) are usage errors.
  if (err instanceof Error && err.name === "CLIError") {
    writeStderr(`pp: ${clean(err.message.replace(/\x1b\[[0-9;]*m/g, ""))}\nRun with --help for usage.\n`);
    return 2;
  }
  // A push log damaged or taken away after it was opened fails on a later query.
  if (isSqliteError(err)) {
    const e = storeError(err, openedStorePath() ?? "(unknown)", "use");
    writeStderr(`pp: ${clean(e.message)}\n`);
    return e.exitCode;
  }
  const e = err as Error;
  // One line; the stack only on request, for a bug report.
  const detail = process.env.PP_DEBUG ? String(e?.stack ?? e) : String(e?.message ?? e).split("\n")[0];
  writeStderr(`pp: internal error: ${clean(detail)} (a bug in pp; PP_DEBUG=1 shows where)\n`);
  return 1;
}

if (import.meta.main) {
  // No top-level await: `pp completion` imports this module for the command tree, and would wait on itself.
  // Not process.exit() either: it can cut off output still being written to a pipe (pp log --json | jq).
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
