/**
 * The local time zone's offset from UTC, read from the system's zone file (TZif, RFC 8536) rather than through
 * Date's local-time getters: their first use sets up the runtime's time-zone data, about 8 ms of a short pp
 * process (`pp log` printing twenty times). Times after the file's last transition follow its POSIX TZ rule, so
 * daylight saving time is right in the years to come too. Anything this does not read with certainty (no zone
 * file, leap seconds, a TZ that names a rule rather than a file) answers undefined, and the caller asks Date.
 */

interface Zone {
  /** Transition instants (unix seconds), ascending, and the offset (seconds east of UTC) that begins at each. */
  at: number[];
  offsets: number[];
  /** The offset before the first transition. */
  initial: number;
  /** For times after the last transition: the footer's rule, or the last offset when there is none. */
  rule: Rule | number;
}

interface Rule {
  std: number;
  dst: number;
  start: RuleDate;
  end: RuleDate;
}

/** A POSIX TZ date: Julian day 1-365 without Feb 29 (J), day 0-365 (plain), or month, week and weekday (M). */
type RuleDate =
  | { kind: "J"; day: number; time: number }
  | { kind: "n"; day: number; time: number }
  | { kind: "M"; month: number; week: number; weekday: number; time: number };

let cached: Zone | null | undefined;
/** The $TZ the cached zone was read for: a process that changes it gets the new zone, as Date gives it. */
let cachedFor: string | undefined;

/** Seconds east of UTC at unix time `ms` in the local zone, or undefined when only Date can tell. */
export function localOffset(ms: number): number | undefined {
  if (cached === undefined || cachedFor !== process.env.TZ) {
    cachedFor = process.env.TZ;
    try {
      cached = loadZone();
    } catch {
      cached = null;
    }
  }
  if (!cached || !Number.isFinite(ms)) return undefined;
  return offsetAt(cached, Math.floor(ms / 1000));
}

/** The zone file the C library would read: $TZ when it names one, else /etc/localtime. */
function zoneFile(): string | undefined {
  // Windows keeps no zone files; a $TZDIR moves them where this does not look.
  if (process.platform === "win32" || process.env.TZDIR !== undefined) return undefined;
  const tz = process.env.TZ;
  if (tz === undefined) return "/etc/localtime";
  const name = tz.startsWith(":") ? tz.slice(1) : tz;
  if (name.startsWith("/")) return name;
  // A zone name such as Europe/Berlin; anything else (a POSIX rule like CET-1CEST, an empty TZ) is left to Date.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return undefined;
  return `/usr/share/zoneinfo/${name}`;
}

function loadZone(): Zone | null {
  const file = zoneFile();
  if (file === undefined || Bun.file(file).size === Infinity) return null;
  return parseTzif(Bun.mmap(file));
}

/** A TZif file (versions 1 to 4); null for one this does not read. */
export function parseTzif(bytes: Uint8Array): Zone | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== "TZif") return null;
  const version = bytes[4]!;
  const header = (at: number) => ({
    isut: view.getUint32(at + 20), isstd: view.getUint32(at + 24), leap: view.getUint32(at + 28),
    time: view.getUint32(at + 32), type: view.getUint32(at + 36), char: view.getUint32(at + 40),
  });
  let h = header(0);
  let at = 44;
  let wide = false;
  if (version >= 0x32) {
    // Version 2 and later repeat the data with 64-bit times, followed by the footer: skip the 32-bit block.
    at += h.time * 5 + h.type * 6 + h.char + h.leap * 8 + h.isstd + h.isut;
    if (String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!) !== "TZif") return null;
    h = header(at);
    at += 44;
    wide = true;
  }
  // Leap-second ("right/") zones count time differently from the runtime: leave them to Date.
  if (h.leap > 0 || h.type === 0) return null;
  const size = wide ? 8 : 4;
  const times: number[] = [];
  for (let i = 0; i < h.time; i++) times.push(wide ? Number(view.getBigInt64(at + i * 8)) : view.getInt32(at + i * 4));
  at += h.time * size;
  const idx = bytes.subarray(at, at + h.time);
  at += h.time;
  const typeOffsets: number[] = [];
  for (let i = 0; i < h.type; i++) typeOffsets.push(view.getInt32(at + i * 6));
  at += h.type * 6 + h.char + h.leap * (size + 4) + h.isstd + h.isut;
  // A plain loop: Array.from(typedArray, fn) costs a short pp process (pp log) about 0.3 ms the first time it runs.
  const offsets: number[] = [];
  for (let i = 0; i < idx.length; i++) {
    const o = typeOffsets[idx[i]!];
    if (o === undefined) return null;
    offsets.push(o);
  }
  let rule: Rule | number = offsets.length ? offsets[offsets.length - 1]! : typeOffsets[0]!;
  if (wide && bytes[at] === 0x0a) {
    const end = bytes.indexOf(0x0a, at + 1);
    if (end === -1) return null;
    const footer = new TextDecoder().decode(bytes.subarray(at + 1, end));
    if (footer !== "") {
      const parsed = parseRule(footer);
      if (parsed === null) return null;
      rule = parsed;
    }
  }
  return { at: times, offsets, initial: typeOffsets[0]!, rule };
}

