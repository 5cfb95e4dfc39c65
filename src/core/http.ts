import { describeRoute, fetchProxy, route, showProxy, type Route } from "./proxy.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";

export type Exchange =
  | { ok: true; response: HttpResponse; latencyMs: number }
  | {
      ok: false;
      kind: "timeout" | "network" | "aborted" | "tls" | "redirect" | "too_large" | "cut_off" | "proxy";
      error: string;
      /** Asking again cannot help (an untrusted certificate, a redirect): the delivery fails without retries. */
      permanent: boolean;
      /** The HTTP status when the server did answer (a redirect, an answer too large to read). */
      status?: number;
      /**
       * The platform answered with a success status, but its answer could not be read whole (too large, or cut
       * off by a timeout or a dropped connection): it may well have the message, so it is not sent again unasked.
       */
      uncertain?: boolean;
      latencyMs: number;
    };

/**
 * Largest answer pp reads. Platforms answer in a few hundred bytes, but a success must be classified on the
 * whole answer (a cut JSON body reads as a failure and invites a duplicate), so the cap is far above any
 * real answer; beyond it pp stops reading rather than buffer an endless body.
 */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The only place pp talks to the network (through fetch, or the SMTP transport). Never throws. `proxy` is the
 * channel's proxy setting (src/core/proxy.ts: a URL, "none", or undefined to follow the environment); SMTP
 * never goes through one.
 */
export async function exchange(req: HttpRequest, timeoutMs: number, signal?: AbortSignal, proxy?: string): Promise<Exchange> {
  // The path is literal (a computed one is left out of a compiled binary) and the module loaded on first use.
  if (req.transport === "smtp") return (require("./smtp.ts") as typeof import("./smtp.ts")).exchangeSmtp(req, timeoutMs, signal);
  const way = route(req.url, proxy);
  const started = performance.now();
  const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
  const all = signal ? AbortSignal.any([timeout, signal]) : timeout;
  const failed = (kind: Extract<Exchange, { ok: false }>["kind"], error: string, permanent: boolean, status?: number): Exchange => ({
    ok: false, kind, error, permanent, latencyMs: elapsed(started), ...(status === undefined ? {} : { status }),
    ...(status !== undefined && status >= 200 && status < 300 ? { uncertain: true } : {}),
  });
  let status: number | undefined;
  try {
    // A POST that fetch follows through a 301/302/303 arrives as a GET without its body, and the answer to
    // that says nothing about the message; a webhook that moved must be reconfigured, not chased.
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal: all, redirect: "manual", proxy: fetchProxy(way) });
    if (res.status === 407 && way.proxy !== undefined) {
      await res.body?.cancel().catch(() => {});
      return failed("proxy", proxyRefused(way, 407, hostOf(req.url)), true, 407);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => {});
      return failed("redirect", redirected(res, req.url), true, res.status);
    }
    status = res.status;
    const body = await readCapped(res, MAX_ANSWER_BYTES);
    if (body === undefined) return failed("too_large", tooLarge(res.status), !retryableStatus(res.status), res.status);
    return { ok: true, response: { status: res.status, headers: res.headers, body }, latencyMs: elapsed(started) };
  } catch (e) {
    if (status !== undefined && status >= 200 && status < 300) {
      // The status said yes; only the rest of the answer is missing. Asking again could deliver it twice.
      const why = timeout.aborted ? `not finished within ${timeoutMs} ms` : signal?.aborted ? "the deadline passed" : "the connection broke";
      return failed("cut_off", `HTTP ${status}, but the answer was cut off (${why}) before pp could tell whether the message was accepted`, true, status);
    }
    const through = way.proxy === undefined ? "" : ` (${describeRoute(way)})`;
    if (timeout.aborted) return failed("timeout", `no answer within ${timeoutMs} ms${through}`, false);
    if (signal?.aborted) return failed("aborted", "deadline reached during the request", false);
    if (way.proxy !== undefined) {
      const p = proxyError(e, way, req.url);
      if (p) return failed("proxy", p.text, p.permanent, p.status);
    }
    const n = networkError(e, hostOf(req.url));
    return failed(n.tls ? "tls" : "network", `${n.text}${through}`, n.permanent);
  }
}

/** The proxy as an error names it: redacted, with the variable it came from. */
function proxyName(way: Route): string {
  if (way.proxy === undefined) return "";
  if (!URL.canParse(way.proxy)) return `the proxy in ${way.from}`;
  return `the proxy ${showProxy(way.proxy)}${way.from === "config" ? "" : ` (from ${way.from})`}`;
}

