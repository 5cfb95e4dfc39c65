import type { HttpRequest, HttpResponse } from "./types.ts";

export type Exchange =
  | { ok: true; response: HttpResponse; latencyMs: number }
  | { ok: false; kind: "timeout" | "network" | "aborted"; error: string; latencyMs: number };

/** Largest response body we keep; platforms answer in a few hundred bytes, anything more is noise. */
const MAX_BODY = 64 * 1024;

/** The only place pp talks to the network. Never throws. */
export async function exchange(req: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<Exchange> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
  const all = signal ? AbortSignal.any([timeout, signal]) : timeout;
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: all });
    let body = await res.text();
    if (body.length > MAX_BODY) body = body.slice(0, MAX_BODY);
    return { ok: true, response: { status: res.status, headers: res.headers, body }, latencyMs: elapsed(started) };
  } catch (e) {
    const latencyMs = elapsed(started);
    if (timeout.aborted) return { ok: false, kind: "timeout", error: `no answer within ${timeoutMs} ms`, latencyMs };
    if (signal?.aborted) return { ok: false, kind: "aborted", error: "deadline reached during the request", latencyMs };
    return { ok: false, kind: "network", error: networkError(e), latencyMs };
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/** fetch's messages mention the URL (and so the token); keep only the cause. */
function networkError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset by the server",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "DNS lookup failed (temporary)",
    ETIMEDOUT: "connection timed out",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS certificate could not be verified",
    CERT_HAS_EXPIRED: "TLS certificate has expired",
    DEPTH_ZERO_SELF_SIGNED_CERT: "TLS certificate is self-signed",
    ConnectionClosed: "connection closed before an answer",
    ConnectionRefused: "connection refused",
  };
  if (err?.code && known[err.code]) return known[err.code]!;
  const msg = String(err?.message ?? e).replace(/https?:\/\/\S+/g, "<url>");
  return err?.code ? `${err.code}: ${msg}` : msg;
}
