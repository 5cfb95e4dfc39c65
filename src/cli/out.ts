import pc from "picocolors";

/** Diagnostics go to stderr, data to stdout. Colours follow picocolors' detection (NO_COLOR, FORCE_COLOR, TTY). */
export const c = pc;
export const ok = (s: string) => `${pc.green("✔")} ${s}`;
export const bad = (s: string) => `${pc.red("✖")} ${s}`;

export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Plain-text table with columns padded to their widest cell (ANSI colour codes not counted). */
export function table(head: string[], rows: string[][]): string {
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
  const width = (s: string) => [...visible(s)].reduce((w, ch) => w + (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{1f300}-\u{1faff}]/u.test(ch) ? 2 : 1), 0);
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - width(cell)))).join("  ").trimEnd();
  return [line(head.map((h) => pc.bold(h))), ...rows.map(line)].join("\n");
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
