import type { Colors } from "picocolors/types";
import { PpError } from "../core/errors.ts";
import { localOffset } from "../core/localtime.ts";

/**
 * Terminal output. Data goes to stdout, diagnostics to stderr (written with writeSync, which stays cheap at
 * start-up, unlike process.stdout). Colours come from picocolors, loaded only when stderr or stdout is a
 * terminal: `pp send` from cron or a pipe never pays for it. Each stream is coloured only if it is itself a
 * terminal: `pp log | cat` gets no escape codes even when stderr is one.
 */

/** NO_COLOR (any non-empty value, no-color.org) and TERM=dumb turn colour off, FORCE_COLOR on; else undefined. */
function colorByEnv(): boolean | undefined {
  const env = process.env;
  if (env.NO_COLOR || env.TERM === "dumb") return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return undefined;
}

const terminals = new Map<number, boolean>();

/** Whether descriptor `fd` is a terminal, loading node:tty (slow at start-up) only for a character device other than /dev/null. */
export function isTerminal(fd: number): boolean {
  let known = terminals.get(fd);
  // Bun sets enableANSIColors at start-up when stdout or stderr is a terminal (or NO_COLOR, FORCE_COLOR say
  // otherwise): without either, pp's usual case in scripts, node:fs (about 1.5 ms and 5 MiB) is not loaded.
  if (known === undefined && (fd === 1 || fd === 2) && process.platform !== "win32" && !Bun.enableANSIColors && !process.env.NO_COLOR && !process.env.FORCE_COLOR) {
    known = false;
    terminals.set(fd, known);
  }
  if (known === undefined) {
    const fs = require("node:fs") as typeof import("node:fs");
    try {
      const st = fs.fstatSync(fd);
      known = st.isCharacterDevice() && st.rdev !== fs.statSync("/dev/null").rdev && (require("node:tty") as typeof import("node:tty")).isatty(fd);
    } catch {
      known = false;
    }
    terminals.set(fd, known);
  }
  return known;
}

/** Whether what is written to `fd` (1 or 2) may hold colour codes. */
export function colorFor(fd: number): boolean {
  return colorByEnv() ?? isTerminal(fd);
}

/**
 * Columns to fit output to: $COLUMNS when set, else the terminal's width when stdout is one, else 80 (a pipe
 * or a file has no width; 80 reads everywhere).
 */
export function outputWidth(): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  if (isTerminal(1)) {
    const cols = process.stdout.columns;
    if (Number.isInteger(cols) && cols > 0) return cols;
  }
  return 80;
}

const plain = (s: string) => s;
const noColors = { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };
type Palette = Record<keyof typeof noColors, (s: string) => string>;
let colors: Palette | undefined;

/** bold, dim, red, green, yellow, cyan: identity functions when colour is off. */
export const c: typeof noColors = new Proxy(noColors, {
  get(_, name: keyof typeof noColors) {
    colors ??= colorFor(1) || colorFor(2) ? (require("picocolors") as { createColors(on: boolean): Colors }).createColors(true) : noColors;
    return colors![name];
  },
});

export const ok = (s: string) => `${c.green("✔")} ${s}`;
export const bad = (s: string) => `${c.red("✖")} ${s}`;

