import { describe, expect, test } from "bun:test";
import { Lexer } from "marked";
import { ADVERSARIAL, target, TARGETS } from "../../bench/render.ts";
import { plan } from "../../src/core/dispatch.ts";
import {
  clearTokenCache,
  INLINE_WINDOW,
  lex,
  MAX_MARKDOWN,
  MAX_NESTING,
  markdownEnd,
  toDiscord,
  toPlain,
  toSlack,
  windows,
} from "../../src/core/markdown.ts";
import type { Format } from "../../src/core/types.ts";
import { prng } from "../helpers.ts";

// Rendering must stay linear in the size of the message, whatever it holds. Wall-clock limits would flake on
// a busy machine, so each case compares the same work at n and 2n characters, measured back to back in this
// test: linear work grows about 2x, quadratic work 4x. Absolute figures live in bench/render.ts.
const N = 64 * 1024;
// Between 2x and 4x, nearer 4x: garbage collection grows a little faster than the input (a larger heap to trace),
// and on a busy machine linear cases measured up to 3.2x; a quadratic stays at 4x however the runs fall.
const LIMIT = 3.5;

/**
 * t(2n) / t(n), each the best of several runs alternating the two sizes so that a busy moment falls on both.
 * A ratio over the limit is measured again with more runs before it counts: a real quadratic stays over it.
 */
function growth(run: (text: string) => void, gen: (n: number) => string): number {
  const small = gen(N);
  const large = gen(2 * N);
  run(small);
  let a = Infinity;
  let b = Infinity;
  const ratio = () => Math.max(b, FLOOR_MS) / Math.max(a, FLOOR_MS);
  for (let i = 0; i < 8 && (i < 3 || ratio() >= LIMIT); i++) {
    // Measured again (over the limit after three rounds): each run then starts from a collected heap, so that
    // one run's garbage is not collected during the next.
    if (i >= 3) Bun.gc(true);
    let t0 = performance.now();
    run(small);
    a = Math.min(a, performance.now() - t0);
    if (i >= 3) Bun.gc(true);
    t0 = performance.now();
    run(large);
    b = Math.min(b, performance.now() - t0);
  }
  return ratio();
}
// Below ten milliseconds the collector and call overheads decide the ratio, not the algorithm; quadratic work
// on these sizes takes far longer.
const FLOOR_MS = 10;

describe("rendering grows linearly with the input", () => {
  test.each(Object.keys(ADVERSARIAL))("%s", (name) => {
    const gen = ADVERSARIAL[name]!;
    for (const channel of Object.keys(TARGETS)) {
      for (const format of ["markdown", "text"] as Format[]) {
        const t = target(channel);
        const ratio = growth((text) => {
          clearTokenCache();
          const p = plan(t, undefined, text, format, 0);
          if (p.error || p.parts.length === 0) throw new Error(`${channel}: ${p.error}`);
        }, gen);
        expect({ channel, format, ratio: ratio < LIMIT ? "linear" : ratio }).toEqual({ channel, format, ratio: "linear" });
      }
    }
  }, 60_000);
});

