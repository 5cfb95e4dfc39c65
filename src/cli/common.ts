import { parseDuration } from "../channels/_common.ts";
import { fmtMs, type DeliveryResult, type DispatchEvent } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import type { Recorder } from "../core/ports.ts";
import type { PushLog } from "../store/pushlog.ts";
import { bad, c, err, ok } from "./out.ts";

/** "1h", "2d", "90m" (ago) or an ISO-8601 date/time -> unix ms. */
export function parseSince(s: string, now = Date.now()): number {
  try {
    return now - parseDuration(s);
  } catch {
    const t = Date.parse(s);
    if (Number.isNaN(t)) throw new PpError("usage", `--since "${s}": expected a duration such as 1h, 2d, 30m or an ISO-8601 time such as 2026-11-23T08:00:00Z`);
    return t;
  }
}

export function parseDurationArg(flag: string, s: string): number {
  try {
    const ms = parseDuration(s);
    if (ms <= 0) throw new Error("must be longer than 0");
    return ms;
  } catch (e) {
    throw new PpError("usage", `${flag}: ${(e as Error).message}`);
  }
}

/** --deadline, else $PP_DEADLINE, else defaults.deadline. */
export function deadlineMs(flag: string | undefined, configured: number): number {
  if (flag) return parseDurationArg("--deadline", flag);
  if (process.env.PP_DEADLINE) return parseDurationArg("PP_DEADLINE", process.env.PP_DEADLINE);
  return configured;
}

export function parseLimit(s: string | undefined, dflt: number): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new PpError("usage", `--limit "${s}": expected a whole number of 1 or more`);
  return n;
}

/** Tells the user on stderr why a send is slow, when it is. */
export function waitReporter(quiet: boolean) {
  return (e: DispatchEvent) => {
    if (quiet || e.type !== "wait") return;
    const why = e.reason === "rate_limit" ? "for a rate-limit slot" : "before retrying";
    err(`pp: ${e.channel}: waiting ${fmtMs(e.ms)} ${why}`);
  };
}

/**
 * The push log as the recorder of a CLI send: if the user presses Ctrl-C or the process is told to stop,
 * what was not delivered yet is recorded as failed with the reason, so `pp replay --failed` finds it
 * (a `kill -9` still leaves it `pending`, which `pp replay ID` also sends again).
 */
export function interruptible(log: PushLog): Recorder {
  const begun: string[] = [];
  const stop = (signal: string, code: number) => () => {
    log.abandon(begun, `interrupted by ${signal} before delivery`);
    process.exit(code);
  };
  process.once("SIGINT", stop("SIGINT", 130));
  process.once("SIGTERM", stop("SIGTERM", 143));
  return {
    begin: (m, d) => (begun.push(m.id), log.begin(m, d)),
    attempt: (a) => log.attempt(a),
    finish: (id, f) => log.finish(id, f),
  };
}

/** One status line per delivery, for stderr: ✔ name 12ms (2 parts, 3 attempts) or ✖ name error. */
export function deliveryLine(d: DeliveryResult): string {
  if (d.status !== "delivered") return bad(`${d.channel} ${c.red(d.error ?? "failed")}`);
  const parts = d.parts > 1 ? `, ${d.parts} parts` : "";
  const tries = d.attempts > 1 ? `, ${d.attempts} attempts` : "";
  return ok(`${d.channel} ${c.dim(`${d.latencyMs}ms${parts}${tries}`)}`);
}
