/**
 * truncate() cuts most text without Intl.Segmenter (whose first use costs a short pp process about 2 ms): these
 * check that the fast path cuts exactly where the segmenter would, and that it is the path plain text takes.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cutClusters, preview, singleUnits, textWidth, truncate } from "../../src/cli/out.ts";

const ROOT = join(import.meta.dir, "../..");
const graphemes = (s: string) => [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(s)].map((g) => g.segment);

/** A deterministic pseudo-random generator (mulberry32), so a failure can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
const CONTROLS = ["\t", "\n", "\r", "\x1b", "\x7f", "\u0085", "\u009b", "\x1b[31m", "\x1b[0m", "\r\n"];
const LATIN1 = Array.from({ length: 96 }, (_, i) => String.fromCharCode(0xa0 + i));
const COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "\u0301", "x\u20dd", "\u0915\u094d\u0937", "\u0e01\u0e33", "\u0627\u0644\u0651"];
const EMOJI = ["✅", "👍", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "❤️", "👩‍💻", "\u200d", "\ufe0f", "©", "©\ufe0f", "☺\ufe0e", "🏻"];
const FLAGS = ["🇨🇳", "🇺🇸", "🇩🇪", "🇯🇵", "\u{1f1e8}", "\u{1f1f3}"];
const CJK = [..."你好世界磁盘使用率告警：，。、（）《》【】「」“”…—日本語テストカタカナひらがなｱｲｳｴｵﾞﾟ한국어", "\u1100\u1161\u11a8", "\u1100", "\u1161", "\u11a8", "\uac00", "が", "か\u3099", "\u302a", "𠀀", "\ud800", "\udc00"];
const CYRILLIC = [..."Привет мир ёЁ", "й", "\u0438\u0306"];

function corpus(pools: string[][], count: number, seed: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = 1 + Math.floor(r() * 60);
    let s = "";
    for (let j = 0; j < len; j++) {
      const pool = pools[Math.floor(r() * pools.length)]!;
      s += pool[Math.floor(r() * pool.length)]!;
    }
    out.push(s);
  }
  return out;
}

/** Every cut of `s` narrower than it, by truncate and by the segmenter path. */
function expectSameCuts(s: string): void {
  const width = textWidth(s);
  for (let max = 1; max < width; max++) {
    const cut = truncate(s, max);
    if (cut !== cutClusters(s, max)) throw new Error(`truncate(${JSON.stringify(s)}, ${max}) = ${JSON.stringify(cut)}, the segmenter cuts ${JSON.stringify(cutClusters(s, max))}`);
  }
}

