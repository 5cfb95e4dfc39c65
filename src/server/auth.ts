import { createHash, timingSafeEqual } from "node:crypto";
import type { RateLimit } from "../core/ports.ts";
import type { ServeSettings } from "./context.ts";
import { ApiError, retryAfter } from "./errors.ts";
import { CSRF_FIELD, csrfOk, sessionOf } from "./session.ts";

/** Who made a request, as far as limits and idempotency care. Never holds the token itself. */
export interface Caller {
  /** Scopes idempotency keys: one client's key never answers for another's. */
  scope: string;
  /** The rate limit's bucket: per token, or per client address when anonymous. */
  rateKey: string;
}

/** How much hashing the token checks have done: tests hold a request's cost to what a cache makes of it. */
export const authWork = { sha256: 0 };

const digest = (s: string) => {
  authWork.sha256++;
  return createHash("sha256").update(s).digest();
};

/**
 * Per list of tokens (a reload brings a new list): their digests, made once, and the digests of the tokens that
 * have matched, by the string as it was given. The few real tokens are given again and again, so a request with
 * one hashes nothing. Only matched strings are kept: a map hit tells no more than the answer does, and guesses
 * cannot fill it.
 */
interface TokenSet {
  digests: Buffer[];
  matched: Map<string, { digest: Buffer; hex: string }>;
}
const tokenSets = new WeakMap<readonly string[], TokenSet>();

/**
 * Whether `given` is one of the tokens: equal-length digests compared in constant time, every one of them, so
 * neither the time nor an early exit tells how much of a guess was right or which token it matched.
 */
function tokenMatches(given: string, tokens: readonly string[]): { ok: boolean; hex: string } {
  let set = tokenSets.get(tokens);
  if (!set) tokenSets.set(tokens, (set = { digests: tokens.map(digest), matched: new Map() }));
  const seen = set.matched.get(given);
  const d = seen ? seen.digest : digest(given);
  let ok = false;
  for (const t of set.digests) if (timingSafeEqual(d, t)) ok = true;
  if (seen) return { ok, hex: seen.hex };
  const hex = d.toString("hex");
  // Bounded all the same: distinct strings that match are the tokens themselves, as few as the list.
  if (ok && set.matched.size < 64) set.matched.set(given, { digest: d, hex });
  return { ok, hex };
}

/**
 * The token a request carries outside its body: a token route's segment (which is what the route is for, whatever a
 * header says), Authorization: Bearer, X-Pp-Token, ?token=.
 */
