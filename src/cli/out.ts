import type { Colors } from "picocolors/types";
import { PpError } from "../core/errors.ts";

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

/** pp's own colour codes pass; any other control character left in a line is shown, never acted on. */
const UNSAFE = /\x1b\[[0-9;]*m|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
function guard(line: string): string {
  return line.replace(UNSAFE, (m) => (m.length > 1 ? m : visible(m)));
}

export function err(line: string): void {
  console.error(guard(line));
}
export function out(line: string): void {
  writeStdout(`${guard(line)}\n`);
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
  const { writeSync } = require("node:fs") as typeof import("node:fs");
  if (stdoutClosed ??= startedClosed()) throw new PpError("output", `cannot write to standard output: ${STDOUT_PROBLEM.EBADF}`, EXIT_STDOUT);
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      // A non-blocking pipe that is full: wait for the reader.
      if (code === "EAGAIN") {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      const why = STDOUT_PROBLEM[code] ?? (code || (e as Error).message);
      throw new PpError("output", `cannot write to standard output: ${why}`, EXIT_STDOUT);
    }
  }
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

/** One line of a text, cut to `max` characters, never inside a surrogate pair, control characters escaped (clean). */
export function preview(text: string, max = 40): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const cps = [...flat];
  return clean(cps.length <= max ? flat : `${cps.slice(0, max - 1).join("")}…`);
}

export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
