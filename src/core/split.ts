/**
 * Splitting a rendered message into parts that each fit a platform's size limit.
 *
 * Cuts fall on line boundaries, preferably at paragraph breaks; a line that alone is too big is cut at a
 * space or, failing that, between two characters as drawn (grapheme clusters: 🇨🇳, 👨‍👩‍👧, e + accent). A part that ends inside a fenced code block is closed
 * and the next part reopens the block with the same opening line, so every part renders on its own.
 */

export interface SplitOptions {
  /** Largest cost one part may have. */
  budget: number;
  /** Cost of a string in the platform's unit; must be additive over lines joined with "\n". */
  cost: (s: string) => number;
}

/** UTF-8 byte length. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** UTF-8 bytes of `s` once escaped as a JSON string, without the surrounding quotes. */
export function jsonBytes(s: string): number {
  // Most lines are printable ASCII with nothing to escape; they cost their length, with no copy made.
  if (PLAIN_JSON.test(s)) return s.length;
  return Buffer.byteLength(JSON.stringify(s), "utf8") - 2;
}
const PLAIN_JSON = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** UTF-16 code units, what JavaScript and most "character" limits count. */
export function chars(s: string): number {
  return s.length;
}

interface Fence {
  /** The opening line, repeated at the start of a continuation part. */
  open: string;
  openCost: number;
  /** The line that closes the block at the end of a part. */
  close: string;
  closeCost: number;
  /** Whether closing/reopening fits comfortably; otherwise the block is split without fence repair. */
  usable: boolean;
}

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})(.*)$/;

function isBlank(s: string): boolean {
  if (s === "") return true;
  // Only a line that starts with white space can be blank; most do not, and need no trimmed copy.
  const c = s.charCodeAt(0);
  return (c <= 32 || c >= 0x80) && s.trim() === "";
}

