import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ArgsDef } from "citty";
import { checkFlags } from "../../src/cli/args.ts";
import { PpError } from "../../src/core/errors.ts";
import { tempDir } from "../helpers.ts";

const MAIN = resolve(import.meta.dir, "../../src/cli/main.ts");

/** Runs pp from source; stdin closed so nothing waits for it. */
function pp(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("a misspelt command gets the nearest one", () => {
  test.each([
    [["sned", "hi"], 'pp: unknown command "sned"; did you mean "pp send"?'],
    [["replya"], 'pp: unknown command "replya"; did you mean "pp replay"?'],
    [["config", "chek"], 'pp: unknown command "config chek"; did you mean "pp config check"?'],
    // `show` is a word `pp log` takes, not a subcommand; a typo of it is not an id to look up.
    [["log", "shw", "01JD3Q8V7W9X0Y1Z2A3B4C5D6E"], 'pp: unknown command "log shw"; did you mean "pp log show"?'],
    [["log", "shwo"], 'pp: unknown command "log shwo"; did you mean "pp log show"?'],
  ])("%p", (args, line) => {
    const r = pp(args);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
  });

  test("a misspelt shell for pp completion", () => {
    expect(pp(["completion", "zhs"]).stderr).toBe('pp: unknown shell "zhs"; did you mean "zsh"?\n');
  });

  test("nothing close: the commands are listed, hidden ones left out", () => {
    const r = pp(["deploy"]);
    expect(r.stderr).toBe('pp: unknown command "deploy"; commands are: send, test, log, replay, channels, config, serve, completion\n');
    expect(r.code).toBe(2);
  });

  test("an id after pp log still points to pp log show", () => {
    const r = pp(["log", "01JD3Q8V7W9X0Y1Z2A3B4C5D6E"], { PP_CONFIG: join(tempDir(), "none.toml") });
    expect(r.stderr).not.toContain("unknown command");
  });
});

describe("a misspelt option gets the nearest one", () => {
  const send = {
    ch: { type: "string", alias: "c" },
    title: { type: "string", alias: "t" },
    dryRun: { type: "boolean" },
    quiet: { type: "boolean", alias: "q" },
    text: { type: "positional" },
  } as const satisfies ArgsDef;
  const fails = (argv: string[]) => {
    try {
      checkFlags(argv, send);
    } catch (e) {
      expect(e).toBeInstanceOf(PpError);
      return (e as Error).message;
    }
    throw new Error("expected a usage error");
  };

  test.each([
    [["--chanel", "ops"], 'unknown option "--chanel"; did you mean "--ch"?'],
    [["--channel=ops"], 'unknown option "--channel"; did you mean "--ch"?'],
    [["--tilte", "x"], 'unknown option "--tilte"; did you mean "--title"?'],
    [["--dryrun"], 'unknown option "--dryrun"; did you mean "--dry-run"?'],
    [["--queit"], 'unknown option "--queit"; did you mean "--quiet"?'],
    [["--hlep"], 'unknown option "--hlep"; did you mean "--help"?'],
    // Nothing close: the options are listed, in the spelling help shows.
    [["--zzz"], 'unknown option "--zzz"; this command accepts --ch, --title, --dry-run, --quiet'],
    [["-x"], 'unknown option "-x"; this command accepts --ch, --title, --dry-run, --quiet'],
  ])("%p", (argv, message) => {
    expect(fails(argv)).toBe(message);
  });

  test("before the command, only the global options are offered", () => {
    expect(pp(["--confg", "x.toml", "send", "hi"]).stderr).toBe('pp: unknown option "--confg"; did you mean "--config"?\n');
    expect(pp(["--bogus", "send"]).stderr).toStartWith('pp: unknown option "--bogus" before the command; only --config');
    expect(pp(["--json"]).stderr).toBe("pp: no command after --json; commands are: send, test, log, replay, channels, config, serve, completion (pp --help)\n");
  });

  test("end to end, one line on stderr, exit 2", () => {
    const r = pp(["send", "--chanel", "ops", "hi"]);
    expect(r.stderr).toBe('pp: unknown option "--chanel"; did you mean "--ch"?\n');
    expect(r.code).toBe(2);
  });
});

describe("a misspelt channel or group given to --ch", () => {
  test("gets the nearest configured name, and nothing is sent", () => {
    const dir = tempDir();
    const config = join(dir, "pp.toml");
    writeFileSync(config, `[channels.ops]\ntype = "slack"\nwebhook = "http://127.0.0.1:9/services/T000/B000/xxxx"\n[groups]\noncall = ["ops"]\n`);
    const env = { PP_CONFIG: config, PP_DB: join(dir, "pp.db") };
    const r = pp(["send", "--ch", "opps", "hi"], env);
    expect(r.stderr).toBe(`pp: unknown channel or group "opps"; did you mean "ops"? (in ${config})\n`);
    expect(r.code).toBe(2);
    // Refused before the push log was opened: nothing recorded, nothing sent.
    expect(existsSync(join(dir, "pp.db"))).toBe(false);
    const g = pp(["send", "--ch", "ops,on-call", "hi"], env);
    expect(g.stderr).toBe(`pp: unknown channel or group "on-call"; did you mean "oncall"? (in ${config})\n`);
    const far = pp(["send", "--ch", "zzz", "hi"], env);
    expect(far.stderr).toBe(`pp: unknown channel or group "zzz"; configured: ops, oncall (in ${config})\n`);
  });
});
