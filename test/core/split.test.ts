import { describe, expect, test } from "bun:test";
import { chars, jsonBytes, split, utf8Bytes } from "../../src/core/split.ts";
import { prng as rng } from "../helpers.ts";

const FENCE = /^\s*(`{3,}|~{3,})/;


const WORDS = [
  "alpha",
  "beta",
  "γάμμα",
  "日本語",
  "中文测试",
  "한국어",
  "😀",
  "👍🏽",
  "👨‍👩‍👧",
  "🇯🇵",
  "e\u0301te\u0301",
  "n\u0303o\u0308",
  "\"quoted\"",
  "back\\slash",
  "tab\there",
  "<tag>",
  "&amp;",
];

function randomText(r: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const line = (maxWords: number) => {
    const n = 1 + Math.floor(r() * maxWords);
    const ws: string[] = [];
    for (let i = 0; i < n; i++) ws.push(pick(WORDS));
    // Some lines have no spaces at all, so they can only be cut between characters.
    return ws.join(r() < 0.2 ? "" : " ");
  };
  const out: string[] = [];
  const blocks = 1 + Math.floor(r() * 25);
  for (let b = 0; b < blocks; b++) {
    const kind = r();
    if (kind < 0.15) {
      const marker = r() < 0.7 ? "```" : "~~~";
      out.push(marker + (r() < 0.5 ? "ts" : ""));
      const n = 1 + Math.floor(r() * 12);
      for (let i = 0; i < n; i++) out.push(r() < 0.15 ? "" : "  " + line(8));
      out.push(marker);
    } else if (kind < 0.25) {
      out.push(line(200)); // longer than most budgets
    } else {
      const n = 1 + Math.floor(r() * 6);
      for (let i = 0; i < n; i++) out.push(line(12));
    }
    if (r() < 0.7) out.push("");
  }
  return out.join("\n");
}

function fenceBalanced(part: string): boolean {
  let open: string | null = null;
  for (const l of part.split("\n")) {
    const m = FENCE.exec(l);
    if (!m) continue;
    if (open === null) open = m[1]!;
    else if (m[1]![0] === open[0] && m[1]!.length >= open.length && l.trim() === m[1]) open = null;
  }
  return open === null;
}

/**
 * The parts, read in order and ignoring whitespace, must spell the original; lines that do not continue the
 * original must be fence lines we added at the edge of a part.
 */
function assertContentPreserved(text: string, parts: string[]) {
  const want = text.replace(/\s+/g, "");
  let pos = 0;
  for (const part of parts) {
    const lines = part.split("\n");
    lines.forEach((line, k) => {
      const bare = line.replace(/\s+/g, "");
      if (want.startsWith(bare, pos)) {
        pos += bare.length;
        return;
      }
      expect(FENCE.test(line)).toBe(true);
      expect(k === 0 || k === lines.length - 1).toBe(true);
    });
  }
  expect(pos).toBe(want.length);
}

const COSTS = { utf8Bytes, jsonBytes, chars } as const;

describe("cost functions", () => {
  test.each([
    ["", 0, 0, 0],
    ["abc", 3, 3, 3],
    ["é", 2, 2, 1],
    ["日本", 6, 6, 2],
    ["😀", 4, 4, 2],
    ['a"b', 3, 4, 3],
    ["a\nb", 3, 4, 3],
    ["\\", 1, 2, 1],
    ["\u0001", 1, 6, 1],
    ["plain ascii ~!", 14, 14, 14],
    ["\u007f", 1, 1, 1],
    ["\u2028", 3, 3, 1],
  ])("%j -> utf8 %d, json %d, chars %d", (s, u, j, c) => {
    expect(utf8Bytes(s)).toBe(u);
    expect(jsonBytes(s)).toBe(j);
    expect(chars(s)).toBe(c);
  });
});

