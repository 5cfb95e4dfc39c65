/**
 * The channel and group names of the config, for `pp channels --names`, which shell completion runs on every
 * <TAB>: read without the TOML parser and the validation (most of that command's time). Only a config written in
 * the plain form that `pp config init` and the README use is read here: table headers, one-line keys and values,
 * comments. Anything else (a multi-line value, an inline table of channels, a duplicate, a name that is not
 * valid) answers undefined, and the caller takes the full loader. On a valid config the names, and their order,
 * are those loadConfig gives.
 */
import { absolute, configCandidates } from "./paths.ts";
import { quickExists, quickRead } from "./read.ts";

/** load.ts's MAX_CONFIG_BYTES: a bigger file goes to the loader, which refuses it (test/config/names.test.ts). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** The names loadConfig(flag, { required: false }) would list, channels first; undefined when it must be asked. */
export function configNames(flag?: string): string[] | undefined {
  const candidates = configCandidates(flag);
  let found: { path: string } | undefined;
  for (let i = 0; i < candidates.length && !found; i++) if (quickExists(candidates[i]!.path) !== false) found = candidates[i];
  // No config: loadConfig lists nothing (or fails on a --config that is not there, which prints nothing too).
  if (!found) return [];
  // Only a regular file of 1 byte to MAX_CONFIG_BYTES is read here (an empty file, a FIFO: the loader says what it is).
  const bytes = quickRead(absolute(found.path), MAX_CONFIG_BYTES);
  if (!bytes) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  return scanNames(text);
}

/**
 * One line of the plain form: `[a.b]` or `a.b = value`, each with an optional comment. A value is a string on one
 * line, a bare value (number, boolean, date), or a flat array or inline table of those; anything else (a
 * multi-line string or array, `[[tables]]`) fails, as does a quoted key with escapes. Written as a scan rather
 * than regular expressions: compiling those took longer than the whole scan of a config.
 */
class Line {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    while (this.s[this.i] === " " || this.s[this.i] === "\t") this.i++;
  }

  /** At the end of the line, after blanks and a comment. */
  end(): boolean {
    this.ws();
    if (this.s[this.i] === "#") return !CONTROL.test(this.s.slice(this.i));
    return this.i === this.s.length;
  }

  eat(ch: string): boolean {
    this.ws();
    if (this.s[this.i] !== ch) return false;
    this.i++;
    return true;
  }

  /** The length of the run of `chars` (a sticky pattern) from the current position. */
  private run(chars: RegExp): number {
    chars.lastIndex = this.i;
    return chars.exec(this.s)![0].length;
  }

  /** A dotted key's parts, quotes removed; undefined when it is not one. */
  key(): string[] | undefined {
    const parts: string[] = [];
    do {
      this.ws();
      const q = this.s[this.i];
      if (q === '"' || q === "'") {
        const close = this.s.indexOf(q, this.i + 1);
        if (close === -1) return undefined;
        const part = this.s.slice(this.i + 1, close);
        if (CONTROL.test(part) || part.includes("\\")) return undefined;
        parts.push(part);
        this.i = close + 1;
      } else {
        const n = this.run(BARE);
        if (n === 0) return undefined;
        parts.push(this.s.slice(this.i, this.i + n));
        this.i += n;
      }
    } while (this.eat("."));
    return parts;
  }

  /** A value; `nest` says what it may be beyond a string or a bare value (an array's items are neither). */
  value(nest: "array or table" | "array" | "none" = "array or table"): boolean {
    this.ws();
    const c = this.s[this.i];
    if (c === '"' || c === "'") {
      // """ and ''' open a multi-line string.
      if (this.s[this.i + 1] === c && this.s[this.i + 2] === c) return false;
      let close = this.i;
      for (;;) {
        close = this.s.indexOf(c, close + 1);
        if (close === -1) return false;
        if (c === "'") break;
        // A quote after an odd number of backslashes is escaped.
        let n = 0;
        while (this.s[close - 1 - n] === "\\") n++;
        if (n % 2 === 0) break;
      }
      if (CONTROL.test(this.s.slice(this.i + 1, close))) return false;
      this.i = close + 1;
      return true;
    }
    if (c === "[" || c === "{") {
      if (nest === "none" || (c === "{" && nest === "array")) return false;
      const close = c === "[" ? "]" : "}";
      this.i++;
      for (;;) {
        this.ws();
        if (this.s[this.i] === close) {
          this.i++;
          return true;
        }
        if (c === "{" && !(this.key() && this.eat("="))) return false;
        if (!this.value(c === "{" ? "array" : "none")) return false;
        if (!this.eat(",")) return this.eat(close);
      }
    }
    const n = this.run(SCALAR);
    this.i += n;
    // A date and a time apart by a space: 1979-05-27 07:32:00.
    if (n === 10 && this.s[this.i] === " " && /^\d{4}-\d\d-\d\d \d\d:/.test(this.s.slice(this.i - 10, this.i + 4))) {
      this.i++;
      this.i += this.run(SCALAR);
    }
    return n > 0;
  }
}

/** Control characters but tab: TOML allows none of them in strings, keys or comments. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const BARE = /[A-Za-z0-9_-]*/y;
const SCALAR = /[A-Za-z0-9_:.+-]*/y;
const NAME = /^[A-Za-z0-9_.-]+$/;

/** The channel and group names of a config in the plain form; undefined for anything else. */
export function scanNames(text: string): string[] | undefined {
  if (text.includes("\r") || text.startsWith("\uFEFF")) return undefined;
  // Null-prototype objects keep names in the order a parsed TOML table does (integer-like names first).
  const channels: Record<string, true> = Object.create(null);
  const groups: Record<string, true> = Object.create(null);
  const headers = new Set<string>();
  let table: string[] = [];
  // Plain loops, no split, spread or array callbacks: the runtime compiles those built-ins on their first use,
  // which here would cost more than the scan itself.
  for (let from = 0; from <= text.length; ) {
    let to = text.indexOf("\n", from);
    if (to === -1) to = text.length;
    const line = new Line(text.slice(from, to));
    from = to + 1;
    if (line.end()) continue;
    if (line.eat("[")) {
      if (line.s[line.i] === "[") return undefined;
      const parts = line.key();
      if (!parts || !line.eat("]") || !line.end()) return undefined;
      table = parts;
      const id = table.join("\u0000");
      if (headers.has(id)) return undefined;
      headers.add(id);
      if (table[0] === "groups" && table.length > 1) return undefined;
      if (table[0] === "channels" && table.length > 1) channels[table[1]!] = true;
      continue;
    }
    const key = line.key();
    if (!key || !line.eat("=")) return undefined;
    line.ws();
    const list = line.s[line.i] === "[";
    if (!line.value() || !line.end()) return undefined;
    // A key at the top that makes channels or groups, or one in [channels]: not the plain form.
    if (table.length === 0 && (key[0] === "channels" || key[0] === "groups")) return undefined;
    if (table.length === 1 && table[0] === "channels") return undefined;
    if (table.length === 1 && table[0] === "groups") {
      if (key.length !== 1 || !list || key[0]! in groups) return undefined;
      groups[key[0]!] = true;
    }
  }
  const names: string[] = [];
  for (const n in channels) names.push(n);
  for (const g in groups) {
    if (g in channels) return undefined;
    names.push(g);
  }
  for (let i = 0; i < names.length; i++) if (!NAME.test(names[i]!) || names[i] === "__proto__") return undefined;
  return names;
}
