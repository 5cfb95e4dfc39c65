/**
 * End-to-end: the compiled binary in a hostile environment. Locked, damaged and misplaced push logs, odd config
 * paths, stdout that cannot be written, endless or huge stdin, odd names and flags. Each failure is one line on
 * stderr with its documented exit code, and nothing is sent.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp, type Run } from "./_run.ts";

needBinary();

let slack: Fake;
beforeAll(async () => {
  slack = await startFake("slack", { rate: { count: 1000, windowMs: 1000 } });
});
afterAll(async () => {
  await slack.stop();
});

/** A workspace whose pp.toml has a slack channel `ops` on the fake and its push log at ./pp.db. */
function workspace(extra = "", log = "pp.db"): string {
  const dir = tempDir("pp-env-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]\nchannels = ["ops"]\ndeadline = "20s"\n[log]\npath = ${q(log.startsWith("~") || isAbsolute(log) ? log : join(dir, log))}\n` +
      `[channels.ops]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\nretries = 0\n${extra}`,
  );
  return dir;
}

/** One line on stderr, starting with "pp: ", and no stack trace. */
function oneLine(r: Run): string {
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("pp: ");
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
  return lines[0]!;
}

/** Runs `fn` and checks that the fake received nothing meanwhile. */
async function nothingSent<T>(fn: () => Promise<T>): Promise<T> {
  const before = slack.requests.length;
  const r = await fn();
  expect(slack.requests.length).toBe(before);
  return r;
}

function spawnShell(script: string, args: string[], cwd: string): Promise<Run> {
  return run(["sh", "-c", script, BIN, ...args], cwd);
}

