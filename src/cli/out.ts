import type { Colors } from "picocolors/types";

/**
 * Terminal output. Data goes to stdout, diagnostics to stderr (console.log / console.error, which stay cheap
 * at start-up, unlike process.stdout). Colours come from picocolors, loaded only when stderr or stdout is a
 * terminal: `pp send` from cron or a pipe never pays for it.
 */
function wantColor(): boolean {
  const env = process.env;
  if (env.NO_COLOR || env.TERM === "dumb") return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  const tty = require("node:fs").fstatSync;
  try {
    // Only a character device can be a terminal; checking that first avoids loading node:tty for pipes and files.
    if (!tty(1).isCharacterDevice() && !tty(2).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  const { isatty } = require("node:tty");
  return isatty(1) || isatty(2);
}

const plain = (s: string) => s;
const noColors = { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
type Palette = Record<keyof typeof noColors, (s: string) => string>;
let colors: Palette | undefined;

/** bold, dim, red, green, yellow, cyan: identity functions when colour is off. */
export const c: typeof noColors = new Proxy(noColors, {
  get(_, name: keyof typeof noColors) {
    colors ??= wantColor() ? (require("picocolors") as { createColors(on: boolean): Colors }).createColors(true) : noColors;
    return colors![name];
  },
});

export const ok = (s: string) => `${c.green("✔")} ${s}`;
export const bad = (s: string) => `${c.red("✖")} ${s}`;

export function err(line: string): void {
  console.error(line);
}
export function out(line: string): void {
  console.log(line);
}

/** Plain-text table with columns padded to their widest cell (ANSI colour codes not counted). */
export function table(head: string[], rows: string[][]): string {
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
  const width = (s: string) => [...visible(s)].reduce((w, ch) => w + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{1f300}-\u{1faff}]/u.test(ch) ? 2 : 1), 0);
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - width(cell)))).join("  ").trimEnd();
  return [line(head.map((h) => c.bold(h))), ...rows.map(line)].join("\n");
}

/** One line of a text, cut to `max` characters, never inside a surrogate pair. */
export function preview(text: string, max = 40): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const cps = [...flat];
  return cps.length <= max ? flat : `${cps.slice(0, max - 1).join("")}…`;
}

export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