describe("guards", () => {
  test("the line rules give the tokens marked's own rules give", () => {
    const pieces = [
      "a", "b c", "\n", "\n\n", "===", "---", "- ", "* ", "1. ", "> ", "# ", "    ", "```", "~~~", "|",
      "| a | b |\n|---|---|\n", "<div>", "<!--", "*", "_", "`", "[x]", "(y)", "\\", "&amp;", "  \n", "\t", " ",
      "\u2028", "setext\n===\n", "para\n---\n", "- item\n  ---\n", "[r]: http://x\n", "1) ", "***\n", "<pre>", "\u00a0",
    ];
    for (let seed = 1; seed <= 3000; seed++) {
      const r = prng(seed);
      let s = "";
      for (let i = 0, n = 1 + Math.floor(r() * 30); i < n; i++) s += pieces[Math.floor(r() * pieces.length)];
      clearTokenCache();
      expect({ s, tokens: JSON.stringify(lex(s)) }).toEqual({ s, tokens: JSON.stringify(Lexer.lex(s, { gfm: true })) });
    }
  });

  test("markup that would cost too much to lex is shown as literal text, escaped", () => {
    const md = "_a".repeat(3 * INLINE_WINDOW);
    expect(toDiscord(md)).toBe("\\_a".repeat(3 * INLINE_WINDOW));
    expect(toPlain(md)).toBe(md);
  });

  test("dense but ordinary markup keeps its formatting", () => {
    const md = "x **b** y [l](https://e.com) _i_ `c` ".repeat(200).trim();
    expect(md.length).toBeGreaterThan(2 * INLINE_WINDOW);
    const out = toDiscord(md);
    expect(out).not.toContain("\\*");
    expect(out.split("**b**").length - 1).toBe(200);
    expect(out.split("*i*").length - 1).toBe(200);
  });

  test("block quotes and lists nest at most MAX_NESTING deep; deeper markers stay as text", () => {
    const deep = 10 * MAX_NESTING;
    expect(toPlain(">".repeat(deep) + " a")).toBe("> ".repeat(MAX_NESTING) + ">".repeat(deep - MAX_NESTING) + " a");
    expect(toPlain(">".repeat(100_000) + " a")).toEndWith(">>> a");
    const list = Array.from({ length: deep }, (_, i) => " ".repeat(2 * i) + "- x" + i).join("\n");
    const out = toPlain(list);
    for (let i = 0; i < deep; i++) expect(out).toContain(`x${i}`);
  });

  test("beyond MAX_MARKDOWN characters the text is literal, cut after a paragraph", () => {
    const para = "**b** text\n\n";
    const md = para.repeat(Math.ceil((MAX_MARKDOWN + 1000) / para.length));
    const end = markdownEnd(md, MAX_MARKDOWN);
    expect(end).toBeLessThanOrEqual(MAX_MARKDOWN);
    expect(end % para.length).toBe(0);
    const blocks = toDiscord(md).split("\n\n");
    expect(blocks[0]).toBe("**b** text");
    expect(blocks.at(-1)).toBe("\\*\\*b\\*\\* text");
    expect(blocks.filter((b) => b === "**b** text").length).toBe(end / para.length);
  });

  test("the Markdown cut never falls inside a code fence", () => {
    const md = "a\n\n```\n" + "code\n\n".repeat(100) + "```\n\nb\n";
    const fenceStart = md.indexOf("```");
    const fenceEnd = md.lastIndexOf("```") + 4;
    for (let max = fenceStart + 1; max < fenceEnd; max += 37) {
      const end = markdownEnd(md, max);
      expect(end <= fenceStart || end >= fenceEnd).toBe(true);
    }
  });

  test("windows cut at a line break, else a space, never inside a surrogate pair, and lose nothing", () => {
    expect(windows("aaaa\nbbbbbb", 8)).toEqual(["aaaa\n", "bbbbbb"]);
    // A break in the first half would make short windows: cut hard instead.
    expect(windows("aaa bbbbbbbb", 8)).toEqual(["aaa bbbb", "bbbb"]);
    expect(windows("aaaaa bbbbb", 8)).toEqual(["aaaaa ", "bbbbb"]);
    expect(windows("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
    const emoji = "a" + "😀".repeat(10);
    for (const w of windows(emoji, 4)) expect(w.isWellFormed()).toBe(true);
    expect(windows(emoji, 4).join("")).toBe(emoji);
  });

  test("a wide cell over many rows does not pad every row to its width", () => {
    const md = `|a|b|\n|-|-|\n|${"x".repeat(20_000)}|y|\n` + "|b|c|\n".repeat(20_000);
    const out = toSlack(md);
    expect(out.length).toBeLessThan(3 * md.length);
    expect(out).toContain("b | c");
    const small = toSlack("| a | b |\n|:-|-:|\n| 1 | 22 |");
    expect(small).toBe("```\na |  b\n--+---\n1 | 22\n```");
  });

  test("a table with more rows than a call takes arguments renders", () => {
    const md = "|a|b|\n|-|-|\n" + "|1|2|\n".repeat(200_000);
    expect(toSlack(md).split("\n").length).toBeGreaterThan(200_000);
  });
});