/**
 * Control characters a terminal acts on: C0 but newline and tab, DEL, and C1 (U+0080-U+009F; some terminals
 * read U+009B as the start of a control sequence, as they read ESC "[").
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** DEL and C1 as \u escapes: they are the ones JSON.stringify leaves raw, and \u keeps --json output valid JSON. */
function visible(ch: string): string {
  const code = ch.charCodeAt(0);
  return code < 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Text pp did not write (a platform's answer, a message, a name from the command line or the push log) made
 * safe to print: every control character is shown as an escape (ESC as \x1b), so no answer can clear the
 * screen, set the window title, hide text or fake a status line. Escape before colouring, never after.
 */
export function clean(text: string): string {
  return text.replace(CONTROL, visible);
}

/** clean() for text that must stay on one line (an error in a status line): line breaks become spaces. */
export function cleanLine(text: string): string {
  return clean(text.replace(/\s*[\n\u2028\u2029]\s*/g, " "));
}

/**
 * pp's own colour codes pass, unless this stream is not to be coloured (`fd`); any other control character
 * left in a line is shown, never acted on.
 */
const UNSAFE = /\x1b\[[0-9;]*m|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
function guard(line: string, fd: number): string {
  // The stream is looked at only when a line holds colour.
  return line.replace(UNSAFE, (m) => (m.length > 1 ? (colorFor(fd) ? m : "") : visible(m)));
}

export function err(line: string): void {
  writeStderr(`${guard(line, 2)}\n`);
}

/**
 * Not console.error: Bun paints all it writes red on a terminal (a green "✔" line included) and under FORCE_COLOR
 * even with NO_COLOR set. A stderr that cannot be written is not reported anywhere: there is nowhere left to.
 */
export function writeStderr(text: string): void {
  // A pipe or a terminal (Bun.file().size is Infinity for anything but a regular file) takes a short write at once,
  // and Bun.write makes it without loading node:fs (about 1.5 ms and 5 MiB for a short pp process). A write left
  // pending (a full pipe) is finished by Bun; what follows waits for it, so lines stay in order.
  if (stderrTail !== undefined) {
    stderrTail = stderrTail.then(() => Bun.write(Bun.stderr, text)).catch(() => {});
    return;
  }
  if ((stderrStream ??= Bun.file(2).size === Infinity)) {
    const p = Bun.write(Bun.stderr, text);
    if (Bun.peek.status(p) === "pending") stderrTail = p.catch(() => {});
    else p.catch(() => {});
    return;
  }
  try {
    writeAll(2, text);
  } catch {}
}

/** Writes all of `text` to descriptor `fd` synchronously; a full non-blocking pipe is waited for. Throws the write's error. */
function writeAll(fd: number, text: string): void {
  const { writeSync } = require("node:fs") as typeof import("node:fs");
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
let stderrStream: boolean | undefined;
let stderrTail: Promise<unknown> | undefined;

export function out(line: string): void {
  writeStdout(`${guard(line, 1)}\n`);
}

/** out() for callers that can wait: see writeStdoutAsync. */
export async function outAsync(line: string): Promise<void> {
  await writeStdoutAsync(`${guard(line, 1)}\n`);
}

/** Exit status when the result cannot be written to stdout. */
export const EXIT_STDOUT = 5;

const STDOUT_PROBLEM: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  EPIPE: "the program reading it has exited",
  EBADF: "it is closed",
  EIO: "an I/O error",
};

/** A failed write to stdout, as pp reports it. */
function stdoutError(e: unknown): PpError {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  return new PpError("output", `cannot write to standard output: ${STDOUT_PROBLEM[code] ?? (code || (e as Error).message)}`, EXIT_STDOUT);
}

let stdoutClosed: boolean | undefined;

/**
 * Whether pp was started with stdout closed (`pp send ... >&-`). Bun then puts /dev/null on descriptor 1, so
 * writes succeed and go nowhere. That descriptor was opened by this process, so it is close-on-exec, which an
 * inherited stdout never is (Linux only: elsewhere this cannot be told).
 */
function startedClosed(): boolean {
  if (process.platform !== "linux") return false;
  try {
    const fs = require("node:fs") as typeof import("node:fs");
    if (!fs.fstatSync(1).isCharacterDevice()) return false;
    const flags = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync("/proc/self/fdinfo/1", "utf8"));
    return flags !== null && (parseInt(flags[1]!, 8) & 0o2000000) !== 0;
  } catch {
    return false;
  }
}

/**
 * Writes to stdout synchronously, so that a full disk or a closed pipe is noticed here (console.log drops the
 * error, and `pp send > /dev/full` exited 0 with the id lost). Throws a PpError with EXIT_STDOUT.
 */
export function writeStdout(text: string): void {
  if (stdoutClosed ??= startedClosed()) throw new PpError("output", `cannot write to standard output: ${STDOUT_PROBLEM.EBADF}`, EXIT_STDOUT);
  try {
    writeAll(1, text);
  } catch (e) {
    throw stdoutError(e);
  }
}

/**
 * writeStdout for callers that can wait, without loading node:fs (about 1.5 ms and 5 MiB for a short pp process)
 * when stdout is a pipe or a terminal, as in `id=$(pp send ...)`. A regular file, and /dev/null (where Bun puts a
 * closed stdout, which startedClosed tells apart) go through writeStdout. /dev/null is known by its modification
 * time, which writing to it does not change.
 */
export async function writeStdoutAsync(text: string): Promise<void> {
  const fd = Bun.file(1);
  if (fd.size !== Infinity || fd.lastModified === Bun.file("/dev/null").lastModified) return writeStdout(text);
  try {
    await Bun.write(Bun.stdout, text);
  } catch (e) {
    throw stdoutError(e);
  }
}

/** Columns a string takes on a terminal: wide (CJK, emoji) and zero-width characters counted, colour codes not. */
export const textWidth = (s: string): number => Bun.stringWidth(s);

let graphemes: Intl.Segmenter | undefined;

/**
 * Characters that are each a grapheme cluster of their own, whatever stands next to them: Latin and Cyrillic
 * letters, general punctuation, CJK punctuation, kana, ideographs and fullwidth forms. None is a combining mark, a
 * joiner, a variation selector, a skin tone, a regional indicator, a Hangul jamo or syllable, a prepended or spacing
 * mark, or half of a surrogate pair, which are what join characters into one cluster (UAX #29); the CJK blocks stop
 * before their marks (U+302A, U+3099, U+FF9E). CR before LF is the one pair left, looked for apart.
 */
const SINGLE_UNITS = /^[\0-\u02ff\u0400-\u0482\u048a-\u04ff\u2010-\u2027\u3000-\u3029\u3041-\u3096\u309b-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff9d]*$/;

/** Whether every UTF-16 code unit of `s` is a grapheme cluster by itself, so that `s` can be cut anywhere. */
export function singleUnits(s: string): boolean {
  return SINGLE_UNITS.test(s) && !s.includes("\r\n");
}

/** `s` cut to at most `max` columns with "…", never inside a character a terminal draws as one (🇨🇳, 👨‍👩‍👧, e + accent). */
export function truncate(s: string, max: number): string {
  if (textWidth(s) <= max) return s;
  if (max < 1) return "";
  // Most text needs no segmenter, whose first use costs a short pp process about 2 ms (ICU's break-iterator data).
  return singleUnits(s) ? cutUnits(s, max) : cutClusters(s, max);
}

/** truncate() for text in which every code unit is a cluster of its own (singleUnits). */
function cutUnits(s: string, max: number): string {
  let used = 0;
  let end = 0;
  for (; end < s.length; end++) {
    // Printable ASCII is one column (Bun.stringWidth says so too), without a call per character.
    const code = s.charCodeAt(end);
    const w = code >= 0x20 && code < 0x7f ? 1 : textWidth(s[end]!);
    if (used + w > max - 1) break;
    used += w;
  }
  return `${s.slice(0, end)}…`;
}

/** truncate() for any text, cluster by cluster with Intl.Segmenter. Exported to check cutUnits against. */
export function cutClusters(s: string, max: number): string {
  let kept = "";
  let used = 0;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  for (const { segment } of graphemes.segment(s)) {
    const w = textWidth(segment);
    if (used + w > max - 1) break;
    kept += segment;
    used += w;
  }
  return `${kept}…`;
}

/** A column that gives up room when a table is wider than it may be: down to `min` columns, in the order given. */
export interface Shrink { col: number; min: number }

function naturalWidths(head: string[], rows: string[][]): number[] {
  // Loops, not Math.max(...spread): pp log --limit may list more rows than a call may take arguments.
  const widths = head.map((h) => textWidth(h));
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, textWidth(r[i] ?? ""));
  return widths;
}

function shrinkWidths(natural: number[], head: string[], max: number, shrink: Shrink[]): { widths: number[]; fits: boolean } {
  const widths = [...natural];
  // A loop, not reduce(): pp log would be the first to call reduce, whose first call costs about 0.1 ms.
  let over = 2 * (widths.length - 1) - max;
  for (let i = 0; i < widths.length; i++) over += widths[i]!;
  for (const { col, min } of shrink) {
    if (over <= 0) break;
    const give = Math.min(over, Math.max(0, widths[col]! - Math.max(min, textWidth(head[col]!))));
    widths[col]! -= give;
    over -= give;
  }
  return { widths, fits: over <= 0 };
}

/**
 * Each column's width, the columns named in `shrink` narrowed (in order, each to its `min` at most) so that the
 * table fits `max` columns, and whether it then fits.
 */
export function fitWidths(head: string[], rows: string[][], max: number, shrink: Shrink[] = []): { widths: number[]; fits: boolean } {
  return shrinkWidths(naturalWidths(head, rows), head, max, shrink);
}

function render(head: string[], rows: string[][], natural: number[], widths: number[]): string {
  const line = (cells: string[]) =>
    cells
      .map((raw, i) => {
        const cell = widths[i]! < natural[i]! ? truncate(raw, widths[i]!) : raw;
        return i === cells.length - 1 ? cell : cell + " ".repeat(Math.max(0, widths[i]! - textWidth(cell)));
      })
      .join("  ")
      .trimEnd();
  return [line(head.map((h) => c.bold(h))), ...rows.map(line)].join("\n");
}

/**
 * A table fitted to `fit.width` by cutting the `shrink` columns (with "…"): whether it fits, and its text, drawn
 * only when asked for. Every cell is measured once.
 */
export function fitTable(head: string[], rows: string[][], fit: { width: number; shrink: Shrink[] }): { fits: boolean; text(): string } {
  const natural = naturalWidths(head, rows);
  const { widths, fits } = shrinkWidths(natural, head, fit.width, fit.shrink);
  return { fits, text: () => render(head, rows, natural, widths) };
}

/**
 * Plain-text table with columns padded to their widest cell (colour codes not counted). Given a `width`, the
 * `shrink` columns are cut (with "…") so that rows fit it where they can.
 */
export function table(head: string[], rows: string[][], fit?: { width: number; shrink: Shrink[] }): string {
  if (fit) return fitTable(head, rows, fit).text();
  const natural = naturalWidths(head, rows);
  return render(head, rows, natural, natural);
}

/** One line of a text, cut to `max` columns (see truncate), control characters escaped (clean). */
export function preview(text: string, max = 40): string {
  return truncate(clean(text.replace(/\s+/g, " ").trim()), max);
}

/** `2026-11-23 08:00:00` in the local time zone (the zone file's offset when it can be read: see localOffset). */
export function localTime(ms: number): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const offset = localOffset(ms);
  if (offset !== undefined) {
    const u = new Date(ms + offset * 1000);
    return `${u.getUTCFullYear()}-${p(u.getUTCMonth() + 1)}-${p(u.getUTCDate())} ${p(u.getUTCHours())}:${p(u.getUTCMinutes())}:${p(u.getUTCSeconds())}`;
  }
  const d = new Date(ms);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
