/**
 * Splitting cuts Latin text (every character below U+0300, where combining marks begin) without Intl.Segmenter,
 * whose first use costs a short pp process about 2 ms; text that may join characters still goes through it.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { chars, split, utf8Bytes } from "../../src/core/split.ts";
import { prng } from "../helpers.ts";

const ROOT = join(import.meta.dir, "../..");
const graphemes = (s: string) => [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(s)].map((g) => g.segment);

/** Lines of `alphabet` without spaces (every cut falls inside a line), split in a process whose Intl.Segmenter throws. */
async function splitWithoutSegmenter(lines: string[], budget: number): Promise<{ parts?: string[][]; error?: string }> {
  const script = `
    Intl.Segmenter = class { constructor() { throw new Error("Intl.Segmenter constructed"); } };
    const { split, utf8Bytes } = await import(${JSON.stringify(join(ROOT, "src/core/split.ts"))});
    const lines = JSON.parse(await Bun.stdin.text());
    try {
      process.stdout.write(JSON.stringify({ parts: lines.map((l) => split(l, { budget: ${budget}, cost: utf8Bytes })) }));
    } catch (e) {
      process.stdout.write(JSON.stringify({ error: String(e.message) }));
    }
  `;
  const p = Bun.spawn(["bun", "-e", script], { stdin: new Blob([JSON.stringify(lines)]), stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  expect({ code: await p.exited, stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(stdout);
}

function latin(random: () => number, n: number): string {
  let s = "";
  // Printable ASCII but space, Latin-1 and Latin Extended letters, a few C0 and C1 controls and a lone CR.
  while (s.length < n) {
    const r = random();
    s += String.fromCharCode(r < 0.5 ? 0x21 + Math.floor(random() * 94) : r < 0.97 ? 0xa1 + Math.floor(random() * (0x300 - 0xa1)) : [0x0d, 0x07, 0x85, 0x9b, 0xad][Math.floor(random() * 5)]!);
  }
  return s;
}

describe("splitting Latin text", () => {
  test("long lines of Latin-1 and Latin Extended are cut without constructing Intl.Segmenter, at cluster boundaries", async () => {
    const random = prng(11);
    const lines = Array.from({ length: 20 }, () => latin(random, 3000));
    const { parts, error } = await splitWithoutSegmenter(lines, 500);
    expect(error).toBeUndefined();
    lines.forEach((line, i) => {
      const got = parts![i]!;
      expect(got.length).toBeGreaterThan(1);
      expect(got).toEqual(split(line, { budget: 500, cost: utf8Bytes }));
      expect(got.join("")).toBe(line);
      // Every character here is a cluster of its own, so each part is as long as the budget allows.
      let at = 0;
      for (const p of got.slice(0, -1)) {
        at += p.length;
        expect(utf8Bytes(p + line[at]!)).toBeGreaterThan(500);
      }
      expect(graphemes(line).length).toBe(line.length);
    });
  });

  test("a combining mark or another character above U+02FF still goes through the segmenter", async () => {
    for (const line of ["e\u0301".repeat(300), "中".repeat(600), `${"x".repeat(600)}\u0301`]) {
      const { error } = await splitWithoutSegmenter([line], 50);
      expect(error).toBe("Intl.Segmenter constructed");
    }
    // What it cuts, it cuts between clusters.
    const parts = split("e\u0301".repeat(300), { budget: 51, cost: chars });
    for (const p of parts) expect(p.startsWith("\u0301")).toBe(false);
  });
});