describe("split: cases", () => {
  const bytes = (budget: number) => ({ budget, cost: utf8Bytes });

  test("returns the text itself when it fits", () => {
    const t = "a\n\nb";
    expect(split(t, bytes(4))).toEqual([t]);
    expect(split("", bytes(16))).toEqual([""]);
    expect(split("x".repeat(100_000), { budget: Infinity, cost: utf8Bytes })).toEqual(["x".repeat(100_000)]);
  });

  test.each([
    ["cuts on line boundaries", "aaaa\nbbbb\ncccc", 9, ["aaaa\nbbbb", "cccc"]],
    ["prefers a paragraph break close to the budget", "aaaaaaaaaaa\n\nbbb\nccc", 16, ["aaaaaaaaaaa", "bbb\nccc"]],
    ["ignores a paragraph break that wastes too much", "aa\n\nbbbbbb\ncccccc\nddd", 16, ["aa\n\nbbbbbb", "cccccc\nddd"]],
    ["drops blank lines at the cut", "aaaa\n\n\n\nbbbb", 6, ["aaaa", "bbbb"]],
    ["cuts a long line at a space", "aaaa bbbb cccc", 10, ["aaaa bbbb", "cccc"]],
    ["cuts a long line without spaces between characters", "aaaaaaaaaaaa", 5, ["aaaaa", "aaaaa", "aa"]],
    ["never cuts a UTF-8 character", "日本語日本語", 8, ["日本", "語日", "本語"]],
    ["never cuts a surrogate pair", "😀😀😀", 5, ["😀", "😀", "😀"]],
    ["keeps combining marks with their letter", "e\u0301e\u0301e\u0301", 7, ["e\u0301e\u0301", "e\u0301"]],
    ["keeps a ZWJ sequence together when it can", "ab👨‍👩‍👧", 18, ["ab", "👨‍👩‍👧"]],
    ["cuts a too-big ZWJ sequence after a joiner", "ab👨‍👩‍👧", 12, ["ab\n👨‍", "👩‍👧"]],
  ] as [string, string, number, string[]][])("%s", (_name, text, budget, expected) => {
    expect(split(text, bytes(budget))).toEqual(expected);
  });

  test("closes and reopens a fenced block with its own opening line", () => {
    const text = "intro\n```ts\nconst a = 1;\nconst b = 2;\nconst c = 3;\n```\nafter";
    const parts = split(text, bytes(36));
    expect(parts).toEqual(["intro\n```ts\nconst a = 1;\n```", "```ts\nconst b = 2;\nconst c = 3;\n```", "after"]);
    for (const p of parts) expect(utf8Bytes(p)).toBeLessThanOrEqual(36);
  });

  test("tilde fences and longer fences are reopened with the same marker", () => {
    const parts = split("~~~~\nline one\nline two\nline three\n~~~~", bytes(30));
    expect(parts).toEqual(["~~~~\nline one\nline two\n~~~~", "~~~~\nline three\n~~~~"]);
  });

  test("does not treat an inner shorter marker as the end of the block", () => {
    const parts = split("````\n```\nxxxxxxxx\n```\n````", bytes(20));
    expect(parts.length).toBe(3);
    for (const p of parts) {
      expect(p.startsWith("````")).toBe(true);
      expect(p.endsWith("````")).toBe(true);
    }
    expect(parts[1]).toBe("````\nxxxxxxxx\n````");
  });

  test("prefers cutting before a code block over cutting inside it", () => {
    const text = "aaaaaaaaaaaaaaaaaaaaaaa\n```\nx\ny\n```";
    expect(split(text, bytes(30))).toEqual(["aaaaaaaaaaaaaaaaaaaaaaa", "```\nx\ny\n```"]);
  });

  test("keeps blank lines inside code blocks", () => {
    const text = "```\na\n\n\nb\n```\n" + "x".repeat(20);
    const parts = split(text, bytes(24));
    expect(parts[0]).toBe("```\na\n\n\nb\n```");
  });

  test("a long line inside a code block is cut with room for the fence lines", () => {
    const text = "```\n" + "x".repeat(50) + "\n```";
    const parts = split(text, bytes(20));
    for (const p of parts) {
      expect(utf8Bytes(p)).toBeLessThanOrEqual(20);
      expect(p.startsWith("```\n")).toBe(true);
      expect(p.endsWith("\n```")).toBe(true);
    }
    expect(parts.map((p) => p.slice(4, -4)).join("")).toBe("x".repeat(50));
  });

  test("an unclosed block in the input stays unclosed in the last part only", () => {
    const parts = split("```\naaaa\nbbbb\ncccc\ndddd\neeee", bytes(20));
    expect(parts).toEqual(["```\naaaa\nbbbb\n```", "```\ncccc\ndddd\neeee"]);
  });

  test("JSON cost counts escapes", () => {
    const text = '"""""\n"""""';
    const parts = split(text, { budget: 10, cost: jsonBytes });
    expect(parts).toEqual(['"""""', '"""""']);
  });
});