export function headerToken(req: Request, url: URL | (() => URL), pathToken?: string): string | undefined {
  if (pathToken) return pathToken;
  const auth = req.headers.get("authorization");
  if (auth) {
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = req.headers.get("x-pp-token");
  if (x) return x.trim();
  // A function when the URL is not parsed yet: most requests carry their token in a header and never need it.
  const q = (typeof url === "function" ? url() : url).searchParams.get("token");
  return q || undefined;
}

const unauthenticated = (why: string) => new ApiError("unauthenticated", why);

const HOW = "send the token as Authorization: Bearer <token>, X-Pp-Token, or a token field";

/**
 * Checks a token against the daemon's tokens (in constant time). A token that is given must be right even when
 * anonymous access is allowed: a typo is better reported than silently treated as anonymous.
 */
export function byToken(token: string, s: ServeSettings, ip?: string): Caller {
  if (s.tokens.length === 0) {
    if (s.allowAnonymous) return anonymousCaller(ip);
    throw unauthenticated("this server has no token configured");
  }
  const m = tokenMatches(token, s.tokens);
  if (!m.ok) throw unauthenticated(`the token is wrong; ${HOW}`);
  return { scope: `t:${m.hex}`, rateKey: `t:${m.hex}` };
}

function anonymousCaller(ip: string | undefined): Caller {
  return { scope: "anonymous", rateKey: `ip:${ip ?? "local"}` };
}

/**
 * Who is calling, once neither a header, the path nor the query carried a token: the body's `token` field, else
 * a page session (whose unsafe requests must carry its CSRF token), else anonymous access when allowed.
 */
export function withoutHeaderToken(req: Request, s: ServeSettings, o: { bodyToken?: string; csrfField?: string; ip?: string }): Caller {
  if (o.bodyToken) return byToken(o.bodyToken, s, o.ip);
  const session = sessionOf(req, s.tokens);
  if (session) {
    const safe = req.method === "GET" || req.method === "HEAD";
    if (!safe && !csrfOk(req, session, o.csrfField)) throw unauthenticated(`the page's CSRF token is missing or wrong (X-Pp-Csrf or ${CSRF_FIELD}); reload the page`);
    return session.tokenDigest ? { scope: `t:${session.tokenDigest}`, rateKey: `t:${session.tokenDigest}` } : anonymousCaller(o.ip);
  }
  if (s.allowAnonymous) return anonymousCaller(o.ip);
  throw unauthenticated(`a token is required; ${HOW}`);
}

/**
 * Requests per token (or client address) in memory: a token bucket holding `count` requests that refills over
 * `windowMs`. Limits are per daemon, unlike the platforms' limits, which live in the store.
 */
export class RateGate {
  private buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  /** Takes one request from the key's bucket, or throws 429 with how long to wait. */
  take(key: string, rate: RateLimit): void {
    const now = this.now();
    const perMs = rate.count / rate.windowMs;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= 50_000) this.sweep(now, perMs, rate.count);
      this.buckets.set(key, (b = { tokens: rate.count, at: now }));
    } else {
      b.tokens = Math.min(rate.count, b.tokens + Math.max(0, now - b.at) * perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const waitMs = (1 - b.tokens) / perMs;
    throw new ApiError("resource_exhausted", `rate limit of ${rate.count} requests per ${rate.windowMs / 1000}s exceeded; try again later`, retryAfter(waitMs));
  }

  /** Forgets buckets that have refilled: they are the same as no bucket. */
  private sweep(now: number, perMs: number, count: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * perMs >= count) this.buckets.delete(k);
    // Under a flood of distinct keys, forget the oldest rather than grow without end.
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < 50_000) break;
      this.buckets.delete(k);
    }
  }
}

/**
 * Failed authentications (401s) per client address: after `max` within `windowMs`, the address is refused with 429
 * until the oldest of them is a window old, whatever token it sends next, so that guessing tokens or login
 * passwords goes at `max` guesses a window at most. The check comes before the token is looked at: answering a
 * right guess differently from a wrong one would let the guessing go on.
 */
export class FailureGate {
  /** Each address's recent failures, oldest first (at most `max`). */
  private failures = new Map<string, number[]>();
  constructor(
    private readonly now: () => number = Date.now,
    readonly max = 10,
    readonly windowMs = 60_000,
  ) {}

  /** How long the address must wait (ms), 0 when it may try. */
  blockedFor(ip: string | undefined): number {
    if (this.failures.size === 0) return 0;
    const list = this.failures.get(keyOf(ip));
    if (!list || list.length < this.max) return 0;
    return Math.max(0, list[0]! + this.windowMs - this.now());
  }

  failed(ip: string | undefined): void {
    const now = this.now();
    const key = keyOf(ip);
    let list = this.failures.get(key);
    if (!list) {
      if (this.failures.size >= 50_000) this.sweep(now);
      this.failures.set(key, (list = []));
    }
    while (list.length && list[0]! + this.windowMs <= now) list.shift();
    list.push(now);
    if (list.length > this.max) list.splice(0, list.length - this.max);
  }

  /** Forgets addresses whose failures are all a window old; under a flood of addresses, the oldest. */
  private sweep(now: number): void {
    for (const [k, list] of this.failures) if (list.at(-1)! + this.windowMs <= now) this.failures.delete(k);
    for (const k of this.failures.keys()) {
      if (this.failures.size < 50_000) break;
      this.failures.delete(k);
    }
  }
}

/**
 * Whose failures these are: an IPv4 address, or an IPv6 address's /64 (one host may hold a whole /64 and pick a new
 * address for every guess). Requests without an address (a unix socket, a test) share one.
 */
export function keyOf(ip: string | undefined): string {
  if (ip === undefined || ip === "") return "local";
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!ip.includes(":")) return ip;
  const [head = "", tail] = ip.replace(/%.*$/, "").toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
