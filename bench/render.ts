/**
 * Rendering and splitting one large message for every channel type, in both formats, on inputs chosen to hit
 * the slow paths of Markdown lexing, escaping, width computation and splitting. Each figure is what
 * `plan()` (render, split, build and measure every part) takes for one channel, in this process.
 *
 *   bun bench/render.ts            # 1 MiB inputs
 *   bun bench/render.ts --quick    # 256 KiB inputs
 *   bun bench/render.ts --size 65536 --only starA,underA
 *
 * Target: every figure well under a second at 1 MiB.
 */
import * as v from "valibot";
import { channels } from "../src/channels/index.ts";
import { plan, type Target } from "../src/core/dispatch.ts";
import { clearTokenCache } from "../src/core/markdown.ts";
import type { Format } from "../src/core/types.ts";
import { prng } from "../test/helpers.ts";
import { fmtMs, table } from "./lib.ts";

/** Repeats `unit` up to exactly `n` characters (never ending inside a surrogate pair). */
function fill(unit: string, n: number): string {
  const s = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
  return /[\ud800-\udbff]$/.test(s) ? s.slice(0, -1) : s;
}

/** Lines built by `line(i)` up to `n` characters. */
function lines(n: number, line: (i: number) => string): string {
  const out: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const l = line(i);
    out.push(l);
    len += l.length + 1;
  }
  return out.join("\n").slice(0, n);
}

/** Inputs of `n` characters that have made a renderer or splitter slow; deterministic. */
export const ADVERSARIAL: Record<string, (n: number) => string> = {
  "*a*a": (n) => fill("*a", n),
  "_a_a": (n) => fill("_a", n),
  "**a*_a_~~a": (n) => fill("**a*_a_~~a", n),
  "a.b-c_d": (n) => fill("a.b-c_d", n),
  "[[[[": (n) => fill("[", n),
  "[a](b)[a](b)": (n) => fill("[a](b)", n),
  "![[a](": (n) => fill("![[a](", n),
  "````": (n) => fill("`", n),
  "`a``a```a": (n) => lines(n, (i) => "`".repeat(1 + (i % 40)) + "a").replaceAll("\n", ""),
  "<<<<": (n) => fill("<", n),
  "<a<a": (n) => fill("<a", n),
  "&&&&": (n) => fill("&", n),
  "&amp;": (n) => fill("&amp;", n),
  ">>>> (one line)": (n) => fill(">", n),
  "nested >": (n) => lines(n, (i) => ">".repeat(1 + (i % 200)) + " a"),
  "deep list": (n) => lines(n, (i) => " ".repeat(2 * (i % 300)) + "- a"),
  "long list": (n) => lines(n, () => "- a"),
  "one line, no spaces": (n) => fill("abcdefgh", n),
  "one line, CJK": (n) => fill("日本語のテキスト", n),
  "one line, combining marks": (n) => fill("e\u0301\u0301\u0301", n),
  "spaces": (n) => "a" + " ".repeat(n - 2) + "b",
  "tiny lines": (n) => fill("a\n", n),
  "blank lines": (n) => fill("\n", n),
  "setext": (n) => fill("a\n=\n", n),
  "hard breaks": (n) => fill("a  \n", n),
  "table, many columns": (n) => {
    const cols = Math.max(1, Math.floor(n / 8));
    return `${"|a".repeat(cols)}|\n${"|-".repeat(cols)}|\n${"|b".repeat(cols)}|`.slice(0, n);
  },
  "table, a wide cell": (n) => {
    const wide = Math.floor(n / 4);
    return `|a|b|\n|-|-|\n|${"x".repeat(wide)}|y|\n` + "|b|c|\n".repeat(Math.floor((n - wide - 20) / 6));
  },
  "table, many rows": (n) => "|a|b|\n|-|-|\n" + lines(n - 12, (i) => `|${i}|日本|`),
  "fences": (n) => fill("```\na\n", n),
  "e-mail run": (n) => fill("a@", n),
  "random markup": (n) => {
    const r = prng(6);
    const alphabet = "*_`[]()<>&!\\~#-|> a\n=.:";
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
    return s;
  },
  "prose": (n) => {
    const r = prng(7);
    const words = ["alpha", "**beta**", "_gamma_", "`delta`", "[link](https://e.com/x)", "日本語", "😀", "- item", "# head", "> quote"];
    return lines(n, () => Array.from({ length: 1 + Math.floor(r() * 12) }, () => words[Math.floor(r() * words.length)]).join(" "));
  },
};

