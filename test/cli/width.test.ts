import { describe, expect, test } from "bun:test";
import { listing } from "../../src/cli/log.ts";
import { toSlack } from "../../src/core/markdown.ts";
import { fitWidths, preview, table, textWidth, truncate } from "../../src/cli/out.ts";
import type { LogRow } from "../../src/store/pushlog.ts";

const graphemes = (s: string) => [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(s)].map((g) => g.segment);

describe("terminal width", () => {
  test.each([
    ["abc", 3],
    ["✅", 2],
    ["⚠️", 2],
    ["🚀", 2],
    ["👨‍👩‍👧", 2],
    ["🇨🇳", 2],
    ["中文", 4],
    ["e\u0301", 1],
    ["\x1b[31mred\x1b[39m", 3],
  ])("%p takes %p columns", (s, w) => {
    expect(textWidth(s)).toBe(w);
  });

  test("truncate cuts to the width, with …, between graphemes", () => {
    expect(truncate("hello world", 20)).toBe("hello world");
    expect(truncate("hello world", 6)).toBe("hello…");
    // A two-column character that would end past the limit is left out whole.
    expect(truncate("ab✅cd", 4)).toBe("ab…");
    expect(truncate("ab✅cd", 5)).toBe("ab✅…");
    for (const s of ["👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧 family", "🇨🇳🇨🇳🇨🇳🇨🇳", "cafe\u0301 cafe\u0301 cafe\u0301", "中文消息测试一下"]) {
      const whole = new Set(graphemes(s));
      for (let max = 1; max < textWidth(s); max++) {
        const cut = truncate(s, max);
        expect(textWidth(cut)).toBeLessThanOrEqual(max);
        expect(cut.endsWith("…")).toBe(true);
        for (const g of graphemes(cut.slice(0, -1))) expect(whole.has(g)).toBe(true);
      }
    }
  });

  test("preview flattens, escapes and cuts by columns", () => {
    expect(preview("a\n\tb  c")).toBe("a b c");
    expect(preview("\x1b[2Jx")).toBe("\\x1b[2Jx");
    expect(textWidth(preview("🚀".repeat(50), 40))).toBeLessThanOrEqual(40);
  });

  test("table columns line up when cells hold wide characters", () => {
    const t = table(["A", "B"], [["✅ ok", "x"], ["⚠️ warn", "y"], ["👨‍👩‍👧", "z"], ["plain", "w"]]);
    const starts = t.split("\n").map((l) => textWidth(l.slice(0, l.lastIndexOf(" ") + 1)));
    expect(new Set(starts).size).toBe(1);
  });

  test("fitWidths narrows the columns in the order given, each to its minimum", () => {
    const head = ["A", "B", "C"];
    const rows = [["a".repeat(10), "b".repeat(20), "c".repeat(30)]];
    // Natural: 10 + 20 + 30 + 4 = 64.
    expect(fitWidths(head, rows, 54, [{ col: 2, min: 5 }, { col: 1, min: 5 }])).toEqual({ widths: [10, 20, 20], fits: true });
    expect(fitWidths(head, rows, 30, [{ col: 2, min: 5 }, { col: 1, min: 5 }])).toEqual({ widths: [10, 11, 5], fits: true });
    expect(fitWidths(head, rows, 10, [{ col: 2, min: 5 }, { col: 1, min: 5 }]).fits).toBe(false);
  });
});

function row(over: Partial<LogRow>): LogRow {
  return {
    id: "01M8MWEPQKDS94YP3BWZG7PWYH", delivery_id: 1, channel: "ops-room", type: "wecom", target: "", status: "delivered",
    attempts: 1, parts: 1, latency_ms: 123, error: null, created_at: Date.UTC(2026, 10, 30, 12), updated_at: 0,
    title: null, text: "deploy ✅ done", format: "text", replay_of: null, ...over,
  };
}

const rows: LogRow[] = [
  row({ text: "✅ deploy of api-server 2.4.1 to production finished in 3m12s, all health checks green 🚀" }),
  row({ id: "01M8MWEPSY5CK8WKCT0KD19MZV", status: "failed", attempts: 4, latency_ms: 30012, error: "connection refused by 127.0.0.1:9: nothing accepts connections there (is the server up, and the port right?)", text: "👨‍👩‍👧 family photo uploaded" }),
  row({ id: "01M8MWEPN33Z60BRQJVM5PZHWJ", title: "Disk ⚠️", text: "中文消息测试一下这个很长的消息看看能不能对齐" }),
];
const short = (id: string) => id.slice(0, 12);

describe("pp log rows fit the terminal", () => {
  test.each([80, 100, 120, 160, 240])("every line fits %p columns", (width) => {
    const lines = listing(rows, width, short).split("\n");
    expect(lines).toHaveLength(rows.length + 1);
    for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(width);
  });

  test("a wide terminal shows everything; a narrow one cuts the text first, then the error", () => {
    const wide = listing(rows, 400, short);
    expect(wide).toContain(rows[2]!.text);
    expect(wide).toContain(rows[0]!.text.slice(0, 60));
    expect(wide).toContain("01M8MWEPQKDS94YP3BWZG7PWYH");
    expect(wide).toContain("LATENCY");

    const lines = listing(rows, 80, short).split("\n");
    const textAt = lines[0]!.indexOf("TEXT");
    const errorAt = lines[0]!.indexOf("ERROR");
    // Every cut cell ends in …; the text column is cut at least as far as the error column.
    const cell = (l: string, from: number, to?: number) => l.slice(from, to).trim();
    const failed = lines[2]!;
    expect(failed).toContain("…");
    expect(textWidth(cell(failed, errorAt, textAt))).toBeGreaterThanOrEqual(8);
    expect(cell(lines[1]!, textAt)).toEndWith("…");
  });

  test("the id stays whole while the other columns can give way, and becomes the short id only then", () => {
    expect(listing(rows, 120, short)).toContain("01M8MWEPSY5CK8WKCT0KD19MZV");
    const narrow = listing(rows, 80, short);
    expect(narrow).not.toContain("01M8MWEPSY5CK8WKCT0KD19MZV");
    expect(narrow).toContain("01M8MWEPSY5C ");
  });

  test("graphemes are never cut in a row", () => {
    for (const width of [80, 90, 100]) {
      const out = listing(rows, width, short);
      expect(out).not.toMatch(/\u200d…|[\u{1f1e6}-\u{1f1ff}]…/u);
    }
  });
});

describe("Markdown tables sent to Slack", () => {
  test("columns line up on screen with emoji, joined emoji, CJK and combining accents", () => {
    const md = "| status | host |\n|---|---|\n| ✅ ok | a |\n| ⚠️ warn | b |\n| 🚀 | c |\n| 👨‍👩‍👧 | d |\n| 中文 | e |\n| cafe\u0301 | f |\n";
    const lines = toSlack(md).split("\n").filter((l) => l.includes("|"));
    expect(lines).toHaveLength(7);
    const bars = lines.map((l) => textWidth(l.slice(0, l.indexOf("|"))));
    expect(new Set(bars).size).toBe(1);
  });
});
