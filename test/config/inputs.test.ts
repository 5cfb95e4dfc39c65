/**
 * What pp accepts from the config, flags and environment: durations within a timer's range, numbers within
 * bounds, names that are data, groups expanded once, channels that name something, config files that are files.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_DURATION_MS } from "../../src/channels/_common.ts";
import { repeated } from "../../src/cli/args.ts";
import { deadlineMs, parseDurationArg, parseLimit, parseSince } from "../../src/cli/common.ts";
import { resolveTargets } from "../../src/cli/send.ts";
import { expand, loadConfig, parseConfig, type Config } from "../../src/config/load.ts";
import { PpError } from "../../src/core/errors.ts";
import { q, tempDir } from "../helpers.ts";

const FILE = "/etc/pp/config.toml";
const slack = (name: string, hook = "http://127.0.0.1:9/services/T000/B000/XXXX") =>
  `[channels.${name}]\ntype = "slack"\nwebhook = ${q(hook)}\n`;

function fails(fn: () => unknown, code?: number): PpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    if (code !== undefined) expect((e as PpError).exitCode).toBe(code);
    return e as PpError;
  }
  throw new Error("expected a PpError");
}

const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of ["PP_CHANNELS", "PP_DEADLINE", "PP_DB", "PP_CONFIG", "HOME"]) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

describe("durations have a maximum, checked at load time", () => {
  // 24.9 days overflowed the timer (2^31-1 ms) and made every delivery fail after 1 ms.
  test.each([
    [`${slack("a")}[defaults]\ndeadline = "30d"`, /defaults\.deadline: "30d" is too long: at most 24h/],
    [`${slack("a")}[defaults]\ndeadline = "24.9d"`, /defaults\.deadline: .*at most 24h/],
    [`${slack("a")}[defaults]\ntimeout = "25h"`, /defaults\.timeout: .*at most 24h/],
    [`${slack("a")}timeout = "100000h"`, /channels\.a\.timeout: .*at most 24h/],
  ])("config %#", (text, message) => {
    expect(fails(() => parseConfig(text, FILE), 2).message).toMatch(message);
  });

  test("24h is accepted and is below what a timer can hold", () => {
    const cfg = parseConfig(`${slack("a")}timeout = "24h"\n[defaults]\ndeadline = "24h"`, FILE);
    expect(cfg.defaults.deadlineMs).toBe(MAX_DURATION_MS);
    expect(cfg.channels.get("a")!.timeoutMs).toBe(MAX_DURATION_MS);
    expect(MAX_DURATION_MS).toBeLessThan(2 ** 31 - 1);
  });

  test("--deadline and $PP_DEADLINE", () => {
    expect(fails(() => parseDurationArg("--deadline", "30d"), 2).message).toBe('--deadline: "30d" is too long: at most 24h');
    expect(fails(() => deadlineMs("24.9d", 60_000), 2).message).toMatch(/^--deadline: .*at most 24h/);
    process.env.PP_DEADLINE = "1000d";
    expect(fails(() => deadlineMs(undefined, 60_000), 2).message).toMatch(/^PP_DEADLINE: .*at most 24h/);
    process.env.PP_DEADLINE = "90s";
    expect(deadlineMs(undefined, 60_000)).toBe(90_000);
    expect(deadlineMs("24h", 60_000)).toBe(MAX_DURATION_MS);
  });

  test("retries have a maximum on a channel too", () => {
    expect(fails(() => parseConfig(`${slack("a")}retries = 1000000`, FILE)).message).toMatch(/channels\.a\.retries: must be 20 or less/);
  });
});

describe("numbers on the command line", () => {
  test.each(["99999999999999999999", "9007199254740993", "1e3", "0x10", "1.5", "-1", "0", "", " ", "1000001", "12abc"])("--limit %p is refused", (s) => {
    expect(fails(() => parseLimit(s, 20), 2).message).toMatch(/--limit .*expected a whole number from 1 to 1000000/);
  });
  test("valid limits", () => {
    expect(parseLimit(undefined, 20)).toBe(20);
    expect(parseLimit("1", 20)).toBe(1);
    expect(parseLimit("1000000", 20)).toBe(1_000_000);
  });
  test("--since with an absurd duration is refused or clamped, never a non-finite time", () => {
    expect(fails(() => parseSince(`${"9".repeat(400)}d`), 2).message).toMatch(/--since .*too long/);
    expect(parseSince("99999999d", 1_000)).toBe(0);
    expect(parseSince("1h", 10_000_000)).toBe(10_000_000 - 3_600_000);
  });
});

describe("channel names that name nothing are usage errors", () => {
  test.each([
    [["--ch", ""]],
    [["--ch", ","]],
    [["--ch", " , "]],
    [["--ch="]],
    [["-c", ""]],
    [["--ch", "a", "--ch", ""]],
  ])("%p", (argv) => {
    expect(fails(() => repeated(argv, ["ch", "c"]), 2).message).toMatch(/names no channel/);
  });

  test("names are still split and trimmed", () => {
    expect(repeated(["--ch", "a, b", "-c", "c", "--ch=d"], ["ch", "c"])).toEqual(["a", "b", "c", "d"]);
  });

  const cfg = () => parseConfig(`${slack("a")}${slack("b", "http://127.0.0.1:9/services/T000/B000/YYYY")}[defaults]\nchannels = ["a"]`, FILE);

  test("PP_CHANNELS set to something that names nothing does not fall back to the defaults", () => {
    for (const value of ["", ",", " , "]) {
      process.env.PP_CHANNELS = value;
      expect(fails(() => resolveTargets(cfg(), []), 2).message).toMatch(/PP_CHANNELS=.* names no channel/);
    }
    process.env.PP_CHANNELS = "b";
    expect(resolveTargets(cfg(), []).map((t) => t.name)).toEqual(["b"]);
    delete process.env.PP_CHANNELS;
    expect(resolveTargets(cfg(), []).map((t) => t.name)).toEqual(["a"]);
  });

  test("an empty group is a config error", () => {
    expect(fails(() => parseConfig(`${slack("a")}[groups]\nempty = []`, FILE), 2).message).toBe(
      `${FILE}: groups.empty: is empty; list at least one channel, or remove the group`,
    );
  });
});

describe("one destination is sent to once", () => {
  const hook = "http://127.0.0.1:9/services/T000/B000/SAME";

  test("the same webhook under two names goes out once, with a note naming both", () => {
    const cfg = parseConfig(`${slack("a", hook)}${slack("b", hook)}rate = "1/s"\nretries = 1\n${slack("c", `${hook}2`)}[groups]\nall = ["a", "b", "c"]`, FILE);
    const notes: string[] = [];
    const targets = resolveTargets(cfg, ["all"], (n) => notes.push(n));
    expect(targets.map((t) => t.name)).toEqual(["a", "c"]);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain("a and b");
    expect(notes[0]).not.toContain(hook);
  });

  test("a generic webhook to one URL with different body templates is two destinations", () => {
    const url = "http://127.0.0.1:9/hook";
    const cfg = parseConfig(
      `[channels.x]\ntype = "webhook"\nurl = ${q(url)}\nbody = '{"a": {{ text | json }}}'\n` +
        `[channels.y]\ntype = "webhook"\nurl = ${q(url)}\nbody = '{"b": {{ text | json }}}'\n` +
        `[channels.z]\ntype = "webhook"\nurl = ${q(url)}\nbody = '{"b": {{ text | json }}}'\ntimeout = "3s"\n`,
      FILE,
    );
    const notes: string[] = [];
    expect(resolveTargets(cfg, ["x", "y", "z"], (n) => notes.push(n)).map((t) => t.name)).toEqual(["x", "y"]);
    expect(notes.join()).toContain("y and z");
  });
});

describe("group expansion", () => {
  /** Groups g0..g(n-1), each holding two copies of the one before; g0 holds the channel. */
  function nested(n: number): string {
    const lines = [slack("a"), "[groups]", 'g0 = ["a", "a"]'];
    for (let i = 1; i < n; i++) lines.push(`g${i} = ["g${i - 1}", "g${i - 1}"]`);
    return lines.join("\n");
  }

  /** Counts how often expansion looks a group up. */
  function counted(cfg: Config): { cfg: Config; lookups: () => number } {
    let n = 0;
    const groups = new (class extends Map<string, string[]> {
      override get(k: string) {
        n++;
        return super.get(k);
      }
    })(cfg.groups);
    return { cfg: { ...cfg, groups }, lookups: () => n };
  }

  test("each group is expanded once: work grows linearly with the depth", () => {
    // 54 lines of such groups took 18 s in every command: 2^50 visits.
    const cfg = parseConfig(nested(50), FILE);
    expect(expand(cfg, ["g49"]).map((t) => t.name)).toEqual(["a"]);
    const work = (n: number) => {
      const c = counted(parseConfig(nested(n), FILE));
      expand(c.cfg, [`g${n - 1}`]);
      return c.lookups();
    };
    const [w20, w40] = [work(20), work(40)];
    expect(w40).toBeLessThan(w20 * 3);
    expect(w40).toBeLessThan(400);
  });

  test("a cycle is a config error naming it", () => {
    const e = fails(() => parseConfig(`${slack("a")}[groups]\nx = ["a", "y"]\ny = ["z"]\nz = ["x"]`, FILE), 2);
    expect(e.message).toBe(`${FILE}: groups.x: groups include each other in a loop (x -> y -> z -> x); remove one of them`);
    expect(fails(() => parseConfig(`${slack("a")}[groups]\nself = ["self"]`, FILE)).message).toMatch(/\(self -> self\)/);
  });

  test("a long chain of groups does not overflow the stack", () => {
    const lines = [slack("a"), "[groups]", 'g0 = ["a"]'];
    for (let i = 1; i < 20_000; i++) lines.push(`g${i} = ["g${i - 1}"]`);
    const cfg = parseConfig(lines.join("\n"), FILE);
    expect(expand(cfg, ["g19999"]).map((t) => t.name)).toEqual(["a"]);
  });
});