describe("truncate without the segmenter", () => {
  const sets: [string, string[][]][] = [
    ["ASCII", [ASCII]],
    ["ASCII with control characters, colour codes and CR LF", [ASCII, CONTROLS]],
    ["Latin-1", [ASCII, LATIN1]],
    ["accents with combining marks", [ASCII, LATIN1, COMBINING]],
    ["emoji, ZWJ sequences, variation selectors and skin tones", [ASCII, EMOJI]],
    ["flags and lone regional indicators", [ASCII, FLAGS]],
    ["CJK, kana with their sound marks, Hangul jamo and surrogates", [ASCII, CJK]],
    ["Cyrillic", [ASCII, CYRILLIC]],
    ["everything mixed", [ASCII, CONTROLS, LATIN1, COMBINING, EMOJI, FLAGS, CJK, CYRILLIC]],
  ];
  for (const [name, pools] of sets) {
    test(`cuts ${name} exactly where the segmenter does`, () => {
      for (const s of corpus(pools, 400, name.length * 7919)) expectSameCuts(s);
    });
  }

  test("takes the fast path for plain text only", () => {
    for (const s of ["disk usage 91% on /var (web-3)", "naïve café £5 ©®", "\x1b[31mfailed\x1b[0m\ttab\rcr\nlf", "磁盘使用率告警：web-3，请处理。", "「テスト」カタカナ…ｱｲｳ", "Привет — “мир”"]) {
      expect(singleUnits(s)).toBe(true);
    }
    // Each of these joins two code units or more into one cluster, or may.
    for (const s of ["cafe\u0301", "a\r\nb", "👍", "🇨🇳", "x\u200dy", "x\ufe0fy", "\u1100\u1161", "\uac00", "か\u3099", "ｶﾞ", "\u302a", "\u0438\u0306", "\u0915\u094d", "\ud800", "\udc00", "\u0600a"]) {
      expect(singleUnits(s)).toBe(false);
    }
  });

  test("every character the fast path takes stays a cluster of its own next to neighbours of every kind", () => {
    const units: string[] = [];
    // CR is left out: before LF it joins one, the pair singleUnits looks for apart.
    for (let c = 0; c < 0x10000; c++) if (c !== 13 && singleUnits(String.fromCharCode(c))) units.push(String.fromCharCode(c));
    expect(units.length).toBeGreaterThan(20000);
    // Neighbours that would join a cluster with a character of the wrong kind: a letter (prepended marks before,
    // combining and spacing marks after), Hangul leading, vowel and trailing jamo and syllables, a regional
    // indicator, an Indic consonant with a virama. (© and ® join an emoji joiner before them, but the joiner is not
    // taken, so no string on the fast path holds one.) "|" between triples keeps them apart.
    const sides: [string, string][] = [
      ["a", "a"], ["\u1100", "\u1161"], ["\uac00", "\u11a8"], ["\uac01", "\u1100"], ["\u{1f1e8}", "\u{1f1f3}"],
      ["\u0915\u094d", "\u0915"], ["👍", "👍"],
    ];
    for (const [left, right] of sides) {
      const expected: string[] = [];
      for (const u of units) expected.push(left, u, right, "|");
      expect(graphemes(expected.join(""))).toEqual(expected);
    }
    // And next to each other, in several orders.
    const r = rng(42);
    for (let round = 0; round < 3; round++) {
      const shuffled = [...units].sort(() => r() - 0.5).join("");
      expect(graphemes(shuffled).length).toBe(shuffled.length);
    }
  });

  test("printable ASCII, which the fast path counts without asking, is one column to Bun.stringWidth", () => {
    for (let c = 0x20; c < 0x7f; c++) expect([c, textWidth(String.fromCharCode(c))]).toEqual([c, 1]);
  });

  test("pp's previews and log cells are cut the same either way", () => {
    const texts = ["disk usage 91% on /var (web-3) ".repeat(4), "HTTP 500 from https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…", "磁盘使用率告警：web-3 的 /var 已用 91%，请尽快清理日志文件。".repeat(2)];
    for (const t of texts) {
      for (const max of [8, 12, 16, 24, 48, 72]) {
        const p = preview(t, max);
        expect(textWidth(p)).toBeLessThanOrEqual(max);
        expect(p).toBe(textWidth(t) <= max ? t : cutClusters(t.replace(/\s+/g, " ").trim(), max));
      }
    }
  });

  test("plain text is cut without ever constructing Intl.Segmenter", async () => {
    const script = `
      Intl.Segmenter = class { constructor() { throw new Error("Intl.Segmenter constructed"); } };
      const { truncate, preview, table } = await import(${JSON.stringify(join(ROOT, "src/cli/out.ts"))});
      const cuts = [truncate("disk usage 91% on /var (web-3)", 10), truncate("磁盘使用率告警：请处理", 9), preview("naïve\\tcafé\\nlong line ".repeat(5), 20),
        table(["ID", "TEXT"], [["01J", "x".repeat(100)]], { width: 30, shrink: [{ col: 1, min: 8 }] })];
      let segmented = "no";
      try { truncate("👍👍👍👍👍👍", 3); } catch (e) { segmented = String(e.message); }
      process.stdout.write(JSON.stringify({ cuts, segmented }));
    `;
    const p = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" } });
    const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect({ code: await p.exited, stderr }).toEqual({ code: 0, stderr: "" });
    const { cuts, segmented } = JSON.parse(stdout) as { cuts: string[]; segmented: string };
    expect(cuts).toEqual(["disk usag…", "磁盘使用…", "naïve café long lin…", `ID   TEXT\n01J  ${"x".repeat(24)}…`]);
    // The replacement is in place: text that needs the segmenter reaches it.
    expect(segmented).toBe("Intl.Segmenter constructed");
  });
});
