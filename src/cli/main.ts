#!/usr/bin/env bun
import { runCommand, renderUsage, type CommandDef } from "citty";
import { PpError } from "../core/errors.ts";
import { versionLine } from "../version.ts";
import { checkFlags } from "./args.ts";

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
  129, 130, 143  interrupted (SIGHUP, SIGINT, SIGTERM); what was not delivered is logged as failed`;

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
  console.log(`${await renderUsage(cmd, parent)}${examples}\n\n${EXIT_CODES}\n`);
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
    const entry = subs[name];
    if (!entry) {
      const known = Object.keys(subs).join(", ");
      throw new PpError("usage", `unknown command "${name}"; commands are: ${known}`);
    }
    parent = cmd;
    cmd = typeof entry === "function" ? await entry() : entry;
    rest = rest.slice(1);
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "-v")) {
    console.log(versionLine());
    return 0;
  }
  try {
    const { cmd, parent, rest } = await resolve(argv);
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
    console.error(`pp: ${err.message}`);
    return err.exitCode;
  }
  // citty's own argument errors (missing positional, bad enum value) are usage errors.
  if (err instanceof Error && err.name === "CLIError") {
    console.error(`pp: ${err.message.replace(/\x1b\[[0-9;]*m/g, "")}\nRun with --help for usage.`);
    return 2;
  }
  const e = err as Error;
  console.error(`pp: internal error: ${e?.stack ?? e}`);
  return 1;
}

if (import.meta.main) {
  // No top-level await: `pp completion` imports this module for the command tree, and would wait on itself.
  // Not process.exit() either: it can cut off output still being written to a pipe (pp log --json | jq).
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