async function run(cmd: string[], cwd: string, stdin?: "ignore" | ReadableStream): Promise<Run> {
  const started = performance.now();
  const p = Bun.spawn(cmd, { cwd, stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, ms: performance.now() - started };
}

describe("limits on durations and names", () => {
  test("a deadline beyond the documented maximum is a usage error, not a timer that fires at once", async () => {
    const cwd = workspace();
    for (const d of ["30d", "24.9d"]) {
      const r = await nothingSent(() => pp(["send", "--deadline", d, "hi"], { cwd }));
      expect(r.code).toBe(2);
      expect(oneLine(r)).toBe(`pp: --deadline: "${d}" is too long: at most 24h`);
    }
    const r = await nothingSent(() => pp(["send", "hi"], { cwd, env: { PP_DEADLINE: "25d" } }));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^pp: PP_DEADLINE: .*at most 24h/);
  });

  test("empty channel names and empty groups are usage errors, never the default channels", async () => {
    const cwd = workspace();
    for (const ch of ["", ",", " "]) {
      const r = await nothingSent(() => pp(["send", "--ch", ch, "hi"], { cwd }));
      expect(r.code).toBe(2);
      expect(oneLine(r)).toMatch(/names no channel/);
    }
    const env = await nothingSent(() => pp(["send", "hi"], { cwd, env: { PP_CHANNELS: "," } }));
    expect(env.code).toBe(2);
    expect(oneLine(env)).toMatch(/^pp: PP_CHANNELS="," names no channel/);

    const empty = workspace("[groups]\nempty = []\n");
    const g = await nothingSent(() => pp(["send", "--ch", "empty", "hi"], { cwd: empty }));
    expect(g.code).toBe(2);
    expect(oneLine(g)).toMatch(/groups\.empty: is empty/);
  });

  test("two names for one webhook: it goes out once, with a note naming both", async () => {
    const cwd = workspace(`[channels.alias]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\n[groups]\nboth = ["ops", "alias"]\n`);
    const before = slack.accepted().length;
    const r = await pp(["send", "--ch", "both", "once please"], { cwd });
    expect(r.code).toBe(0);
    expect(slack.accepted().length).toBe(before + 1);
    expect(r.stderr).toContain("pp: channels ops and alias are the same slack destination; sending once, as ops");
  });

  test("channels and groups named __proto__, constructor and prototype are counted and used", async () => {
    // Each with its own query string, so none is a duplicate destination of another.
    const channel = (n: string, i: number) => `[channels.${n}]\ntype = "slack"\nwebhook = ${q(`${slack.webhook}?c=${i}`)}\n`;
    const extra = ["__proto__", "constructor", "prototype"].map(channel).join("") + `[groups]\nhasOwnProperty = ["constructor", "prototype"]\n`;
    const cwd = workspace(extra);
    const check = await pp(["config", "check"], { cwd });
    expect(check.code).toBe(0);
    expect(check.stderr).toContain("4 channels, 1 group");

    const before = slack.accepted().length;
    const r = await pp(["send", "--ch", "__proto__", "to a name that is data"], { cwd });
    expect(r.stderr).toContain("✔ __proto__");
    expect(r.code).toBe(0);
    expect(slack.accepted().length).toBe(before + 1);
    expect(slack.accepted().at(-1)!.raw).toContain("to a name that is data");

    const g = await pp(["send", "--ch", "hasOwnProperty", "group"], { cwd });
    expect(g.code).toBe(0);
    expect(slack.accepted().length).toBe(before + 3);
  });

  test("54 lines of nested groups load at once (each group is expanded once)", async () => {
    const lines = ["[groups]", 'g0 = ["ops", "ops"]'];
    for (let i = 1; i < 53; i++) lines.push(`g${i} = ["g${i - 1}", "g${i - 1}"]`);
    const cwd = workspace(lines.join("\n"));
    const r = await pp(["channels", "--names"], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toContain("g52");
    const cyc = workspace('[groups]\na = ["b"]\nb = ["a"]\n');
    const c = await pp(["send", "--ch", "a", "x"], { cwd: cyc });
    expect(c.code).toBe(2);
    expect(oneLine(c)).toMatch(/groups include each other in a loop \(a -> b -> a\)/);
  });
});

describe("global flags", () => {
  test("--config, --json and -q before the command", async () => {
    const ws = workspace();
    const cwd = tempDir();
    const r = await pp(["--config", join(ws, "pp.toml"), "--json", "-q", "send", "hi"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "delivered" });
    const c = await pp([`--config=${join(ws, "pp.toml")}`, "config", "check"], { cwd });
    expect(c.code).toBe(0);
  });

  test("an unknown flag before the command is a one-line usage error", async () => {
    const cwd = workspace();
    const r = await nothingSent(() => pp(["--bogus", "send", "hi"], { cwd }));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(oneLine(r)).toMatch(/^pp: unknown option "--bogus" before the command/);
    const j = await pp(["--json", "config", "check"], { cwd });
    expect(j.code).toBe(2);
    expect(oneLine(j)).toMatch(/unknown option "--json"/);
  });
});

describe("the push log fails, pp explains (exit 3, nothing sent)", () => {
  test("a damaged or foreign store file: send, log, --failed, --stats, replay --failed", async () => {
    const cwd = workspace();
    writeFileSync(join(cwd, "pp.db"), "this is not a database ".repeat(500));
    for (const args of [["send", "hi"], ["log"], ["log", "--failed"], ["log", "--stats"], ["replay", "--failed"]]) {
      const r = await nothingSent(() => pp(args, { cwd }));
      expect(r.code).toBe(3);
      expect(oneLine(r)).toContain(`${join(cwd, "pp.db")}: the file is damaged or is not a pp push log; move it aside`);
    }
  });

  test("a store whose pages are damaged after a valid header", async () => {
    const cwd = workspace();
    for (let i = 0; i < 3; i++) expect((await pp(["send", `m${i}`], { cwd })).code).toBe(0);
    const file = join(cwd, "pp.db");
    // pp leaves its writes in the WAL (closeDb): move them into the file whose pages are damaged here.
    const db = new Database(file);
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    const bytes = readFileSync(file);
    for (let i = 4096; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    writeFileSync(file, bytes);
    for (const args of [["log"], ["log", "--failed"], ["replay", "--failed"]]) {
      const r = await nothingSent(() => pp(args, { cwd }));
      expect(r.code).toBe(3);
      expect(oneLine(r)).toMatch(/the file is damaged or is not a pp push log; move it aside/);
    }
  });

  test("a store path that is a directory, or under a regular file", async () => {
    const dir = workspace("", "logdir");
    mkdirSync(join(dir, "logdir"));
    const r = await nothingSent(() => pp(["send", "hi"], { cwd: dir }));
    expect(r.code).toBe(3);
    expect(oneLine(r)).toMatch(/logdir: it is a directory; point \[log\] path or \$PP_DB at a file/);

    // Works as root too: no directory can be made inside a file.
    const cwd = workspace();
    const f = await nothingSent(() => pp(["send", "hi"], { cwd, env: { PP_DB: join(cwd, "pp.toml", "pp.db") } }));
    expect(f.code).toBe(3);
    expect(oneLine(f)).toMatch(/cannot be created because part of that path is a file/);
  });

  test("~ in [log] path is the home directory", async () => {
    const cwd = workspace("", "~/logs/pp.db");
    const home = tempDir("pp-home-");
    const r = await pp(["send", "hi"], { cwd, env: { HOME: home } });
    expect(r.code).toBe(0);
    expect(existsSync(join(home, "logs", "pp.db"))).toBe(true);
    expect(existsSync(join(cwd, "~"))).toBe(false);
  });

  test("a store locked by another process: pp waits out the busy timeout, then names the file", async () => {
    const cwd = workspace();
    expect((await pp(["log"], { cwd })).code).toBe(0);
    const holder = new Database(join(cwd, "pp.db"));
    holder.run("BEGIN IMMEDIATE");
    try {
      const r = await nothingSent(() => pp(["send", "hi"], { cwd }));
      expect(r.code).toBe(3);
      expect(oneLine(r)).toMatch(new RegExp(`push log ${join(cwd, "pp.db")}: it is locked by another process \\(pp waited 10 s\\)`));
    } finally {
      holder.run("ROLLBACK");
      holder.close();
    }
  }, 40_000);

  test("Ctrl-C while waiting for the lock exits 130 at once, not after the busy timeout", async () => {
    const cwd = workspace();
    expect((await pp(["log"], { cwd })).code).toBe(0);
    const holder = new Database(join(cwd, "pp.db"));
    holder.run("BEGIN IMMEDIATE");
    try {
      const before = slack.requests.length;
      const p = Bun.spawn([BIN, "send", "hi"], { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1" } });
      await Bun.sleep(300);
      p.kill("SIGINT");
      const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      expect(code).toBe(130);
      // A handler that waited for SQLite would run only after the busy timeout, which ends in the "locked" error.
      expect(stderr).not.toContain("locked");
      expect(slack.requests.length).toBe(before);
    } finally {
      holder.run("ROLLBACK");
      holder.close();
    }
  }, 40_000);
});

/** A small tmpfs, where this machine lets the tests mount one (root outside a locked-down container). */
function smallDisk(): string | undefined {
  if (process.platform !== "linux") return undefined;
  const dir = tempDir("pp-disk-");
  const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stderr: "pipe" });
  return m.exitCode === 0 ? dir : undefined;
}
const disk = smallDisk();
afterAll(() => {
  if (disk) Bun.spawnSync(["umount", disk]);
});

describe.skipIf(!disk)("a full or read-only disk under the push log (needs root on Linux, to mount a small tmpfs: run as root, as CI does)", () => {
  test("full: exit 3, the file named, nothing sent", async () => {
    const cwd = workspace("", join(disk!, "full.db"));
    expect((await pp(["log"], { cwd })).code).toBe(0);
    writeFileSync(join(disk!, "filler"), "");
    Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(disk!, "filler")}`, "bs=4k"], { stderr: "ignore" });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await nothingSent(() => pp(["send", `${i} ${"z".repeat(20_000)}`], { cwd }));
        expect(r.code).toBe(3);
        expect(oneLine(r)).toMatch(new RegExp(`push log ${join(disk!, "full.db")}: the disk is full; free some space`));
      }
    } finally {
      Bun.spawnSync(["rm", "-f", join(disk!, "filler")]);
    }
  });

  test("read-only (holds for root): exit 3, the file named, nothing sent; reading still works", async () => {
    const cwd = workspace("", join(disk!, "ro.db"));
    expect((await pp(["log"], { cwd })).code).toBe(0);
    expect(Bun.spawnSync(["mount", "-o", "remount,ro", disk!]).exitCode).toBe(0);
    try {
      const r = await nothingSent(() => pp(["send", "hi"], { cwd }));
      expect(r.code).toBe(3);
      expect(oneLine(r)).toMatch(/the file or its directory is read-only/);
      const fresh = await nothingSent(() => pp(["send", "hi"], { cwd, env: { PP_DB: join(disk!, "new.db") } }));
      expect(fresh.code).toBe(3);
      expect(oneLine(fresh)).toMatch(/its directory .* is read-only/);
      expect((await pp(["log"], { cwd })).code).toBe(0);
    } finally {
      Bun.spawnSync(["mount", "-o", "remount,rw", disk!]);
    }
  });
});

describe("the config path", () => {
  test("a FIFO or /dev/zero is refused at once (exit 2), not read", async () => {
    const cwd = workspace();
    const fifo = join(cwd, "fifo.toml");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    for (const path of [fifo, "/dev/zero"]) {
      const p = Bun.spawn([BIN, "--config", path, "send", "hi"], { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: cwd } });
      const killer = setTimeout(() => p.kill("SIGKILL"), 15_000);
      const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      clearTimeout(killer);
      expect(p.signalCode).toBeNull();
      expect(code).toBe(2);
      expect(stderr).toBe(`pp: config file ${path} is not a regular file (a FIFO, socket or device); pass the path of a TOML file\n`);
    }
  }, 40_000);

  test("--limit beyond a safe integer is a usage error", async () => {
    const cwd = workspace();
    const r = await pp(["log", "--limit", "99999999999999999999"], { cwd });
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/--limit "99999999999999999999": expected a whole number from 1 to 1000000/);
  });
});

describe("stdout that cannot be written", () => {
  test("> /dev/full: exit 5, the id and the outcome on stderr, the message still sent once", async () => {
    const cwd = workspace();
    const before = slack.accepted().length;
    const r = await spawnShell('exec "$0" "$@" > /dev/full', ["send", "into a full disk"], cwd);
    expect(r.code).toBe(5);
    expect(slack.accepted().length).toBe(before + 1);
    const last = r.stderr.trimEnd().split("\n").at(-1)!;
    expect(last).toMatch(/^pp: message [0-9A-Z]{26} was sent \(every delivery succeeded\), but its id could not be written to standard output \(the disk is full\)/);
    const id = /message ([0-9A-Z]{26})/.exec(last)![1]!;
    const log = JSON.parse((await pp(["log", "--json"], { cwd })).stdout);
    expect(log[0]).toMatchObject({ id, status: "delivered" });
  });

  test("a closed stdout (>&-) is noticed too", async () => {
    const cwd = workspace();
    const r = await spawnShell('exec "$0" "$@" >&-', ["send", "into nothing"], cwd);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/but its id could not be written to standard output \(it is closed\)/);
  });

  test("pp log > /dev/full exits 5", async () => {
    const cwd = workspace();
    const r = await spawnShell('exec "$0" "$@" > /dev/full', ["log"], cwd);
    expect(r.code).toBe(5);
    expect(oneLine(r)).toBe("pp: cannot write to standard output: the disk is full");
  });
});

describe("standard input", () => {
  test("50 MiB from a generator is refused after reading about the limit, not all of it", async () => {
    const cwd = workspace();
    const counter = join(cwd, "written");
    // Writes up to 50 MiB, and records how much the reader took before it stopped reading.
    const gen = `const fs = require("node:fs"); const b = Buffer.alloc(65536, 97); let n = 0;
      try { while (n < 50 * 1048576) n += fs.writeSync(1, b); } catch {}
      fs.writeFileSync(${q(counter)}, String(n));`;
    const r = await nothingSent(() => run(["sh", "-c", `"${process.execPath}" -e '${gen.replaceAll("'", "'\\''")}' | "$0" send`, BIN], cwd));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe("pp: the message on standard input is larger than 1 MiB; pp sends at most 1 MiB (attach large output as a file link instead)");
    const written = Number(readFileSync(counter, "utf8"));
    expect(written).toBeGreaterThan(1048576);
    expect(written).toBeLessThan(20 * 1048576);
  }, 60_000);

  test("stdin that never closes is bounded by the deadline", async () => {
    const cwd = workspace();
    const r = await nothingSent(() => run(["sh", "-c", '(echo partial; sleep 30) | "$0" send --deadline 1s', BIN], cwd));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^pp: standard input was still open after the deadline \(1\.0s\)/);
  }, 60_000);

  test("the size limit counts the text after trailing whitespace is removed", async () => {
    const cwd = workspace();
    const text = "x".repeat(1024 * 1024);
    const r = await pp(["send", "--dry-run", "-"], { cwd, stdin: `${text}\n\n   \n` });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const over = await pp(["send", "--dry-run", "-"], { cwd, stdin: `${text}y\n` });
    expect(over.code).toBe(2);
  });

  test("invalid UTF-8 is replaced, with a warning that says so", async () => {
    const cwd = workspace();
    const before = slack.accepted().length;
    const p = Bun.spawn([BIN, "send"], { cwd, stdin: new Uint8Array([0x6f, 0x6b, 0xff, 0xfe, 0x20, 0x21]), stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1" } });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(0);
    expect(stderr).toContain("pp: standard input is not valid UTF-8; the invalid bytes were replaced with U+FFFD");
    expect(slack.accepted().length).toBe(before + 1);
    expect(JSON.parse(slack.accepted().at(-1)!.raw).text).toBe("ok\ufffd\ufffd !");
  });

  test("stdin that cannot be read (a directory) is a usage error, not a crash", async () => {
    const cwd = workspace();
    const r = await nothingSent(() => spawnShell('exec "$0" "$@" < /', ["send"], cwd));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/^pp: cannot read the message from standard input \(EISDIR\)/);
  });

  test("a message of only invisible characters is empty", async () => {
    const cwd = workspace();
    for (const text of ["\u200b", "\ufeff\u2060 \u200b\n", "\u3000\u00a0\u180e"]) {
      const r = await nothingSent(() => pp(["send", "-"], { cwd, stdin: text }));
      expect(r.code).toBe(2);
      expect(oneLine(r)).toMatch(/no visible characters|is empty/);
    }
    const arg = await nothingSent(() => pp(["send", "\u200b\u200b"], { cwd }));
    expect(arg.code).toBe(2);
  });
});