describe("split: properties", () => {
  const seeds = Array.from({ length: 300 }, (_, i) => i + 1);
  test.each(seeds)("seed %d", (seed) => {
    const r = rng(seed);
    const text = randomText(r);
    const names = Object.keys(COSTS) as (keyof typeof COSTS)[];
    const name = names[seed % names.length]!;
    const cost = COSTS[name];
    const budget = 16 + Math.floor(r() * 400);
    const parts = split(text, { budget, cost });

    expect(parts.length).toBeGreaterThan(0);
    if (cost(text) <= budget) expect(parts).toEqual([text]);
    for (const p of parts) {
      expect(cost(p)).toBeLessThanOrEqual(budget);
      expect(p.isWellFormed()).toBe(true);
      // Fences are only repaired when their two lines take at most half the budget ("```ts" + "```").
      if (budget >= 2 * cost("```ts\n```\n")) expect(fenceBalanced(p)).toBe(true);
      for (const line of p.split("\n")) {
        // The generator never starts a line with a combining mark or a joiner, so a cut did.
        expect(/^[\p{M}\u200d\u{1f3fb}-\u{1f3ff}]/u.test(line)).toBe(false);
      }
    }
    assertContentPreserved(text, parts);
  });

  test("whole lines are kept verbatim when every line fits", () => {
    for (let seed = 1000; seed < 1100; seed++) {
      const r = rng(seed);
      const lines = Array.from({ length: 40 }, () => (r() < 0.2 ? "" : WORDS.slice(0, 1 + Math.floor(r() * 6)).join(" ")));
      const text = lines.join("\n");
      const parts = split(text, { budget: 120, cost: utf8Bytes });
      // Reading the parts' lines in order must give the original lines, skipping only blank ones.
      let k = 0;
      for (const line of parts.join("\n").split("\n")) {
        while (lines[k] !== line && lines[k] === "") k++;
        expect(lines[k]).toBe(line);
        k++;
      }
      expect(lines.slice(k).every((l) => l === "")).toBe(true);
    }
  });
});

// How long splitting takes is a benchmark's business (bench/render.ts); a test can only tell that the work grows
// linearly. Counted work is exact: what split hands to the cost function. Where the work is not in cost calls,
// the time at n and 2n is compared, measured back to back here; quadratic work would grow about 4x.
describe("split: work grows linearly", () => {
  const doc = (count: number) => {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      if (i % 40 === 0) lines.push("```ts");
      else if (i % 40 === 25) lines.push("```");
      else if (i % 13 === 0) lines.push("");
      else lines.push(`line ${i} 日本語テキスト with some words 😀 and more words to fill ${"x".repeat(i % 20)}`);
    }
    return lines.join("\n");
  };

  /** Parts of `text`, checked, and how many characters split measured to make them. */
  function measured(text: string, budget: number, cost: (s: string) => number): { parts: string[]; work: number } {
    let work = 0;
    const parts = split(text, { budget, cost: (s) => ((work += s.length), cost(s)) });
    for (const p of parts) expect(cost(p)).toBeLessThanOrEqual(budget);
    assertContentPreserved(text, parts);
    return { parts, work };
  }

  test.each(Object.keys(COSTS) as (keyof typeof COSTS)[])("10k vs 20k lines, cost %s", (name) => {
    const a = measured(doc(10_000), 4096, COSTS[name]);
    const b = measured(doc(20_000), 4096, COSTS[name]);
    expect(a.parts.length).toBeGreaterThan(50);
    expect(b.work / a.work).toBeLessThan(3.2);
  });

  test.each(Object.keys(COSTS) as (keyof typeof COSTS)[])("one line of 256k vs 512k characters, cost %s", (name) => {
    const a = measured("字a ".repeat(256 * 1024 / 3), 2048, COSTS[name]);
    const b = measured("字a ".repeat(512 * 1024 / 3), 2048, COSTS[name]);
    expect(b.work / a.work).toBeLessThan(3.2);
  });

  test("one line without spaces: looking for a word break stays within the piece", () => {
    const time = (n: number) => {
      const line = "abcdefgh".repeat(n / 8);
      const t0 = performance.now();
      const parts = split(line, { budget: 256, cost: utf8Bytes });
      const ms = performance.now() - t0;
      expect(parts.join("")).toBe(line);
      return ms;
    };
    time(1 << 19);
    let a = Infinity;
    let b = Infinity;
    const ratio = () => Math.max(b, 1) / Math.max(a, 1);
    // A ratio over the limit is measured again before it counts: a busy moment passes, a quadratic scan does not.
    for (let i = 0; i < 8 && (i < 3 || ratio() >= 3.2); i++) {
      a = Math.min(a, time(1 << 19));
      b = Math.min(b, time(1 << 20));
    }
    expect(ratio()).toBeLessThan(3.2);
  });
});