/** A POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`, `<+0330>-3:30`): a fixed offset, or a rule. */
export function parseRule(s: string): Rule | number | null {
  let i = 0;
  const name = (): boolean => {
    if (s[i] === "<") {
      const close = s.indexOf(">", i);
      if (close === -1) return false;
      i = close + 1;
      return true;
    }
    const from = i;
    while (i < s.length && /[A-Za-z]/.test(s[i]!)) i++;
    return i - from >= 3;
  };
  // [+-]hh[:mm[:ss]], as seconds.
  const clock = (): number | null => {
    const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(s.slice(i));
    if (!m) return null;
    i += m[0].length;
    const secs = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
    return m[1] === "-" ? -secs : secs;
  };
  const date = (): RuleDate | null => {
    let d: RuleDate;
    const m = /^(?:J(\d{1,3})|(\d{1,3})|M(\d{1,2})\.(\d)\.(\d))/.exec(s.slice(i));
    if (!m) return null;
    i += m[0].length;
    if (m[1] !== undefined) d = { kind: "J", day: Number(m[1]), time: 7200 };
    else if (m[2] !== undefined) d = { kind: "n", day: Number(m[2]), time: 7200 };
    else d = { kind: "M", month: Number(m[3]), week: Number(m[4]), weekday: Number(m[5]), time: 7200 };
    if (s[i] === "/") {
      i++;
      const t = clock();
      if (t === null) return null;
      d.time = t;
    }
    return d;
  };
  if (!name()) return null;
  const stdPosix = clock();
  if (stdPosix === null) return null;
  // POSIX offsets are west of UTC.
  const std = 0 - stdPosix;
  if (i === s.length) return std;
  if (!name()) return null;
  let dst = std + 3600;
  if (s[i] !== "," && i < s.length) {
    const d = clock();
    if (d === null) return null;
    dst = 0 - d;
  }
  if (s[i] !== ",") return null;
  i++;
  const start = date();
  if (start === null || s[i] !== ",") return null;
  i++;
  const end = date();
  if (end === null || i !== s.length) return null;
  return { std, dst, start, end };
}

function offsetAt(z: Zone, t: number): number {
  const { at } = z;
  if (at.length === 0 || t >= at[at.length - 1]!) {
    return typeof z.rule === "number" ? z.rule : ruleOffset(z.rule, t);
  }
  if (t < at[0]!) return z.initial;
  let lo = 0;
  let hi = at.length - 1;
  // The last transition at or before t.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (at[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return z.offsets[lo]!;
}

const DAY = 86400;
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Seconds from the epoch to local midnight (as if UTC) of the rule's date in `year`. */
function ruleDay(d: RuleDate, year: number): number {
  const jan1 = Date.UTC(year, 0, 1) / 1000;
  if (d.kind === "J") return jan1 + (d.day - 1 + (isLeap(year) && d.day >= 60 ? 1 : 0)) * DAY;
  if (d.kind === "n") return jan1 + d.day * DAY;
  const first = Date.UTC(year, d.month - 1, 1) / 1000;
  const firstWeekday = new Date(first * 1000).getUTCDay();
  let day = 1 + ((d.weekday - firstWeekday + 7) % 7) + (d.week - 1) * 7;
  const days = new Date(Date.UTC(year, d.month, 0)).getUTCDate();
  while (day > days) day -= 7;
  return first + (day - 1) * DAY;
}

function ruleOffset(r: Rule, t: number): number {
  // Each change happens at a local time reckoned in the offset in force before it.
  const start = (y: number) => ruleDay(r.start, y) + r.start.time - r.std;
  const end = (y: number) => ruleDay(r.end, y) + r.end.time - r.dst;
  const year = new Date((t + r.std) * 1000).getUTCFullYear();
  // Daylight saving time that starts in year y ends that year, or (south of the equator) the next.
  for (const y of [year - 1, year, year + 1]) {
    const s = start(y);
    const e = end(y) > s ? end(y) : end(y + 1);
    if (t >= s && t < e) return r.dst;
  }
  return r.std;
}
