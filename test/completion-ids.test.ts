import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { age, recentIds, RECENT_IDS } from "../src/cli/complete.ts";
import { newId } from "../src/core/id.ts";
import { openDb } from "../src/store/db.ts";
import { tempDir } from "./helpers.ts";
import { bashComplete as shellBash, fishComplete as shellFish, zshScreen as shellZsh } from "./shells.ts";

const ROOT = resolve(import.meta.dir, "..");
const MAIN = join(ROOT, "src/cli/main.ts");

const CONFIG = (db: string) => `
[log]
path = ${JSON.stringify(db)}

[channels.ops]
type = "slack"
webhook = "https://hooks.slack.com/services/T000/B000/xxxx"

[channels.dev-room]
type = "discord"
webhook = "https://discord.com/api/webhooks/1/abc"

[groups]
oncall = ["ops", "dev-room"]
`;

let work: string;
let env: Record<string, string>;
/** Message ids in the store, oldest first. */
let ids: string[];
let savedDb: string | undefined;

/** Writes messages to a push log the way pp lays it out (the real schema, through openDb). */
function fill(path: string, texts: { title?: string; text: string }[]): string[] {
  const db = openDb(path);
  const made: string[] = [];
  // Three hours ago, a minute apart.
  const start = Date.now() - 3 * 3_600_000;
  texts.forEach((m, i) => {
    const id = newId(start + i * 60_000);
    db.query("INSERT INTO messages (id, created_at, title, text, format, source, targets) VALUES (?, ?, ?, ?, 'text', 'cli', '[\"ops\"]')").run(
      id, start + i * 60_000, m.title ?? null, m.text,
    );
    made.push(id);
  });
  db.close();
  return made;
}

beforeAll(() => {
  work = tempDir("pp-completion-ids-");
  const binDir = join(work, "bin");
  mkdirSync(binDir);
  // The completion scripts run `pp` from PATH; from source keeps each <TAB> quick.
  writeFileSync(join(binDir, "pp"), `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`, { mode: 0o755 });
  const db = join(work, "pp.db");
  writeFileSync(join(work, "pp.toml"), CONFIG(db));
  const texts: { title?: string; text: string }[] = Array.from({ length: RECENT_IDS + 5 }, (_, i) => ({ text: `message number ${i}` }));
  texts.push({ title: "Disk", text: "full\tat 97%\non /var" });
  texts.push({ text: "\x1b]0;pwned\x07\x1b[2Jdeploy done" });
  ids = fill(db, texts);
  env = { PATH: `${binDir}:${process.env.PATH}`, HOME: work, PP_CONFIG: join(work, "pp.toml"), NO_COLOR: "1" };
  // recentIds() runs in this process: $PP_DB would override the config's [log] path.
  savedDb = process.env.PP_DB;
  delete process.env.PP_DB;
});
afterAll(() => {
  if (savedDb !== undefined) process.env.PP_DB = savedDb;
});

const newest = () => [...ids].reverse().slice(0, RECENT_IDS);

describe("recent message ids for completion", () => {
  test("newest first, at most RECENT_IDS, each with its time and a one-line preview", () => {
    const lines = recentIds(join(work, "pp.toml")).split("\n").filter(Boolean);
    expect(lines.map((l) => l.split("\t")[0])).toEqual(newest());
    // Exactly one tab per line: the id, then the preview.
    for (const l of lines) expect(l.split("\t").length).toBe(2);
    expect(lines[1]).toBe(`${ids.at(-2)}\t2h ago Disk: full at 97% on /var`);
  });

  test("the age is told in one unit", () => {
    expect([0, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999, 86_400_000 * 3, -5000].map(age)).toEqual([
      "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "23h ago", "3d ago", "0s ago",
    ]);
  });

  test("control characters in a preview are shown escaped, never raw", () => {
    const text = recentIds(join(work, "pp.toml"));
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(text.split("\n")[0]).toEndWith("\\x1b]0;pwned\\x07\\x1b[2Jdeploy done");
  });

  test("no config, no push log, a damaged, locked or odd one: nothing, and nothing created", () => {
    const dir = tempDir();
    const configFor = (db: string) => {
      const file = join(dir, `${Math.random().toString(36).slice(2)}.toml`);
      writeFileSync(file, CONFIG(db));
      return file;
    };
    expect(recentIds(join(dir, "missing.toml"))).toBe("");
    const missing = join(dir, "none", "pp.db");
    expect(recentIds(configFor(missing))).toBe("");
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(join(dir, "none"))).toBe(false);

    const damaged = join(dir, "damaged.db");
    writeFileSync(damaged, "this is not a database".repeat(100));
    expect(recentIds(configFor(damaged))).toBe("");
    expect(readFileSync(damaged, "utf8")).toBe("this is not a database".repeat(100));

    const empty = join(dir, "empty.db");
    new Database(empty).close();
    expect(recentIds(configFor(empty))).toBe("");

    expect(recentIds(configFor(dir))).toBe("");

    const fifo = join(dir, "fifo.db");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    expect(recentIds(configFor(fifo))).toBe("");

    const locked = join(dir, "locked.db");
    const lockedIds = fill(locked, [{ text: "one" }]);
    const configLocked = configFor(locked);
    expect(recentIds(configLocked)).toStartWith(lockedIds[0]!);
    const holder = new Database(locked);
    holder.run("PRAGMA locking_mode = EXCLUSIVE");
    holder.run("BEGIN EXCLUSIVE");
    holder.run("INSERT INTO messages (id, created_at, text, format, source, targets) VALUES ('X', 0, 't', 'text', 'cli', '[]')");
    try {
      expect(recentIds(configLocked)).toBe("");
    } finally {
      holder.run("ROLLBACK");
      holder.close();
    }
  });

  test("`pp __complete ids` prints them, and prints nothing (exit 0) without a config", () => {
    const run = (extra: Record<string, string>) =>
      Bun.spawnSync([process.execPath, MAIN, "__complete", "ids"], { env: { ...env, ...extra }, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
    const r = run({});
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().split("\n").filter(Boolean).map((l) => l.split("\t")[0])).toEqual(newest());
    const none = run({ PP_CONFIG: join(work, "missing.toml") });
    expect({ out: none.stdout.toString(), err: none.stderr.toString(), code: none.exitCode }).toEqual({ out: "", err: "", code: 0 });
  });

  test("the internal command is not offered or listed", () => {
    const script = readFileSync(join(ROOT, "completions/pp.bash"), "utf8");
    expect(script).not.toMatch(/_pp_subcommands[\s\S]*'__complete'/);
    const help = Bun.spawnSync([process.execPath, MAIN, "--help"], { env, stdout: "pipe" }).stdout.toString();
    expect(help).not.toContain("__complete");
  });
});

