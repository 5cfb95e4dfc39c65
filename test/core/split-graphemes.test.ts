import { describe, expect, test } from "bun:test";
import { chars, jsonBytes, split, utf8Bytes } from "../../src/core/split.ts";
import { prng } from "../helpers.ts";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const graphemes = (s: string) => [...segmenter.segment(s)].map((g) => g.segment);

const COSTS = { chars, utf8Bytes, jsonBytes };

/** Characters drawn as one: flags, ZWJ families, skin tones, keycaps, accents, Hangul jamo, CR LF. */
const CLUSTERS = ["🇨🇳", "🇺🇸", "👨‍👩‍👧", "👍🏽", "1️⃣", "⚠️", "e\u0301", "a\u0308\u0323", "\u1100\u1161\u11a8", "🏳️‍🌈", "中", "x"];

/** Splits a text with no spaces and no line breaks (so every cut is inside the line) and checks every part. */
function checkWhole(text: string, budget: number, cost: (s: string) => number): string[] {
  const parts = split(text, { budget, cost });
  expect(parts.join("")).toBe(text);
  const whole = new Set(graphemes(text));
  for (const p of parts) {
    expect(cost(p)).toBeLessThanOrEqual(budget);
    for (const g of graphemes(p)) expect(whole.has(g)).toBe(true);
  }
  return parts;
}

describe("a cut never falls inside a grapheme cluster", () => {
  test.each(Object.keys(COSTS) as (keyof typeof COSTS)[])("a line of flags, cost %s", (name) => {
    // Flags are pairs of regional indicators: a cut at an odd code point would leave half a flag on each side.
    for (const budget of [21, 50, 99, 100, 257]) {
      const parts = checkWhole("🇨🇳".repeat(400), budget, COSTS[name]);
      expect(parts.length).toBeGreaterThan(1);
    }
    checkWhole(`x${"🇨🇳🇺🇸".repeat(200)}`, 99, COSTS[name]);
  });

  test.each(Object.keys(COSTS) as (keyof typeof COSTS)[])("random mixes of clusters, cost %s", (name) => {
    const random = prng(7);
    for (let round = 0; round < 40; round++) {
      let text = "";
      while (text.length < 2000) text += CLUSTERS[Math.floor(random() * CLUSTERS.length)];
      checkWhole(text, 40 + Math.floor(random() * 200), COSTS[name]);
    }
  });

  test("a space followed by a combining mark is not a cut point", () => {
    const text = `${"word ".repeat(10)}\u0301${"x".repeat(60)}`;
    const parts = split(text, { budget: 52, cost: chars });
    for (const p of parts) expect(p.startsWith("\u0301")).toBe(false);
  });

  test("a cluster bigger than a part is cut rather than refused", () => {
    const zalgo = `a${"\u0301".repeat(300)}`;
    const parts = split(zalgo, { budget: 100, cost: chars });
    expect(parts.join("")).toBe(zalgo);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(100);
  });
});

describe("finding cluster boundaries keeps split linear", () => {
  /** Characters handed to Intl.Segmenter while splitting `text`: the work of finding cluster boundaries. */
  const segmented = (text: string) => {
    const proto = Intl.Segmenter.prototype;
    const original = proto.segment;
    let work = 0;
    proto.segment = function (this: Intl.Segmenter, input: string) {
      work += input.length;
      return original.call(this, input);
    };
    try {
      const parts = split(text, { budget: 256, cost: utf8Bytes });
      expect(parts.join("")).toBe(text);
      return { work, parts: parts.length };
    } finally {
      proto.segment = original;
    }
  };

  test.each([
    ["flags, with no ASCII to anchor the search", (n: number) => "🇨🇳".repeat(n / 4)],
    ["accented letters", (n: number) => "e\u0301".repeat(n / 2)],
    ["CJK", (n: number) => "中文".repeat(n / 2)],
    ["accents among ASCII", (n: number) => "cafe\u0301-".repeat(n / 6)],
  ] as [string, (n: number) => string][])("%s: only a window near each cut is segmented", (_name, line) => {
    const a = segmented(line(1 << 16));
    const b = segmented(line(1 << 17));
    expect(a.work).toBeGreaterThan(0);
    // Bounded per cut, whatever the length of the line: linear in the text, about twice the work for twice the text.
    expect(a.work / a.parts).toBeLessThan(160);
    expect(b.work / a.work).toBeLessThan(2.5);
  });
});
