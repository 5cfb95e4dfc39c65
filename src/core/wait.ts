import type { Exchange } from "./http.ts";
import type { ChannelDef, HttpResponse, Outcome } from "./types.ts";

/**
 * The longest wait pp accepts from a platform (Retry-After, retry_after, a rate-limit error code). A wait
 * asked for blocks the destination for every pp process, so an absurd one (a day, a year) would silence it;
 * 15 minutes still honours the longest real one, DingTalk's 10-minute block.
 */
export const MAX_PLATFORM_WAIT_MS = 15 * 60_000;

/** A wait the platform asked for, capped, and why, in words for `pp channels`, the push log and stderr. */
export interface PlatformWait {
  ms: number;
  cause: string;
}

/** An outcome, with the wait the platform asked for when it asked for one. */
export type Settled = Outcome & { wait?: PlatformWait };

/**
 * Blocks whose cause the platform documents but does not say in its answer, by channel type and error code.
 * https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages
 * https://developer.work.weixin.qq.com/document/path/91770
 */
const KNOWN_BLOCKS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  dingtalk: {
    130101: "DingTalk blocks a robot for 10 minutes after too many messages (errcode 130101)",
    410100: "DingTalk blocks a robot for 10 minutes after too many messages (errcode 410100)",
  },
  wecom: { 45009: "WeCom allows a robot 20 messages a minute (errcode 45009)" },
};

/**
 * Turns one exchange into an outcome: the channel classifies an answer; a transport failure is retryable
 * unless asking again cannot help. A wait the platform asked for is capped at MAX_PLATFORM_WAIT_MS and
 * explained, and the explanation joins the error so the push log says why the destination is blocked.
 * `deadlineHit` says the request's timeout was the deadline's rather than the channel's own.
 */
export function settle(def: ChannelDef, opts: unknown, res: Exchange, deadlineHit: boolean): Settled {
  if (!res.ok) {
    const error = res.kind === "timeout" && deadlineHit ? "deadline reached during the request" : res.error;
    return { kind: res.permanent ? "permanent" : "retryable", error };
  }
  const outcome = def.classify(res.response, opts);
  const asked = outcome.retryAfterMs;
  if (asked === undefined || !(asked > 0) || (outcome.kind !== "rate_limited" && outcome.kind !== "ok")) return outcome;
  const ms = Math.min(Math.ceil(asked), MAX_PLATFORM_WAIT_MS);
  const cause = waitCause(def, outcome, res.response, asked);
  const settled: Settled = { ...outcome, retryAfterMs: ms, wait: { ms, cause } };
  if (outcome.kind === "rate_limited") settled.error = outcome.error ? `${outcome.error}: ${cause}` : cause;
  return settled;
}

function waitCause(def: ChannelDef, o: Outcome, res: HttpResponse, asked: number): string {
  const known = o.code === undefined ? undefined : KNOWN_BLOCKS[def.type]?.[String(o.code)];
  const capped = asked > MAX_PLATFORM_WAIT_MS ? `, capped at ${fmtWait(MAX_PLATFORM_WAIT_MS)}` : "";
  if (known) return `${known}${capped}`;
  const who = def.type === "webhook" ? "the server" : (def.label.split(" ")[0] ?? def.type);
  const Who = who.charAt(0).toUpperCase() + who.slice(1);
  const header = res.headers.get("retry-after") !== null ? " (Retry-After)" : "";
  const how = o.kind === "ok" ? "announced its rate limit is used up and asked to wait" : "asked to wait";
  const code = !header && typeof o.code === "number" && o.code !== res.status ? ` (code ${o.code})` : "";
  return `${Who} ${how} ${fmtWait(asked)}${header}${code}${capped}`;
}

/** "100000s", "10m", "1m30s", "1.5s": close to how a platform states a wait. */
export function fmtWait(ms: number): string {
  if (!Number.isFinite(ms) || ms > 1e12) return "longer than 30 years";
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const s = ms / 1000;
  if (s < 10 && !Number.isInteger(s)) return `${s.toFixed(1)}s`;
  const whole = Math.ceil(s);
  if (whole < 60 || whole > 3600) return `${whole}s`;
  return whole % 60 === 0 ? `${whole / 60}m` : `${Math.floor(whole / 60)}m${whole % 60}s`;
}