function bashComplete(words: string[], extraEnv: Record<string, string> = {}): string[] {
  return shellBash({ ...env, ...extraEnv }, words);
}

describe("bash", () => {
  test("`pp log` offers show; `pp log show` and `pp replay` offer recent ids", () => {
    expect(bashComplete(["pp", "log", ""])).toEqual(["show"]);
    expect(bashComplete(["pp", "log", "sh"])).toEqual(["show"]);
    expect(bashComplete(["pp", "log", "show", ""])).toEqual(newest());
    expect(bashComplete(["pp", "replay", ""])).toEqual(newest());
    const last = ids.at(-1)!;
    expect(bashComplete(["pp", "replay", last.slice(0, 24)])).toEqual(newest().filter((id) => id.startsWith(last.slice(0, 24))));
    expect(bashComplete(["pp", "log", "--ch", ""]).sort()).toEqual(["dev-room", "oncall", "ops"]);
  }, 30_000);

  test("nothing without a config", () => {
    expect(bashComplete(["pp", "log", "show", ""], { PP_CONFIG: join(work, "missing.toml") })).toEqual([]);
  });
});

describe.skipIf(!Bun.which("fish"))("fish (needs fish on PATH: apt-get install fish)", () => {
  const fishComplete = (line: string, extraEnv: Record<string, string> = {}) => shellFish({ ...env, ...extraEnv }, line);
  const names = (lines: string[]) => lines.map((l) => l.split("\t")[0]!).sort();

  test("completes the last name of a comma-separated --ch list", () => {
    expect(names(fishComplete("pp send --ch ops,d"))).toEqual(["ops,dev-room"]);
    expect(names(fishComplete("pp send --ch ops,"))).toEqual(["ops,dev-room", "ops,oncall", "ops,ops"]);
    expect(names(fishComplete("pp send -c dev-room,o"))).toEqual(["dev-room,oncall", "dev-room,ops"]);
    expect(names(fishComplete("pp send --ch=ops,on"))).toEqual(["--ch=ops,oncall"]);
    expect(names(fishComplete("pp send --ch o"))).toEqual(["oncall", "ops"]);
  }, 30_000);

  test("`pp log` offers show; `pp log show` and `pp replay` offer recent ids with a preview", () => {
    expect(names(fishComplete("pp log "))).toEqual(["show"]);
    const shown = fishComplete("pp log show ");
    expect(shown.map((l) => l.split("\t")[0])).toEqual(newest());
    expect(shown[1]).toBe(`${ids.at(-2)}\t2h ago Disk: full at 97% on /var`);
    expect(shown.join("\n")).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(fishComplete("pp replay ").map((l) => l.split("\t")[0])).toEqual(newest());
  }, 30_000);

  test("nothing without a config", () => {
    expect(fishComplete("pp replay ", { PP_CONFIG: join(work, "missing.toml") })).toEqual([]);
  });
});

describe.skipIf(!Bun.which("zsh"))("zsh (needs zsh on PATH: apt-get install zsh)", () => {
  const zshScreen = (line: string, expectText: string, tabs = 1) => shellZsh(env, work, line, expectText, tabs);

  test("`pp log` offers show", () => {
    expect(zshScreen("pp log ", "pp log show")).toContain("pp log show");
  }, 30_000);

  test("`pp log show` and `pp replay` list recent ids with a preview", () => {
    const screen = zshScreen("pp log show ", "message number 3", 2);
    expect(screen).toContain(ids.at(-1)!);
    expect(screen).toContain("Disk: full at 97% on /var");
    expect(screen).toContain("message number 3");
    const replay = zshScreen("pp replay ", "message number 3", 2);
    expect(replay).toContain(ids.at(-2)!);
  }, 30_000);
});