/** A cheap test that lets most lines skip the fence regex. */
function mayBeFence(s: string): boolean {
  return s.includes("```") || s.includes("~~~");
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

let graphemes: Intl.Segmenter | undefined;

/**
 * Characters between which a cut is always safe: both below U+0300, where the combining marks begin (ASCII, Latin-1
 * and Latin Extended, none of which joins a cluster), but CR before LF. Latin text is cut without a segmenter, whose
 * first use costs about 2 ms.
 */
function plainPair(a: number, b: number): boolean {
  return a < 0x300 && b < 0x300 && !(a === 13 && b === 10);
}

/** How far back from a cut to look for the cluster that holds it; longer clusters (zalgo text) are cut inside. */
const CLUSTER_WINDOW = 128;

/**
 * The grapheme-cluster boundary at or before `end` (a code point boundary) and after `pos`, found with
 * Intl.Segmenter on a window near `end` only, so that cutting a long line stays linear. When the cluster holding
 * `end` starts at or before `pos` (it is bigger than a piece), it is cut near `end`.
 */
function clusterStart(line: string, pos: number, end: number): number {
  if (end >= line.length || end <= pos) return end;
  if (plainPair(line.charCodeAt(end - 1), line.charCodeAt(end))) return end;
  // Start the window where a boundary is certain, so that pairs of regional indicators (flags) are counted right.
  const floor = Math.max(pos, end - CLUSTER_WINDOW);
  let from = end - 1;
  while (from > floor && !plainPair(line.charCodeAt(from - 1), line.charCodeAt(from))) from--;
  // A window of 2 code points past `end` is enough to tell whether a cluster goes on across it.
  const to = Math.min(line.length, end + 4);
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  const seg = graphemes.segment(line.slice(from, to)).containing(end - from);
  const start = seg ? from + seg.index : end;
  if (start > pos) return start;
  // The cluster alone is bigger than a piece: cut it, but never just before a mark or a joiner, so that the next
  // piece does not start with one.
  let e = end;
  while (e > pos && isExtender(line.codePointAt(e)!)) e = snap(line, e - 1);
  return e > pos ? e : end;
}

/** Characters that belong to the character before them: combining marks, variation selectors, skin tones, ZWJ. */
function isExtender(cp: number): boolean {
  if (cp < 0x300) return false;
  if (cp === 0x200d || (cp >= 0x1f3fb && cp <= 0x1f3ff)) return true;
  return /\p{M}/u.test(String.fromCodePoint(cp));
}

/** Move an index back to the start of the code point it is in. */
function snap(s: string, i: number): number {
  if (i > 0 && i < s.length && isLow(s.charCodeAt(i)) && isHigh(s.charCodeAt(i - 1))) return i - 1;
  return i;
}

/** Length of the code point starting at i. */
function cpLen(s: string, i: number): number {
  return isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
}

/**
 * Cut one line into pieces of cost <= avail. Searches windows near the budget size instead of measuring the
 * ever-shorter remainder, so a megabyte-long line costs O(n log budget).
 */
function cutLine(line: string, avail: number, cost: (s: string) => number): string[] {
  const pieces: string[] = [];
  let pos = 0;
  const n = line.length;
  while (pos < n) {
    // Largest end (code point boundary) with cost(line[pos, end)) <= avail.
    let lo = pos; // known to fit
    let hi: number; // known not to fit, or n + 1
    let guess = Math.min(n, pos + Math.max(1, Math.floor(avail)));
    guess = snap(line, guess);
    if (guess <= pos) guess = pos + cpLen(line, pos);
    if (cost(line.slice(pos, guess)) <= avail) {
      lo = guess;
      hi = n + 1;
      // Cheap characters (cost below one per unit): widen until it stops fitting.
      let step = guess - pos;
      while (lo < n) {
        const next = snap(line, Math.min(n, lo + step));
        if (next <= lo) break;
        if (cost(line.slice(pos, next)) <= avail) {
          lo = next;
          step *= 2;
        } else {
          hi = next;
          break;
        }
      }
    } else {
      hi = guess;
    }
    while (hi - lo > 1) {
      let mid = snap(line, (lo + hi) >> 1);
      if (mid <= lo) mid = lo + cpLen(line, lo);
      if (mid >= hi) break;
      if (cost(line.slice(pos, mid)) <= avail) lo = mid;
      else hi = mid;
    }
    let end = lo;
    if (end >= n) {
      pieces.push(line.slice(pos));
      break;
    }
    if (end <= pos) end = pos + cpLen(line, pos); // a single code point bigger than the budget: cannot do better
    // Never inside what shows as one character (🇨🇳, 👨‍👩‍👧, e + accent), unless it alone is bigger than a piece.
    end = clusterStart(line, pos, end);
    // Prefer a word boundary in the second half of the piece; looking only there keeps a line without spaces
    // linear (lastIndexOf would scan back to the line's start for every piece).
    const half = pos + Math.ceil((end - pos) / 2);
    let sp = Math.min(end, n - 1);
    while (sp >= half && line.charCodeAt(sp) !== 32) sp--;
    // A space that carries a combining mark is part of a cluster too.
    if (sp > pos && sp >= half && clusterStart(line, pos, sp + 1) === sp + 1) {
      const piece = line.slice(pos, sp).trimEnd();
      pieces.push(piece === "" ? line.slice(pos, sp) : piece);
      pos = sp + 1;
    } else {
      pieces.push(line.slice(pos, end));
      pos = end;
    }
  }
  return pieces;
}

/**
 * Split `text` into parts whose cost is at most `opts.budget`, in order. Joining the parts with "\n" gives
 * back the text, except for fence lines added to close/reopen code blocks, blank lines at cut points and
 * whitespace where an over-long line was cut.
 */
export function split(text: string, opts: SplitOptions): string[] {
  const { budget, cost } = opts;
  if (!(budget < Infinity) || cost(text) <= budget) return [text];

  const nl = cost("\n");
  const src = text.split("\n");

  // Fence state after each source line: index into `fences`, or -1 outside any fenced block.
  const fences: Fence[] = [];
  const srcCost = src.map((l) => cost(l));
  const srcState = new Int32Array(src.length);
  let open = -1;
  let openChar = "";
  let openLen = 0;
  for (let i = 0; i < src.length; i++) {
    const m = mayBeFence(src[i]!) ? FENCE_OPEN.exec(src[i]!) : null;
    if (open < 0) {
      if (m && !(m[2]![0] === "`" && m[3]!.includes("`"))) {
        const close = m[1]! + m[2]!;
        const closeCost = cost(close);
        fences.push({
          open: src[i]!,
          openCost: srcCost[i]!,
          close,
          closeCost,
          usable: srcCost[i]! + closeCost + 2 * nl <= budget / 2,
        });
        open = fences.length - 1;
        openChar = m[2]![0]!;
        openLen = m[2]!.length;
      }
    } else if (m && m[2]![0] === openChar && m[2]!.length >= openLen && isBlank(m[3]!)) {
      open = -1;
    }
    srcState[i] = open;
  }
  const usable = (f: number) => (f >= 0 && fences[f]!.usable ? f : -1);

  // Lines as packed: source lines, with over-long ones cut into pieces that each fit a part on their own. Typed
  // arrays, and the source lines themselves when nothing is cut: a megabyte can hold a million lines.
  const before = (i: number) => (i > 0 ? usable(srcState[i - 1]!) : -1);
  const after = (i: number) => usable(srcState[i]!);
  const avail = (i: number) => {
    const b = before(i);
    const a = after(i);
    return budget - (b >= 0 ? fences[b]!.openCost + nl : 0) - (a >= 0 ? nl + fences[a]!.closeCost : 0);
  };
  const cuts = new Map<number, string[]>();
  let total = src.length;
  for (let i = 0; i < src.length; i++) {
    if (srcCost[i]! <= avail(i)) continue;
    const pieces = cutLine(src[i]!, avail(i), cost);
    cuts.set(i, pieces);
    total += pieces.length - 1;
  }
  const lines: string[] = cuts.size === 0 ? src : [];
  const costs = new Float64Array(total);
  const state = new Int32Array(total);
  const blankCut = new Uint8Array(total); // a blank line outside code: a paragraph break
  const fenceStart = new Uint8Array(total); // opens a code block from outside one
  for (let i = 0, j = 0; i < src.length; i++) {
    const b = before(i);
    const pieces = cuts.size > 0 ? cuts.get(i) : undefined;
    if (pieces === undefined) {
      if (cuts.size > 0) lines.push(src[i]!);
      costs[j] = srcCost[i]!;
      state[j] = after(i);
      blankCut[j] = b < 0 && srcState[i]! < 0 && isBlank(src[i]!) ? 1 : 0;
      fenceStart[j] = b < 0 && srcState[i]! >= 0 && (i === 0 || srcState[i - 1]! < 0) ? 1 : 0;
      j++;
      continue;
    }
    for (let k = 0; k < pieces.length; k++, j++) {
      lines.push(pieces[k]!);
      costs[j] = cost(pieces[k]!);
      state[j] = k === pieces.length - 1 ? after(i) : b;
    }
  }

  const parts: string[] = [];
  const n = lines.length;
  let i = 0;
  while (i < n) {
    let prev = i > 0 ? state[i - 1]! : -1;
    if (parts.length > 0 && prev < 0) {
      while (i < n && isBlank(lines[i]!) && state[i]! < 0) i++;
      if (i >= n) break;
      prev = i > 0 ? state[i - 1]! : -1;
    }
    const out: string[] = [];
    let acc = 0;
    let head = 0; // lines added by us at the start of this part
    if (parts.length > 0 && prev >= 0) {
      out.push(fences[prev]!.open);
      acc = fences[prev]!.openCost;
      head = 1;
    }
    let good: { len: number; next: number; acc: number } | null = null;
    while (i < n) {
      const add = (out.length > 0 ? nl : 0) + costs[i]!;
      const f = state[i]!;
      const tail = f >= 0 && i < n - 1 ? nl + fences[f]!.closeCost : 0;
      if (acc + add + tail > budget) break;
      if (out.length > head) {
        if (blankCut[i]) good = { len: out.length, next: i + 1, acc };
        else if (fenceStart[i]) good = { len: out.length, next: i, acc };
      }
      out.push(lines[i]!);
      acc += add;
      i++;
    }
    if (out.length === head) {
      // Only possible when one code point costs more than the whole budget.
      out.push(lines[i]!);
      i++;
    } else if (i < n && good && good.acc >= (budget * 2) / 3) {
      out.length = good.len;
      i = good.next;
    }
    const endState = state[i - 1]!;
    if (i < n && endState >= 0) {
      out.push(fences[endState]!.close);
    } else if (i < n) {
      while (out.length > head + 1 && isBlank(out[out.length - 1]!)) out.pop();
    }
    parts.push(out.join("\n"));
  }
  return parts;
}
