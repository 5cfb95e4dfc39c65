/**
 * End-to-end: help and `pp log` as a user meets them, in a pipe and on a terminal (a pseudo-terminal made by
 * util-linux `script`), with and without colour.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp } from "./_run.ts";

needBinary();

const ESC = /\x1b/;
/** No colour setting at all: pp decides by itself. */
const plainEnv = { NO_COLOR: "" };

let slack: Fake;
beforeAll(async () => {
  slack = await startFake("slack");
});
afterAll(async () => {
  await slack.stop();
});

function workspace(): string {
  const dir = tempDir("pp-output-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]
channels = ["team-announcements"]
[log]
path = ${q(join(dir, "pp.db"))}
[channels.team-announcements]
type = "slack"
webhook = ${q(slack.webhook)}
retries = 0
[channels.down]
type = "mattermost"
webhook = "http://127.0.0.1:9/hooks/abcdef0123456789abcdef"
retries = 0
`,
  );
  return dir;
}

/** Runs pp under a pseudo-terminal of `cols` columns; `redirect` is appended to the command line (`> file`). */
async function onTerminal(args: string[], cwd: string, env: Record<string, string>, cols = 80, redirect = ""): Promise<string> {
  const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = `stty cols ${cols}; exec ${[BIN, ...args].map(sh).join(" ")} ${redirect}`;
  const p = Bun.spawn(["script", "-qec", command, "/dev/null"], {
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: cwd, SHELL: "/bin/sh", TERM: "xterm-256color", ...env },
  });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return out.replace(/\r\n/g, "\n");
}

const widths = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => Bun.stringWidth(l));

describe("help", () => {
  test("piped, help holds no escape codes and fits 80 columns", async () => {
    const cwd = workspace();
    for (const args of [["--help"], ["send", "--help"], ["log", "--help"], ["test", "--help"], ["config", "--help"]]) {
      const r = await pp(args, { cwd, env: plainEnv });
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(ESC);
      expect(Math.max(...widths(r.stdout))).toBeLessThanOrEqual(80);
    }
  });

  test("pp log --help shows `pp log show ID`, not a SHOW argument; pp test --help does not point to the push log", async () => {
    const cwd = workspace();
    const log = (await pp(["log", "--help"], { cwd })).stdout;
    expect(log).toContain("pp log show ID");
    expect(log).not.toContain("SHOW");
    const t = (await pp(["test", "--help"], { cwd })).stdout;
    expect(t).toContain("EXIT CODES");
    expect(t).not.toContain("pp log --failed");
  });

  test("on a terminal help is coloured and fits its width; NO_COLOR turns colour off, FORCE_COLOR on", async () => {
    const cwd = workspace();
    const colored = await onTerminal(["send", "--help"], cwd, {}, 60);
    expect(colored).toMatch(ESC);
    expect(Math.max(...widths(colored))).toBeLessThanOrEqual(60);
    expect(await onTerminal(["send", "--help"], cwd, { NO_COLOR: "1" })).not.toMatch(ESC);
    expect(await onTerminal(["send", "--help"], cwd, { NO_COLOR: "anything" })).not.toMatch(ESC);
    expect((await pp(["send", "--help"], { cwd, env: { NO_COLOR: "", FORCE_COLOR: "1" } })).stdout).toMatch(ESC);
  });

  test("on a terminal a delivered send's status line is green, not painted red as an error", async () => {
    const cwd = workspace();
    const shown = await onTerminal(["send", "all fine"], cwd, {}, 80, "> id.txt");
    expect(shown).toContain("\x1b[32m✔\x1b[39m team-announcements");
    expect(shown).not.toContain("\x1b[31m");
  });

  test("with stderr on a terminal and stdout in a file, the file gets no escape codes", async () => {
    const cwd = workspace();
    await onTerminal(["--help"], cwd, {}, 80, "> help.txt");
    await onTerminal(["log"], cwd, {}, 80, "> log.txt");
    const help = await Bun.file(join(cwd, "help.txt")).text();
    expect(help).toContain("USAGE");
    expect(help).not.toMatch(ESC);
    expect(await Bun.file(join(cwd, "log.txt")).text()).not.toMatch(ESC);
  });
});

describe("pp log", () => {
  test("rows fit 80 columns in a pipe, $COLUMNS when set, and the terminal's width", async () => {
    const cwd = workspace();
    const long = "✅ deploy of api-server 2.4.1 to production finished in 3m12s, all health checks green 🚀 👨‍👩‍👧";
    expect((await pp(["send", long], { cwd })).code).toBe(0);
    expect((await pp(["send", "--ch", "down", "⚠️ disk almost full on db-1, 97% used; cleaning up old backups now"], { cwd })).code).toBe(1);
    const id = (await pp(["send", "中文消息测试一下这个很长的消息看看能不能对齐"], { cwd })).stdout.trim();

    const piped = await pp(["log"], { cwd });
    expect(piped.code).toBe(0);
    expect(piped.stdout.trim().split("\n")).toHaveLength(4);
    expect(Math.max(...widths(piped.stdout))).toBeLessThanOrEqual(80);
    // The id shown is a prefix pp log show takes.
    const shown = piped.stdout.split("\n")[1]!.split(/\s+/)[2]!;
    expect(id.startsWith(shown)).toBe(true);
    expect((await pp(["log", "show", shown], { cwd })).stdout).toContain(id);

    const wide = await pp(["log"], { cwd, env: { COLUMNS: "200" } });
    expect(Math.max(...widths(wide.stdout))).toBeLessThanOrEqual(200);
    expect(wide.stdout).toContain(id);
    expect(wide.stdout).toContain("connection refused");

    const terminal = await onTerminal(["log"], cwd, {}, 100);
    expect(terminal).toMatch(ESC);
    expect(Math.max(...widths(terminal))).toBeLessThanOrEqual(100);
  });
});

describe("pp replay --failed", () => {
  test("its report fits 80 columns: each original message heads its channels' lines", async () => {
    const cwd = workspace();
    slack.fault({ kind: "status", status: 503, body: "busy" }, 2);
    const ids: string[] = [];
    for (const text of ["first ✅", "second 🚀"]) {
      const r = await pp(["send", text], { cwd });
      expect(r.code).toBe(1);
      ids.push(r.stdout.trim());
    }
    const r = await pp(["replay", "--failed"], { cwd });
    expect(r.code).toBe(0);
    const replays = r.stdout.trim().split("\n");
    expect(replays).toHaveLength(2);
    expect(Math.max(...widths(r.stderr))).toBeLessThanOrEqual(80);
    for (const [i, id] of ids.entries()) expect(r.stderr).toContain(`message ${id} → replay ${replays[i]}\n  ✔ team-announcements`);
    expect(r.stderr).toContain("pp: replayed 2 messages: 2 delivered, 0 failed, 0 skipped");
  });
});