/** One channel of each type (WeCom twice: its two Markdown versions are two renderers). */
export const TARGETS: Record<string, { type: keyof typeof channels; opts: Record<string, unknown> }> = {
  wecom: { type: "wecom", opts: { webhook: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=bench" } },
  "wecom v2": { type: "wecom", opts: { webhook: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=bench", markdown: "v2" } },
  feishu: { type: "feishu", opts: { webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/bench", secret: "s" } },
  dingtalk: { type: "dingtalk", opts: { webhook: "https://oapi.dingtalk.com/robot/send?access_token=bench", secret: "SECbench" } },
  slack: { type: "slack", opts: { webhook: "https://hooks.slack.com/services/T0/B0/bench" } },
  discord: { type: "discord", opts: { webhook: "https://discord.com/api/webhooks/1/bench" } },
  mattermost: { type: "mattermost", opts: { webhook: "https://chat.example.com/hooks/bench" } },
  webhook: { type: "webhook", opts: { url: "https://example.com/hook" } },
};

export function target(name: string): Target {
  const { type, opts } = TARGETS[name]!;
  const def = channels[type];
  return { name, def, opts: v.parse(def.schema, { type, ...opts }), rates: [], rateText: "", retries: 0, timeoutMs: 1000 };
}

/** Milliseconds plan() takes, lexing included; the best of `runs`. */
export function timePlan(t: Target, text: string, format: Format, runs = 1): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    clearTokenCache();
    const t0 = performance.now();
    const p = plan(t, undefined, text, format, 0);
    best = Math.min(best, performance.now() - t0);
    if (p.error) throw new Error(`${t.name}: ${p.error}`);
  }
  return best;
}

export interface RenderFigures {
  size: number;
  head: string[];
  rows: string[][];
  worst: { ms: number; where: string };
}

/** A table per format: one row per input, one column per channel. */
export function benchRender(size: number, only?: string[], onRow?: (label: string) => void): RenderFigures {
  const names = Object.keys(TARGETS);
  const targets = names.map(target);
  const rows: string[][] = [];
  let worst = { ms: 0, where: "" };
  timePlan(targets[0]!, ADVERSARIAL.prose!(4096), "markdown"); // load marked and warm up before measuring
  for (const [label, gen] of Object.entries(ADVERSARIAL)) {
    if (only && !only.includes(label)) continue;
    const text = gen(size);
    for (const format of ["markdown", "text"] as const) {
      const cells = targets.map((t) => {
        const ms = timePlan(t, text, format);
        if (ms > worst.ms) worst = { ms, where: `${t.name}, ${format}, ${label}` };
        return fmtMs(ms);
      });
      // What one send to all of them costs: the text is lexed once, then walked once per dialect.
      clearTokenCache();
      const t0 = performance.now();
      for (const t of targets) plan(t, undefined, text, format, 0);
      rows.push([`${label} (${format})`, ...cells, fmtMs(performance.now() - t0)]);
    }
    onRow?.(label);
  }
  return { size, head: ["input (format)", ...names, "all, one send"], rows, worst };
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const size = Number(arg("--size") ?? (argv.includes("--quick") ? 262144 : 1048576));
  const only = arg("--only")?.split(",");
  const f = benchRender(size, only, (label) => process.stderr.write(`  ${label}\n`));
  console.log(`\n## plan() per channel, ${size.toLocaleString("en")}-character inputs (bun ${Bun.version})\n`);
  console.log(table(f.head, f.rows));
  console.log(`\nworst: ${fmtMs(f.worst.ms)} (${f.worst.where}); target: well under 1000 ms`);
}
