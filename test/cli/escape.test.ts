import { describe, expect, test } from "bun:test";
import { clean, cleanLine, preview } from "../../src/cli/out.ts";

/** Any character a terminal acts on, besides newline and tab. */
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

describe("clean", () => {
  test.each([
    ["clear screen", "a\x1b[2Jb", "a\\x1b[2Jb"],
    ["window title (OSC)", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"],
    ["C1 CSI", "x\x9b31m", "x\\u009b31m"],
    ["carriage return over a status line", "oops\r✔ all delivered", "oops\\x0d✔ all delivered"],
    ["DEL and NUL", "a\x7fb\x00", "a\\u007fb\\x00"],
    ["hidden text", "\x1b[8msecret", "\\x1b[8msecret"],
  ])("%s is shown, not acted on", (_name, input, shown) => {
    expect(clean(input)).toBe(shown);
    expect(clean(input)).not.toMatch(RAW);
  });

  test("newlines, tabs and ordinary text (any script) pass unchanged", () => {
    const text = "line 1\n\tline 2 磁盘 ✔ é\u00a0ü";
    expect(clean(text)).toBe(text);
  });

  test("cleanLine keeps an error on its line: a line break cannot start a fake status line", () => {
    expect(cleanLine("refused\r\n✔ ops 12ms\x1b[2J")).toBe("refused ✔ ops 12ms\\x1b[2J");
    expect(cleanLine("a\n\n  b\u2028c")).toBe("a b c");
  });

  test("preview escapes what it keeps", () => {
    expect(preview("\x1b[2Jhello\x9b", 40)).toBe("\\x1b[2Jhello\\u009b");
  });
});

describe("out and err", () => {
  /** What out() and err() write, from a process of their own. */
  function printed(call: string, color: Record<string, string> = { NO_COLOR: "1" }): { stdout: string; stderr: string } {
    const script = `import { err, out } from ${JSON.stringify(`${import.meta.dir}/../../src/cli/out.ts`)};\n${call}`;
    const { NO_COLOR: _, FORCE_COLOR: __, ...env } = process.env;
    const p = Bun.spawnSync(["bun", "-e", script], { env: { ...env, ...color } });
    return { stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  }

  test("pp's own colour codes pass; any other control character is shown", () => {
    const r = printed(String.raw`err("\x1b[31m✖\x1b[39m boom\x1b]0;pwned\x07\x1b[2J\r"); out("x\x9by");`, { FORCE_COLOR: "1" });
    expect(r.stderr).toBe("\x1b[31m✖\x1b[39m boom\\x1b]0;pwned\\x07\\x1b[2J\\x0d\n");
    expect(r.stdout).toBe("x\\u009by\n");
  });

  test("colour codes are dropped from a stream that is not to be coloured (NO_COLOR, or not a terminal)", () => {
    const call = String.raw`err("\x1b[31m✖\x1b[39m boom"); out("\x1b[1mTIME\x1b[22m");`;
    const settings: Record<string, string>[] = [{ NO_COLOR: "1" }, { NO_COLOR: "1", FORCE_COLOR: "1" }, {}];
    for (const color of settings) {
      const r = printed(call, color);
      expect(r.stderr).toBe("✖ boom\n");
      expect(r.stdout).toBe("TIME\n");
    }
  });

  test("JSON output stays valid JSON with DEL and C1 escaped", () => {
    const value = { text: "a\x7fb\x9bc\x1b[2J" };
    const r = printed(`out(JSON.stringify(${JSON.stringify(value)}));`);
    expect(r.stdout).not.toMatch(RAW);
    expect(JSON.parse(r.stdout)).toEqual(value);
  });
});