describe("names are data", () => {
  const NAMES = ["__proto__", "constructor", "prototype"];
  test("channels and groups named __proto__, constructor and prototype are kept", () => {
    const text =
      NAMES.map((n, i) => slack(n, `http://127.0.0.1:9/services/T000/B000/N${i}`)).join("") +
      `[groups]\n"hasOwnProperty" = ["__proto__", "constructor"]\ntoString = ["prototype"]\n[defaults]\nchannels = ["__proto__"]`;
    const cfg = parseConfig(text, FILE);
    expect([...cfg.channels.keys()]).toEqual(NAMES);
    expect([...cfg.groups.keys()]).toEqual(["hasOwnProperty", "toString"]);
    expect(cfg.channels.get("__proto__")!.opts.webhook).toContain("N0");
    expect(expand(cfg, ["hasOwnProperty", "toString"]).map((t) => t.name)).toEqual(NAMES);
    expect(resolveTargets(cfg, []).map((t) => t.name)).toEqual(["__proto__"]);
  });

  test("a group named like an Object.prototype member is not mistaken for one", () => {
    const cfg = parseConfig(slack("a"), FILE);
    for (const n of ["constructor", "__proto__", "toString"]) {
      expect(fails(() => expand(cfg, [n])).message).toMatch(/unknown channel or group/);
    }
  });
});