/** A proxy that answered instead of passing the request on: its status says why. */
function proxyRefused(way: Route, status: number, host: string): string {
  const name = proxyName(way);
  const login = way.proxy !== undefined && URL.canParse(way.proxy) && new URL(way.proxy).username !== "";
  if (status === 407) {
    return login
      ? `${name} refused pp's credentials (HTTP 407 Proxy Authentication Required): check the user and password in the proxy URL`
      : `${name} requires a login (HTTP 407 Proxy Authentication Required): give it as http://user:password@host:port`;
  }
  if (status >= 500) return `${name} could not reach ${host} (HTTP ${status} from the proxy)`;
  return `${name} refused to connect to ${host} (HTTP ${status} from the proxy): check that the proxy allows it`;
}

/** Codes that mean pp could not talk to the proxy itself: the platform was never reached. */
const PROXY_CONNECT = new Set([
  "ECONNREFUSED", "ConnectionRefused", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "ENODATA", "ESERVFAIL", "DNSException",
  "ETIMEDOUT", "ConnectionTimeout", "EHOSTUNREACH", "EADDRNOTAVAIL", "FailedToOpenSocket",
]);

/**
 * A fetch failure that is the proxy's, in words naming the proxy (redacted) rather than the platform; undefined
 * for the others (a platform's certificate, a reset). fetch's own text names the URL, so only its code and the
 * proxy's status are read.
 */
function proxyError(e: unknown, way: Route, url: string): { text: string; permanent: boolean; status?: number } | undefined {
  if (way.proxy === undefined) return undefined;
  const host = hostOf(url);
  const secure = url.startsWith("https:");
  const code = (e as { code?: unknown } | null)?.code;
  const message = String((e as Error | null)?.message ?? "");
  const name = proxyName(way);
  if (code === "ERR_PROXY_TUNNEL" || /^Proxy refused to open a tunnel/.test(message)) {
    const status = Number(/\b([1-5]\d\d)\b/.exec(message)?.[1]);
    if (!Number.isInteger(status)) return { text: `${name} refused to open a tunnel to ${host}`, permanent: false };
    // A proxy that is down or overloaded may let the request through later; one that refuses the login or the host will not.
    return { text: proxyRefused(way, status, host), permanent: status < 500, status };
  }
  const instead = way.from === "config" ? "" : `; point ${way.from} at an http:// proxy, or set proxy = "none" on the channel`;
  if (code === "UnsupportedProxyProtocol") {
    return { text: `${name} is not usable: pp can only use http:// and https:// proxies${instead}`, permanent: true };
  }
  if (!URL.canParse(way.proxy)) return { text: `${name} is not a valid proxy URL${instead}`, permanent: true };
  if (typeof code === "string" && PROXY_CONNECT.has(code)) {
    const n = networkError(e, name.replace(/^the /, ""));
    return { text: n.text, permanent: n.permanent };
  }
  if (/^https:/i.test(way.proxy)) {
    // pp speaks TLS to an https:// proxy, and through its tunnel to an https:// platform: either certificate may be the one refused.
    const n = networkError(e, secure ? `${host} or of ${name.replace(/^the /, "")}` : name.replace(/^the /, ""));
    if (n.tls) return { text: n.text, permanent: n.permanent };
  }
  return undefined;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/** The body as text, or undefined when it is longer than `cap` bytes (then only `cap` bytes were read). */
async function readCapped(res: Response, cap: number): Promise<string | undefined> {
  if (!res.body) return "";
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > cap) {
    await res.body.cancel().catch(() => {});
    return undefined;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

function tooLarge(status: number): string {
  const what = `HTTP ${status} with an answer larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`;
  if (retryableStatus(status)) return what;
  // A success status with an unreadable verdict may still mean the platform took the message: do not resend it blindly.
  return `${what}, too large to tell whether the message was accepted; pp does not retry it (check the destination before \`pp replay\`)`;
}

/** Only the host: the path and query of a webhook URL often hold its token. */
function redirected(res: Response, from: string): string {
  const location = res.headers.get("location");
  let host: string | undefined;
  try {
    if (location) host = new URL(location, from).host;
  } catch {}
  return host
    ? `the webhook URL redirects to ${host} (HTTP ${res.status}); use the new URL`
    : `the webhook URL answers with a redirect (HTTP ${res.status}) without saying where; check the URL`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the server";
  }
}

/**
 * How to trust a certificate issued by a private or corporate CA. Both variables are read at start-up by the
 * runtime, the compiled pp binary included.
 */
const TRUST_HINT = "if the server uses a private or corporate CA, point NODE_EXTRA_CA_CERTS (or SSL_CERT_FILE) at its certificate in PEM";

/** Transport failures in words a user can act on; `permanent` ones are not retried. */
const NETWORK: Readonly<Record<string, { text: string; permanent?: boolean }>> = {
  ECONNREFUSED: { text: "connection refused by {host}: nothing accepts connections there (is the server up, and the port right?)" },
  ConnectionRefused: { text: "connection refused by {host}: nothing accepts connections there (is the server up, and the port right?)" },
  // Bun reports a reset, a close before the answer and a garbled answer alike.
  ECONNRESET: { text: "the connection to {host} was reset or closed before a complete answer" },
  ConnectionClosed: { text: "the connection to {host} was closed before a complete answer" },
  EPIPE: { text: "the connection to {host} broke while the message was being sent" },
  ENOTFOUND: { text: "host {host} not found (DNS): check the host name in the URL" },
  EAI_AGAIN: { text: "DNS lookup of {host} failed for now (temporary); check the network or DNS server" },
  EAI_FAIL: { text: "DNS lookup of {host} failed; check the network or DNS server" },
  ENODATA: { text: "host {host} has no address in DNS: check the host name in the URL" },
  ESERVFAIL: { text: "the DNS server failed to resolve {host}" },
  DNSException: { text: "DNS lookup of {host} failed" },
  ETIMEDOUT: { text: "connecting to {host} timed out" },
  EHOSTUNREACH: { text: "{host} is unreachable from this machine (no route)" },
  ENETUNREACH: { text: "the network is unreachable (is this machine online?)" },
  ENETDOWN: { text: "the network is down (is this machine online?)" },
  EADDRNOTAVAIL: { text: "cannot connect to {host}: the address is not available" },
  FailedToOpenSocket: { text: "could not open a connection to {host}" },
  ConnectionTimeout: { text: "connecting to {host} timed out" },
  EPROTO: { text: "the TLS handshake with {host} failed: does the server speak HTTPS on this port?" },
  ERR_INVALID_URL: { text: "the URL is invalid", permanent: true },
};

/** Certificate problems: the same certificate will be refused again, so they are never retried. */
const CERTIFICATE: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "the TLS certificate of {host} is self-signed and not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "the TLS certificate of {host} comes from a self-signed CA that is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the TLS certificate of {host} is issued by an unknown CA",
  UNABLE_TO_GET_ISSUER_CERT: "the TLS certificate of {host} is issued by an unknown CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the TLS certificate of {host} is issued by an unknown CA",
  CERT_UNTRUSTED: "the TLS certificate of {host} is not trusted",
  CERT_REJECTED: "the TLS certificate of {host} was rejected",
  INVALID_CA: "the TLS certificate of {host} has an invalid CA certificate in its chain",
  CERT_SIGNATURE_FAILURE: "the TLS certificate of {host} has an invalid signature",
  CERT_HAS_EXPIRED: "the TLS certificate of {host} has expired (or this machine's clock is wrong)",
  CERT_NOT_YET_VALID: "the TLS certificate of {host} is not valid yet (or this machine's clock is wrong)",
  CERT_REVOKED: "the TLS certificate of {host} has been revoked",
  ERR_TLS_CERT_ALTNAME_INVALID: "the TLS certificate of {host} is for another host name",
  HOSTNAME_MISMATCH: "the TLS certificate of {host} is for another host name",
};

