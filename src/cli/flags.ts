import { durationProblem, parseDuration } from "../channels/_common.ts";
import { PpError } from "../core/errors.ts";

// Flag values shared by several commands, apart from cli/common.ts so that pp log does not load the dispatch core.

/** "1h", "2d", "90m" (ago) or an ISO-8601 date/time -> unix ms. */
export function parseSince(s: string, now = Date.now()): number {
  let ago: number | undefined;
  try {
    ago = parseDuration(s);
  } catch {}
  // Anything before 1970 means "from the start"; a number too big to be finite is refused.
  if (ago !== undefined) {
    if (!Number.isFinite(ago)) throw new PpError("usage", `--since "${s}": the duration is too long; give a shorter one or an ISO-8601 time`);
    return Math.max(0, now - ago);
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new PpError("usage", `--since "${s}": expected a duration such as 1h, 2d, 30m or an ISO-8601 time such as 2026-11-23T08:00:00Z`);
  return t;
}

/** A timeout or deadline from a flag or the environment: 1 ms to MAX_DURATION_MS (24h). */
export function parseDurationArg(flag: string, s: string): number {
  const problem = durationProblem(s);
  if (problem) throw new PpError("usage", `${flag}: ${problem}`);
  return parseDuration(s);
}

/** --deadline, else $PP_DEADLINE, else defaults.deadline. */
export function deadlineMs(flag: string | undefined, configured: number): number {
  if (flag) return parseDurationArg("--deadline", flag);
  if (process.env.PP_DEADLINE) return parseDurationArg("PP_DEADLINE", process.env.PP_DEADLINE);
  return configured;
}

/** The most rows `--limit` asks for; more would not fit a terminal or a sane pipe, and SQLite wants a 64-bit integer. */
export const MAX_LIMIT = 1_000_000;

export function parseLimit(s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  // Digits only: Number() would also take "1e3", "0x10" and " 5 ".
  const n = /^\d{1,16}$/.test(s.trim()) ? Number(s.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new PpError("usage", `--limit "${s}": expected a whole number from 1 to ${MAX_LIMIT}`);
  }
  return n;
}
