import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { CommandDef } from "citty";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { completionScript, describe as describeTree, SHELLS } from "../src/cli/completion.ts";
import { expectedCompletions } from "../scripts/completions.ts";
import { bashComplete as shellBash, fishComplete as shellFish, zshScreen as shellZsh } from "./shells.ts";

const ROOT = resolve(import.meta.dir, "..");
const MAIN = join(ROOT, "src/cli/main.ts");

let work: string;
let binDir: string;
let env: Record<string, string>;

const CONFIG = `
[channels.ops]
type = "slack"
webhook = "https://hooks.slack.com/services/T000/B000/xxxx"

[channels.dev-room]
type = "discord"
webhook = "https://discord.com/api/webhooks/1/abc"

[groups]
oncall = ["ops", "dev-room"]
`;

const OTHER_CONFIG = `
[channels.elsewhere]
type = "slack"
webhook = "https://hooks.slack.com/services/T000/B000/yyyy"
`;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "pp-completion-test-"));
  binDir = join(work, "bin");
  mkdirSync(binDir);
  // Running from source keeps each <TAB> fast; the completion scripts only need a `pp` on PATH.
  writeFileSync(join(binDir, "pp"), `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`, { mode: 0o755 });
  writeFileSync(join(work, "pp.toml"), CONFIG);
  writeFileSync(join(work, "other.toml"), OTHER_CONFIG);
  writeFileSync(join(work, "broken.toml"), "[channels.x\n");
  env = { PATH: `${binDir}:${process.env.PATH}`, HOME: work, PP_CONFIG: join(work, "pp.toml"), NO_COLOR: "1" };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("committed completion scripts", () => {
  test("match what the command tree generates (run `bun scripts/completions.ts` after changing commands)", async () => {
    for (const { file, text } of await expectedCompletions()) {
      expect({ file, text: readFileSync(file, "utf8") }).toEqual({ file, text });
    }
  });

  // A hang here means the completion command cannot load the command tree: src/cli/main.ts must not
  // hold its own evaluation open with a top-level await (the tree is imported from it lazily).
  test("`pp completion <shell>` prints the same scripts", () => {
    for (const shell of SHELLS) {
      const r = Bun.spawnSync([process.execPath, MAIN, "completion", shell], { stdout: "pipe", stderr: "pipe", timeout: 10_000 });
      expect(r.exitCode).toBe(0);
      const file = { bash: "pp.bash", zsh: "_pp", fish: "pp.fish", powershell: "pp.ps1" }[shell];
      expect(r.stdout.toString()).toBe(readFileSync(join(ROOT, "completions", file), "utf8"));
    }
  }, 60_000);

  test("an unknown shell is a usage error", () => {
    const r = Bun.spawnSync([process.execPath, MAIN, "completion", "tcsh"], { stdout: "pipe", stderr: "pipe", timeout: 20_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain('unknown shell "tcsh"');
  });
});

describe("reading the command tree", () => {
  const tree: CommandDef<any> = {
    meta: { name: "pp", description: "root" },
    subCommands: {
      send: async () => ({
        meta: { description: "Send" },
        args: {
          ch: { type: "string", alias: ["c"], description: "Channel" },
          format: { type: "enum", alias: "f", options: ["text", "markdown"], description: "Format" },
          dryRun: { type: "boolean", description: "Do not send" },
          config: { type: "string", valueHint: "path" },
          text: { type: "positional", required: false },
        },
      }),
      secret: { meta: { description: "internal", hidden: true } },
      test: () => ({ meta: { description: "Test" }, args: { names: { type: "positional" } } }),
      completion: { meta: { description: "Completion" }, args: { shell: { type: "positional", valueHint: "bash|zsh" } } },
      config: { meta: { description: "Config" }, subCommands: { check: { meta: { description: "Check" } } } },
    },
  };

  test("resolves lazy commands and describes flags, aliases, values and positionals", async () => {
    const spec = await describeTree(tree);
    expect(spec.subcommands.map((s) => s.name)).toEqual(["send", "test", "completion", "config"]);
    const send = spec.subcommands[0]!;
    expect(send.flags.map((f) => [...f.long, ...f.short])).toEqual([
      ["--ch", "-c"],
      ["--format", "-f"],
      ["--dry-run"],
      ["--config"],
      ["--help", "-h"],
    ]);
    expect(send.flags[0]!.values).toEqual({ kind: "channels" });
    expect(send.flags[1]!.values).toEqual({ kind: "choices", values: ["text", "markdown"] });
    expect(send.flags[2]!.takesValue).toBe(false);
    expect(send.flags[3]!.values).toEqual({ kind: "files" });
    expect(send.positional).toEqual({ kind: "none" });
    expect(spec.subcommands[1]!.positional).toEqual({ kind: "channels" });
    expect(spec.subcommands[2]!.positional).toEqual({ kind: "choices", values: ["bash", "zsh"] });
    expect(spec.subcommands[3]!.subcommands[0]!.path).toEqual(["config", "check"]);
    expect(spec.flags.map((f) => f.long[0])).toEqual(["--help", "--version"]);
  });

  test("every generated script carries every command and flag", async () => {
    const spec = await describeTree(tree);
    for (const shell of SHELLS) {
      const text = completionScript(shell, spec);
      for (const word of ["send", "test", "check", "dry-run", "markdown"]) expect(text).toContain(word);
      expect(text).not.toContain("secret");
    }
  });
});

/** Runs the bash completion function as bash would for the words typed so far; returns the candidates. */
function bashComplete(words: string[], extraEnv: Record<string, string> = {}): string[] {
  return shellBash({ ...env, ...extraEnv }, words).sort();
}

describe("bash completion", () => {
  test("commands", () => {
    expect(bashComplete(["pp", "se"])).toEqual(["send", "serve"]);
    expect(bashComplete(["pp", "sen"])).toEqual(["send"]);
    expect(bashComplete(["pp", "c"])).toEqual(["channels", "completion", "config"]);
    expect(bashComplete(["pp", "config", ""])).toEqual(["check", "init", "path"]);
    expect(bashComplete(["pp", "completion", ""])).toEqual(["bash", "fish", "powershell", "zsh"]);
  });

  test("flags and their values", () => {
    expect(bashComplete(["pp", "send", "--f"])).toEqual(["--format"]);
    expect(bashComplete(["pp", "send", "--format", ""])).toEqual(["html", "json", "markdown", "text"]);
    expect(bashComplete(["pp", "send", "-f", "m"])).toEqual(["markdown"]);
    // COMP_WORDBREAKS splits --format=m into three words.
    expect(bashComplete(["pp", "send", "--format", "=", "m"])).toEqual(["markdown"]);
    expect(bashComplete(["pp", "send", "--format", "="])).toEqual(["html", "json", "markdown", "text"]);
    expect(bashComplete(["pp", "--"])).toEqual(["--help", "--version"]);
    expect(bashComplete(["pp", "send", "hello", "--q"])).toEqual(["--quiet"]);
  });

  test("a flag's value is not taken for a command or a flag", () => {
    expect(bashComplete(["pp", "send", "--title", "--f"])).toEqual([]);
    expect(bashComplete(["pp", "send", "--title", "x", "--f"])).toEqual(["--format"]);
  });

  test("channel and group names come from the config in use", () => {
    expect(bashComplete(["pp", "send", "--ch", ""])).toEqual(["dev-room", "oncall", "ops"]);
    expect(bashComplete(["pp", "send", "-c", "o"])).toEqual(["oncall", "ops"]);
    expect(bashComplete(["pp", "send", "--ch", "ops,d"])).toEqual(["ops,dev-room"]);
    expect(bashComplete(["pp", "test", ""])).toEqual(["dev-room", "oncall", "ops"]);
    expect(bashComplete(["pp", "log", "--ch", ""])).toEqual(["dev-room", "oncall", "ops"]);
    expect(bashComplete(["pp", "send", "--config", join(work, "other.toml"), "--ch", ""])).toEqual(["elsewhere"]);
  }, 30_000);

  test("a broken or missing config completes nothing and prints nothing", () => {
    expect(bashComplete(["pp", "send", "--ch", ""], { PP_CONFIG: join(work, "broken.toml") })).toEqual([]);
    expect(bashComplete(["pp", "send", "--ch", ""], { PP_CONFIG: join(work, "missing.toml") })).toEqual([]);
  });

  test("--config completes file names", () => {
    expect(bashComplete(["pp", "send", "--config", join(work, "oth")])).toEqual([join(work, "other.toml")]);
  });
});

describe.skipIf(!Bun.which("fish"))("fish completion (needs fish on PATH: apt-get install fish)", () => {
  const fishComplete = (line: string) => shellFish(env, line).map((l) => l.split("\t")[0]!).sort();

  test("commands, flags, values and channel names", () => {
    expect(fishComplete("pp sen")).toEqual(["send"]);
    expect(fishComplete("pp send --fo")).toEqual(["--format"]);
    expect(fishComplete("pp send --format ")).toEqual(["html", "json", "markdown", "text"]);
    expect(fishComplete("pp send --ch ")).toEqual(["dev-room", "oncall", "ops"]);
    expect(fishComplete("pp test ")).toEqual(["dev-room", "oncall", "ops"]);
    expect(fishComplete("pp config c")).toEqual(["check"]);
  }, 30_000);
});

describe.skipIf(!Bun.which("zsh"))("zsh completion (needs zsh on PATH: apt-get install zsh)", () => {
  test("the script parses", () => {
    const r = Bun.spawnSync(["zsh", "-n", join(ROOT, "completions/_pp")], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  const zshScreen = (line: string, expectText: string) => shellZsh(env, work, line, expectText);

  test("completes commands, enum values and channel names in a real zsh", () => {
    expect(zshScreen("pp sen", "pp send")).toContain("pp send");
    const formats = zshScreen("pp send --format ", "markdown");
    expect(formats).toContain("markdown");
    expect(formats).toContain("text");
    const names = zshScreen("pp send --ch ", "dev-room");
    expect(names).toContain("dev-room");
    expect(names).toContain("oncall");
  }, 30_000);
});

describe("powershell completion", () => {
  test("lists every command path with its flags and the channel lookup", () => {
    const text = readFileSync(join(ROOT, "completions/pp.ps1"), "utf8");
    expect(text).toContain("Register-ArgumentCompleter -Native -CommandName 'pp', 'pp.exe'");
    for (const path of ["''", "'send'", "'config check'", "'test'"]) expect(text).toContain(`    ${path} = @{`);
    expect(text).toContain("'--format' = { @('text', 'markdown', 'html', 'json') }");
    expect(text).toContain("channels --names");
  });
});
