import { exchange, type Exchange } from "./http.ts";
import type { TokenCache } from "./ports.ts";
import type { ChannelDef, Outcome } from "./types.ts";

/**
 * A token is fetched again this long before the platform says it expires (at most a tenth of its life), so a
 * request never goes out with a token that runs out on the way. WeCom lends its tokens for 7200 s.
 */
export const TOKEN_MARGIN_MS = 5 * 60_000;

/** A usable token, or why there is none: the failed exchange (without its body, which may hold a token) and its outcome. */
export type Credential = { ok: true; token: string; latencyMs: number } | { ok: false; res: Exchange; outcome: Outcome; latencyMs: number };

export interface CredentialOptions {
  now: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** A token the platform just refused as invalid or expired: dropped from the cache, and a fresh one fetched. */
  stale?: string;
}

/**
 * The access token of a channel with ChannelDef.auth: the cached one while it is usable, else a fresh one from the
 * platform, cached for every pp process. The cache is an optimisation: one that cannot be read or written costs a
 * token request, never a delivery (the push log's own writes say whether the store is usable).
 */
export async function credential(def: ChannelDef, opts: unknown, tokens: TokenCache | undefined, o: CredentialOptions): Promise<Credential> {
  const auth = def.auth!;
  const key = auth.key(opts);
  if (o.stale !== undefined) quietly(() => tokens?.drop(key, o.stale!));
  else {
    const cached = quietly(() => tokens?.get(key, o.now));
    if (cached) return { ok: true, token: cached, latencyMs: 0 };
  }
  // The token comes through the same proxy as the channel's messages.
  const res = await exchange(auth.request(opts), o.timeoutMs, o.signal, (opts as { proxy?: string } | null)?.proxy);
  const fail = (outcome: Outcome): Credential => ({
    ok: false,
    // Only the status is kept of the answer: the push log records no body that might carry a token.
    res: { ok: false, kind: "network", error: outcome.error ?? outcome.kind, permanent: outcome.kind === "permanent", latencyMs: res.latencyMs, ...(res.ok ? { status: res.response.status } : res.status === undefined ? {} : { status: res.status }) },
    outcome: { kind: outcome.kind, error: `cannot get an access token: ${said(outcome)}`, ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }) },
    latencyMs: res.latencyMs,
  });
  if (!res.ok) return fail({ kind: res.permanent ? "permanent" : "retryable", error: res.error });
  const got = auth.parse(res.response, opts);
  if ("kind" in got) return fail(got.kind === "ok" ? { kind: "permanent", error: "the answer holds no access token" } : got);
  const margin = Math.min(TOKEN_MARGIN_MS, got.expiresInMs / 10);
  quietly(() => tokens?.put(key, got.token, o.now + got.expiresInMs - margin));
  return { ok: true, token: got.token, latencyMs: res.latencyMs };
}

/** The platform's code and words, as the push log shows an error. */
function said(o: Outcome): string {
  const text = o.error ?? o.kind;
  return o.code === undefined || text.startsWith(String(o.code)) ? text : `${o.code} ${text}`;
}

/** Tokens kept in memory, for a dispatch that has no shared cache: one token serves all its parts and attempts. */
export function memoryTokens(): TokenCache {
  const held = new Map<string, { token: string; until: number }>();
  return {
    get: (key, now) => {
      const t = held.get(key);
      return t && t.until > now ? t.token : undefined;
    },
    put: (key, token, until) => void held.set(key, { token, until }),
    drop: (key, token) => {
      if (held.get(key)?.token === token) held.delete(key);
    },
  };
}

function quietly<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