describe("the config file", () => {
  test("a FIFO is refused without waiting for a writer", () => {
    const dir = tempDir();
    const fifo = join(dir, "pp.toml");
    const made = Bun.spawnSync(["mkfifo", fifo]);
    if (made.exitCode !== 0) throw new Error("mkfifo failed");
    expect(fails(() => loadConfig(fifo), 2).message).toBe(`config file ${fifo} is not a regular file (a FIFO, socket or device); pass the path of a TOML file`);
  });

  test("/dev/zero and a directory are refused", () => {
    expect(fails(() => loadConfig("/dev/zero"), 2).message).toMatch(/^config file \/dev\/zero is not a regular file/);
    const dir = tempDir();
    expect(fails(() => loadConfig(dir), 2).message).toMatch(/is a directory/);
  });

  test("a file over 1 MiB is refused", () => {
    const file = join(tempDir(), "big.toml");
    writeFileSync(file, `${slack("a")}#${"x".repeat(1024 * 1024)}\n`);
    expect(fails(() => loadConfig(file), 2).message).toMatch(/a config file may be at most 1 MiB/);
  });

  test("~ means the home directory in --config, $PP_CONFIG, [log] path and $PP_DB", () => {
    const home = tempDir();
    mkdirSync(join(home, "cfg"));
    writeFileSync(join(home, "cfg", "pp.toml"), `${slack("a")}[log]\npath = "~/logs/pp.db"\n`);
    process.env.HOME = home;
    expect(loadConfig("~/cfg/pp.toml").file).toBe(join(home, "cfg", "pp.toml"));
    expect(loadConfig("~/cfg/pp.toml").dbPath).toBe(join(home, "logs", "pp.db"));
    process.env.PP_CONFIG = "~/cfg/pp.toml";
    expect(loadConfig().file).toBe(join(home, "cfg", "pp.toml"));
    process.env.PP_DB = "~/other.db";
    expect(loadConfig().dbPath).toBe(join(home, "other.db"));
    // Only `~` and `~/`: `~user` and a `~` inside a path are left as written.
    process.env.PP_DB = "~x/pp.db";
    expect(loadConfig().dbPath).toBe("~x/pp.db");
  });
});