/**
 * fetch's messages name the URL (and so the token) and address developers ("pass `verbose: true`..."), so
 * none of their text is used: known codes get a sentence, unknown ones a generic sentence with the code.
 */
export function networkError(e: unknown, host: string): { text: string; permanent: boolean; tls: boolean } {
  const raw = (e as { code?: unknown } | null)?.code;
  const code = typeof raw === "string" && /^[A-Za-z0-9_]{1,64}$/.test(raw) ? raw : undefined;
  const fill = (s: string) => s.replaceAll("{host}", host);
  // Bun refuses a bad header before connecting, without a code; only the header's name is taken from its text.
  const header = /^(?:Header '([\w-]{1,64})' has invalid value|Invalid header name: '([\w-]{1,64})')$/.exec(String((e as Error | null)?.message ?? ""));
  if (!code && header) return { text: `the request header ${header[1] ?? header[2]} is not valid HTTP (a line break, or a character outside Latin-1); check the channel's headers`, permanent: true, tls: false };
  if (code && CERTIFICATE[code]) return { text: `${fill(CERTIFICATE[code])}; ${TRUST_HINT}`, permanent: true, tls: true };
  if (code && NETWORK[code]) return { text: fill(NETWORK[code].text), permanent: NETWORK[code].permanent === true, tls: false };
  if (code && /CERT/.test(code)) return { text: `the TLS certificate of ${host} was not accepted (${code}); ${TRUST_HINT}`, permanent: true, tls: true };
  if (code && /TLS|SSL/.test(code)) return { text: `the TLS connection to ${host} failed (${code})`, permanent: false, tls: true };
  return { text: code ? `network error talking to ${host} (${code})` : `network error talking to ${host}`, permanent: false, tls: false };
}
