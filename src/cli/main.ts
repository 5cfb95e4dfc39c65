#!/usr/bin/env bun
import { runCommand, renderUsage, type CommandDef } from "citty";
import { PpError } from "../core/errors.ts";
import { versionLine } from "../version.ts";
import { isSqliteError, openedStorePath, storeError } from "../store/errors.ts";
import { checkFlags } from "./args.ts";
import { clean, out } from "./out.ts";

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
  completion: () => import("./completion.ts"),
};

export const EXIT_CODES = `EXIT CODES

  0  success: every delivery succeeded
  1  at least one delivery failed (see \`pp log --failed\`, resend with \`pp replay --failed\`)
  2  usage or configuration error; nothing was sent
  3  the push log cannot be opened or written; nothing was sent
  4  sent, but the outcome could not be written to the push log; stderr lists each channel's outcome
  5  the result could not be written to stdout (full or closed); stderr has the message id
  129, 130, 143  interrupted (SIGHUP, SIGINT, SIGTERM): requests in flight finished and were logged,
     what never started is logged as failed (a second signal exits at once: in flight = uncertain)`;

export async function loadCommand(name: string): Promise<CommandDef<any>> {
  return (await commands[name]!()).default;
}

export const root: CommandDef<any> = {
  meta: {
    name: "pp",
    description: "Send notifications to WeCom, Feishu/Lark, DingTalk, Slack, Discord, Mattermost and webhooks",
  },
  subCommands: Object.fromEntries(Object.keys(commands).map((n) => [n, () => loadCommand(n)])),
};

const EXAMPLES = `EXAMPLES

  pp send --ch ops "deploy done"                   to a channel or group
  df -h | pp send --ch ops --title "Disk report"   the text from stdin
  pp send --dry-run --ch feishu "hello"            show the requests, send nothing
  pp log --failed --since 1h                       what did not arrive
  pp replay <id>                                   send it again
  pp --version                                     version, commit, OS/arch`;

async function printHelp(cmd: CommandDef<any>, parent?: CommandDef<any>): Promise<void> {
  const examples = cmd === root ? `\n\n${EXAMPLES}` : "";
  out(`${await renderUsage(cmd, parent)}${examples}\n\n${EXIT_CODES}\n`);
}

/** Finds the (possibly nested) command named by argv, returning it with the arguments that belong to it. */
async function resolve(argv: string[]): Promise<{ cmd: CommandDef<any>; parent?: CommandDef<any>; rest: string[] }> {
  let cmd: CommandDef<any> = root;
  let parent: CommandDef<any> | undefined;
  let rest = argv;
  for (;;) {
    const subs = (typeof cmd.subCommands === "function" ? await cmd.subCommands() : cmd.subCommands) as
      | Record<string, CommandDef<any> | (() => Promise<CommandDef<any>>)>
      | undefined;
    const name = rest[0];
    if (!subs || name === undefined || name.startsWith("-")) return { cmd, parent, rest };
    // Own keys only: `pp constructor` must not find Object.prototype.constructor.
    const entry = Object.hasOwn(subs, name) ? subs[name] : undefined;
    if (!entry) {
      const known = Object.keys(subs).join(", ");
      throw new PpError("usage", `unknown command "${name}"; commands are: ${known}`);
    }
    parent = cmd;
    cmd = typeof entry === "function" ? await entry() : entry;
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
      out(versionLine());
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
      throw new PpError("usage", `no command after ${globals[0]}; commands are: ${Object.keys(commands).join(", ")} (pp --help)`);
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
    await runCommand(cmd, { rawArgs: rest });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return reportError(err);
  }
}

export function reportError(err: unknown): number {
  if (err instanceof PpError) {
    // Messages quote names and answers given to pp (--ch values, platform texts): never raw to the terminal.
    console.error(`pp: ${clean(err.message)}`);
    return err.exitCode;
  }
  // citty's own argument errors (missing positional, bad enum value) are usage errors.
  if (err instanceof Error && err.name === "CLIError") {
    console.error(`pp: ${clean(err.message.replace(/\x1b\[[0-9;]*m/g, ""))}\nRun with --help for usage.`);
    return 2;
  }
  // A push log damaged or taken away after it was opened fails on a later query.
  if (isSqliteError(err)) {
    const e = storeError(err, openedStorePath() ?? "(unknown)", "use");
    console.error(`pp: ${clean(e.message)}`);
    return e.exitCode;
  }
  const e = err as Error;
  // One line; the stack only on request, for a bug report.
  const detail = process.env.PP_DEBUG ? String(e?.stack ?? e) : String(e?.message ?? e).split("\n")[0];
  console.error(`pp: internal error: ${clean(detail)} (a bug in pp; PP_DEBUG=1 shows where)`);
  return 1;
}

if (import.meta.main) {
  // No top-level await: `pp completion` imports this module for the command tree, and would wait on itself.
  // Not process.exit() either: it can cut off output still being written to a pipe (pp log --json | jq).
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
