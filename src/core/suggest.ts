/**
 * "Did you mean": the nearest valid name for a name pp does not know (a command, an option, a config key, a
 * channel type, a channel or group name). One rule everywhere, so every typo is answered alike.
 */

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `sned` is one step from `send`,
 * as a typist sees it, not two. Stops early and returns `limit + 1` once the distance must exceed `limit`,
 * so comparing a long mistyped name against many candidates stays cheap.
 */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (a === b) return 0;
  const x = [...a];
  const y = [...b];
  if (Math.abs(x.length - y.length) > limit) return limit + 1;
  // Three rows: the one before the previous is needed for transpositions.
  let prev2 = new Array<number>(y.length + 1).fill(0);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  let row = new Array<number>(y.length + 1).fill(0);
  for (let i = 1; i <= x.length; i++) {
    row[0] = i;
    let best = i;
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row[j] = d;
      if (d < best) best = d;
    }
    if (best > limit) return limit + 1;
    [prev2, prev, row] = [prev, row, prev2];
  }
  return prev[y.length]!;
}

/**
 * How many edits a name of this length may be away from a valid one and still be taken for a typo of it:
 * one for names up to six characters, then one more for every three more. A one-character name matches nothing:
 * every other one-character name is one edit away.
 */
export function typoLimit(length: number): number {
  return length < 2 ? 0 : Math.max(1, Math.floor((length - 1) / 3));
}

/**
 * The valid name nearest to `input`, or undefined when none is close enough to be a likely typo (the caller
 * then lists the valid names). Case is ignored when measuring, so `Slack` finds `slack`. A name that begins
 * with a valid one, or is the start of one (`--chanel` and `--ch`, `conf` and `config`), is taken as meant
 * for it when no name is within the typo limit.
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const word = input.toLowerCase();
  const length = [...word].length;
  let best: string | undefined;
  let bestDistance = Infinity;
  let prefix: string | undefined;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const c = candidate.toLowerCase();
    // Measured against the longer of the two: a name with letters left out (`deflts`) is still that name.
    const limit = length < 2 ? 0 : typoLimit(Math.max(length, [...c].length));
    const d = editDistance(word, c, limit);
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
    if (prefix === undefined && Math.min(word.length, c.length) >= 2 && (word.startsWith(c) || c.startsWith(word))) prefix = candidate;
  }
  return best ?? prefix;
}

/** `; did you mean "send"?` (with `show` to render the name), or "" when nothing is close. */
export function didYouMean(input: string, candidates: Iterable<string>, show: (name: string) => string = (n) => JSON.stringify(n)): string {
  const s = suggest(input, candidates);
  return s === undefined ? "" : `; did you mean ${show(s)}?`;
}
