/**
 * pp as a client of a pp daemon (`--server URL` or $PP_SERVER): `pp send`, `pp log` and `pp replay` ask the
 * daemon's API instead of the platforms and the local push log, and print what the direct commands print.
 * Loaded only when a server is named, so a direct `pp send` never pays for it.
 */
import { networkError } from "../core/http.ts";
import { fetchProxy, route } from "../core/proxy.ts";
import { PpError } from "../core/errors.ts";
import type { Format } from "../core/types.ts";
import type { LogRow, MessageDetail, StatRow } from "../store/pushlog.ts";
import { parseLimit, parseSince } from "./flags.ts";
import { c, clean, cleanLine, EXIT_STDOUT, err, out, outAsync, outputWidth } from "./out.ts";

/**
 * Exit status when the daemon cannot be reached or is unavailable (no answer, 5xx, still busy at the deadline).
 * Nothing was queued, unless stderr says the connection dropped after the request went out.
 */
export const EXIT_SERVER = 6;

/** How long one request may take when the deadline leaves more: the daemon answers once the message is committed. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Tries for a failure that may pass (no connection, 502/503/504), within the deadline. */
const MAX_TRIES = 4;
/** The daemon's API serves at most this many messages a page. */
const PAGE_MAX = 500;

export interface Server {
  /** Where the API lives; requests resolve "api/..." against it. */
  base: URL;
  /** A unix socket path, for `unix:/run/pp/pp.sock`. */
  unix?: string;
  /** The address for messages: scheme://host:port (and path), never credentials, a query or the token. */
  shown: string;
  token?: string;
}

/** --server / $PP_SERVER, with --token / $PP_TOKEN. An address without a scheme is taken as http. */
export function serverOf(address: string, tokenFlag: string | undefined): Server {
  const token = tokenFlag ?? (process.env.PP_TOKEN || undefined);
  if (tokenFlag !== undefined && tokenFlag === "") throw new PpError("usage", "--token is empty; give the daemon's token, or leave --token out (PP_TOKEN is read when it is not given)");
  const a = address.trim();
  if (a === "") throw new PpError("usage", "--server is empty; give the daemon's address, such as http://127.0.0.1:39270");
  if (a.startsWith("unix:")) {
    const path = a.slice(5).replace(/^\/\/(?=\/)/, "");
    if (!path.startsWith("/")) throw new PpError("usage", `--server ${JSON.stringify(a)}: a unix socket needs an absolute path, such as unix:/run/pp/pp.sock`);
    return { base: new URL("http://localhost/"), unix: path, shown: `unix:${path}`, token };
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(a) ? a : `http://${a}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new PpError("usage", `--server: "${shownAddress(a)}" is not a URL; give the daemon's address, such as http://127.0.0.1:39270`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PpError("usage", `--server: the scheme ${url.protocol.slice(0, -1)} is not supported; use http://, https:// or unix:/path`);
  }
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const path = url.pathname.replace(/\/+$/, "");
  const shown = `${url.protocol}//${url.hostname}:${port}${path}`;
  const base = new URL(url.href);
  base.search = "";
  base.hash = "";
  base.pathname = `${path}/`;
  return { base, shown, token };
}

/** An address the user typed, for an error: without what could be credentials. */
function shownAddress(a: string): string {
  return cleanLine(a.replace(/\/\/[^/@]*@/, "//").replace(/[?#].*$/, ""));
}

interface Answer { status: number; body: Record<string, unknown> }

interface CallOptions {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  /** Unix ms: no new try starts after it, and a try in flight is cut there. */
  deadline: number;
  /** Sent as Idempotency-Key: the daemon answers a repeat with the first answer and queues nothing new. */
  key?: string;
  /** Whether a try whose request may have reached the daemon (the connection dropped, no answer) may be made again. */
  repeatable: boolean;
  /** What the request is for, in errors: "hand the message to", "read the push log of". */
  doing: string;
  verbose?: boolean;
  /** No note on stderr while a 429 is waited out. */
  quiet?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry-After in ms: seconds or an HTTP date; 1 s when absent or unreadable. */
function retryAfter(h: string | null, now: number): number {
  if (h === null) return 1000;
  if (/^\d{1,9}$/.test(h.trim())) return Number(h.trim()) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? 1000 : Math.max(0, t - now);
}

/** The daemon's `msg`, fit for one line of stderr. */
function msgOf(a: Answer): string {
  const m = a.body.msg ?? a.body.message;
  return typeof m === "string" && m !== "" ? cleanLine(m).slice(0, 300) : `HTTP ${a.status}`;
}

/**
 * One API request, tried again while that may help: when nothing reached the daemon (connection refused), when it
 * refused for now (503, 502/504 from a proxy) and, for requests safe to repeat, when the connection dropped
 * before the answer. A 429 is waited out as its Retry-After asks, within the deadline.
 */
async function call(s: Server, o: CallOptions): Promise<Answer> {
  const url = new URL(o.path, s.base);
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "pp" };
  if (s.token !== undefined) headers.authorization = `Bearer ${s.token}`;
  if (o.key) headers["idempotency-key"] = o.key;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["content-type"] = "application/json";
  }
  const unavailable = (why: string) => new PpError("store", `cannot ${o.doing} ${s.shown}: ${why}`, EXIT_SERVER);
  let lastFailure = "";
  let mayHaveArrived = false;
  // A read changes nothing on the daemon: only a POST has something to say about what was queued.
  const nothing = o.method === "POST" ? "; nothing was queued" : "";
  for (let attempt = 1; ; attempt++) {
    const now = Date.now();
    const left = o.deadline - now;
    if (left <= 0) {
      const why = lastFailure || "the deadline passed before a try could start";
      const maybe = mayHaveArrived && nothing ? "; the request may have reached the daemon before the connection dropped: check with pp log --server before sending again" : nothing;
      throw unavailable(`${why} (gave up at the deadline, --deadline)${maybe}`);
    }
    if (o.verbose) {
      err(c.dim(`* try ${attempt}`));
      err(`> ${o.method} ${s.shown}${url.pathname}${url.search}`);
      for (const [k, v] of Object.entries(headers)) err(`> ${k}: ${k === "authorization" ? "Bearer ***" : v}`);
      if (body !== undefined) err(`>\n> ${clean(body)}`);
    }
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: o.method, headers, body, redirect: "manual",
        signal: AbortSignal.timeout(Math.min(left, REQUEST_TIMEOUT_MS)),
        // The environment's proxy rules as pp applies them to platforms (loopback direct, NO_PROXY honoured), not
        // Bun's, which would send a loopback daemon's token through HTTP_PROXY whenever NO_PROXY is set.
        ...(s.unix ? { unix: s.unix } : { proxy: fetchProxy(route(url.href, undefined)) }),
      } as RequestInit);
      text = await res.text();
    } catch (e) {
      const failure = transportFailure(e, s);
      if (o.verbose) err(c.dim(`* no answer after ${Math.round(performance.now() - started)}ms: ${failure.text}`));
      lastFailure = failure.text;
      if (failure.permanent) throw unavailable(`${failure.text}${nothing}`);
      if (!failure.unsent) {
        mayHaveArrived = true;
        if (!o.repeatable) throw unavailable(`${failure.text}; the request may have reached the daemon: check with pp log --server before trying again`);
      }
      if (attempt >= MAX_TRIES) {
        const maybe = mayHaveArrived && nothing ? "; the request may have reached the daemon: check with pp log --server before sending again" : nothing;
        throw unavailable(`${failure.text} (${attempt} tries)${maybe}`);
      }
      await sleep(Math.min(backoff(attempt), Math.max(0, o.deadline - Date.now())));
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const a: Answer = { status: res.status, body: parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {} };
    if (o.verbose) {
      err(c.dim(`* HTTP ${res.status} in ${Math.round(performance.now() - started)}ms`));
      if (text) err(`< ${clean(text.slice(0, 2000))}`);
    }
    if (a.status === 429) {
      const wait = retryAfter(res.headers.get("retry-after"), Date.now());
      if (Date.now() + wait >= o.deadline) {
        throw unavailable(`it is busy (429: ${msgOf(a)}) and asks to wait ${Math.ceil(wait / 1000)} s, beyond the deadline${nothing} (try later, or raise --deadline)`);
      }
      if (!o.verbose && !o.quiet) err(c.dim(`pp: ${s.shown} is busy (429); waiting ${Math.ceil(wait / 1000)} s as it asks`));
      await sleep(wait);
      attempt = 0;
      continue;
    }
    if (a.status === 502 || a.status === 503 || a.status === 504) {
      lastFailure = `it is unavailable (${a.status}: ${msgOf(a)})`;
      // A proxy's 502/504 may come after the daemon took the request; only pp's own 503 refuses before it.
      if (a.status !== 503 && !o.repeatable) throw unavailable(`${lastFailure}; the request may have reached the daemon: check with pp log --server before trying again`);
      if (attempt >= MAX_TRIES) throw unavailable(`${lastFailure} (${attempt} tries)${nothing}${mayHaveArrived && nothing ? " unless an earlier try reached it (check with pp log --server)" : ""}`);
      await sleep(Math.min(backoff(attempt), Math.max(0, o.deadline - Date.now())));
      continue;
    }
    if (a.status >= 500) throw unavailable(`it failed (${a.status}: ${msgOf(a)}); see the daemon's log${a.body.id ? ` for request ${cleanLine(String(a.body.id))}` : ""}`);
    if (a.status === 401) {
      throw new PpError("config", s.token === undefined
        ? `${s.shown} needs a token: set PP_TOKEN (or pass --token) to one of the daemon's [serve] tokens`
        : `${s.shown} refused the token (401 unauthenticated): set --token or PP_TOKEN to one of the daemon's [serve] tokens`);
    }
    if (a.status >= 300 && a.status < 400) {
      throw new PpError("usage", `${s.shown} answered with a redirect (${a.status}); give the address the daemon listens on (--server or PP_SERVER)`);
    }
    return a;
  }
}

/** 0.5 s, 1 s, 2 s... with jitter, so that many clients of a daemon that restarts do not return all at once. */
function backoff(attempt: number): number {
  return 500 * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);
}

/** Whether nothing can have reached the daemon (so a repeat is safe), and the failure in words. */
function transportFailure(e: unknown, s: Server): { text: string; unsent: boolean; permanent: boolean } {
  const name = (e as Error | null)?.name;
  if (name === "TimeoutError" || name === "AbortError") return { text: "no answer in time", unsent: false, permanent: false };
  const code = String((e as { code?: unknown } | null)?.code ?? "");
  if (s.unix && (code === "ENOENT" || code === "ECONNREFUSED" || code === "ConnectionRefused")) {
    return { text: `nothing listens on the socket ${cleanLine(s.unix)} (is pp serve running, listening there?)`, unsent: true, permanent: false };
  }
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") {
    return { text: "connection refused: nothing listens there (is pp serve running, and the port right?)", unsent: true, permanent: false };
  }
  // The host alone: the message already names the server.
  const n = networkError(e, s.base.hostname);
  // A name DNS does not know stays unknown for the next try (EAI_AGAIN is the passing kind).
  if (code === "ENOTFOUND") return { text: n.text, unsent: true, permanent: true };
  const unsent = /^(ECONNREFUSED|ConnectionRefused|ENOTFOUND|EAI_\w+|ENODATA|ESERVFAIL|DNSException|EHOSTUNREACH|ENETUNREACH|ENETDOWN|EADDRNOTAVAIL|FailedToOpenSocket|ConnectionTimeout|ETIMEDOUT)$/.test(code);
  return { text: n.text, unsent: unsent || n.tls, permanent: n.permanent };
}

/** Channel names for a message: --ch, else $PP_CHANNELS, else none (the daemon's [serve] channels). */
/** An id from the daemon, checked before it is printed for scripts. */
function idOf(a: Answer, s: Server, field = "id"): string {
  const id = a.body[field];
  if (typeof id !== "string" || !/^[0-9A-Za-z_-]{1,64}$/.test(id)) {
    throw new PpError("store", `${s.shown} answered ${a.status} without a message id; is it a pp daemon (pp serve)?`, EXIT_SERVER);
  }
  return id;
}

/** 400 (with the daemon's reason), 404 and the other refusals of a request: the user must change something. */
function refused(a: Answer, s: Server, what: string): PpError {
  if (a.status === 404 && a.body.code === undefined) {
    return new PpError("store", `${s.shown} has no pp API (404 for ${what}); is --server the address of pp serve?`, EXIT_SERVER);
  }
  if (a.status === 404) return new PpError("not_found", `${s.shown}: ${msgOf(a)}`);
  if (a.status === 413) return new PpError("usage", `${s.shown} refused the message as too large (413: ${msgOf(a)}); send less, or raise max_body in the daemon's [serve]`);
  return new PpError("usage", `${s.shown} refused ${what} (${a.status}: ${msgOf(a)})`);
}

export interface SendOptions {
  server: Server;
  text: string;
  title?: string;
  format: Format;
  channels: string[];
  /** --at, checked (parseAt): the daemon maps them to each channel's mentions. */
  at?: string[];
  /** --tag values as given: the daemon selects its channels by them (field tags), as pp send does. */
  tags?: string[];
  deadlineMs: number;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  dryRun: boolean;
}

/** `pp send --server`: the message is queued by the daemon; its id is printed as a direct send prints it. */
export async function sendThrough(o: SendOptions): Promise<void> {
  const s = o.server;
  // Already the flags' choice, else PP_CHANNELS (route.ts selection): a --tag on the command line replaces PP_CHANNELS.
  const channels = o.channels.length ? o.channels : undefined;
  const body = { text: o.text, ...(o.title ? { title: o.title } : {}), format: o.format, ...(channels ? { channels } : {}), ...(o.at?.length ? { at: o.at } : {}), ...(o.tags?.length ? { tags: o.tags } : {}) };
  if (o.dryRun) return printRequest(s, "api/text", body, o.json);
  const a = await call(s, {
    method: "POST", path: "api/text", body, deadline: Date.now() + o.deadlineMs, key: crypto.randomUUID(),
    repeatable: true, doing: "hand the message to", verbose: o.verbose, quiet: o.quiet,
  });
  if (a.status !== 200) throw refused(a, s, "the message");
  const id = idOf(a, s);
  try {
    await outAsync(o.json ? JSON.stringify({ id, status: "queued", server: s.shown, deliveries: [] }) : id);
  } catch (e) {
    if (!(e instanceof PpError && e.code === "output")) throw e;
    const why = e.message.replace(/^cannot write to standard output: /, "");
    throw new PpError("output", `message ${id} was queued by ${s.shown}, but its id could not be written to standard output (${why}); see pp log show ${id} --server ${s.shown}`, EXIT_STDOUT);
  }
  if (!o.quiet && !o.json) err(c.dim(`pp: queued by ${s.shown}; follow it with: pp log show ${id} --server ${s.shown}`));
  process.exitCode = 0;
}

/** --dry-run with --server: the request that would go to the daemon, the token hidden; nothing is sent. */
function printRequest(s: Server, path: string, body: unknown, json: boolean): void {
  const url = `${s.shown}/${path}`;
  const headers: Record<string, string> = { "content-type": "application/json", "idempotency-key": "(new for each send)" };
  if (s.token !== undefined) headers.authorization = "Bearer ***";
  if (json) return out(JSON.stringify({ server: s.shown, method: "POST", url, headers, body }, null, 2));
  out(`# ${s.shown} (pp serve): the daemon resolves the channels and sends`);
  out(`POST ${url}`);
  for (const [k, v] of Object.entries(headers)) out(`${k}: ${v}`);
  out(`\n${clean(JSON.stringify(body, null, 2))}\n`);
}

/** A delivery as the API shows it: `pp log --json`'s row, plus its target and (for one message) its attempts. */
type DeliveryView = Record<string, unknown> & { id: string; channel: string; status: string; created_at: string };
type ApiMessage = Record<string, unknown> & { id: string; created_at: string; deliveries: DeliveryView[] };

const ms = (iso: unknown): number => (typeof iso === "string" ? Date.parse(iso) : NaN);
const str = (x: unknown): string | null => (typeof x === "string" ? x : null);
const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

/** The API's delivery back as a push-log row, for the renderers `pp log` uses. */
function rowOf(d: DeliveryView): LogRow {
  return {
    id: d.id, delivery_id: 0, channel: String(d.channel), type: String(d.type ?? ""), target: String(d.target ?? ""),
    status: d.status as LogRow["status"], attempts: num(d.attempts) ?? 0, parts: num(d.parts) ?? 1, latency_ms: num(d.latency_ms),
    error: str(d.error), created_at: ms(d.created_at), updated_at: ms(d.updated_at), title: str(d.title), text: String(d.text ?? ""),
    format: String(d.format ?? "text"), replay_of: str(d.replay_of), possible_duplicate: d.possible_duplicate === true ? 1 : 0,
    due_at: ms(d.due_at) || null,
  };
}

/** The API's message back as the push log's detail, for `pp log show`'s renderer. */
function detailOf(m: ApiMessage): MessageDetail {
  return {
    message: {
      id: m.id, created_at: ms(m.created_at), title: str(m.title), text: String(m.text ?? ""), format: String(m.format ?? "text"),
      source: String(m.source ?? ""), replay_of: str(m.replay_of), targets: Array.isArray(m.targets) ? m.targets.map(String) : [],
      expires_at: ms(m.expires_at) || null, request_id: str(m.request_id),
    },
    deliveries: m.deliveries.map((d) => ({
      ...rowOf(d),
      attempts_log: (Array.isArray(d.attempts_log) ? d.attempts_log : []).map((x: Record<string, unknown>) => ({
        part: num(x.part) ?? 1, attempt: num(x.attempt) ?? 1, started_at: ms(x.started_at), latency_ms: num(x.latency_ms) ?? 0,
        http_status: num(x.http_status), outcome: String(x.outcome ?? ""), error: str(x.error), response: str(x.response),
      })),
    })),
    callback: callbackOf(m.callback),
  };
}

function callbackOf(x: unknown): MessageDetail["callback"] {
  if (!x || typeof x !== "object") return null;
  const cb = x as Record<string, unknown>;
  return {
    status: String(cb.status) as NonNullable<MessageDetail["callback"]>["status"], attempts: num(cb.attempts) ?? 0, due_at: ms(cb.due_at) || null,
    http_status: num(cb.http_status), error: str(cb.error), updated_at: ms(cb.updated_at),
  };
}

/** `pp log --json`'s row: the API's delivery without what only `pp log show` has. */
function jsonRowOf(d: DeliveryView): Record<string, unknown> {
  const { target: _t, attempts_log: _a, ...row } = d;
  return row;
}

function isApiMessage(x: unknown): x is ApiMessage {
  if (!x || typeof x !== "object") return false;
  const m = x as Record<string, unknown>;
  return typeof m.id === "string" && Array.isArray(m.deliveries);
}

/** GET /api/messages/{id}. */
async function fetchMessage(s: Server, id: string, deadline: number): Promise<ApiMessage> {
  const a = await call(s, { method: "GET", path: `api/messages/${encodeURIComponent(id)}`, deadline, repeatable: true, doing: "read the push log of" });
  if (a.status === 404 && a.body.code !== undefined) {
    throw new PpError("not_found", `no message with id "${id}" on ${s.shown} (or the prefix matches more than one; give more of the id)`);
  }
  if (a.status !== 200) throw refused(a, s, `message ${id}`);
  if (!isApiMessage(a.body.data)) throw new PpError("store", `${s.shown} answered without the message; is it a pp daemon (pp serve)?`, EXIT_SERVER);
  return a.body.data;
}

/**
 * Deliveries listed by the API, newest first, for one query; `keep` picks the rows, paging until `limit` rows.
 * `more`: the daemon has more beyond them.
 */
async function listRows(
  s: Server, q: { status?: string; channel?: string; since?: number }, limit: number, deadline: number,
  keep: (d: DeliveryView) => boolean, maxPages = Infinity,
): Promise<{ rows: DeliveryView[]; more: boolean }> {
  const rows: DeliveryView[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const p = new URLSearchParams();
    if (q.status) p.set("status", q.status);
    if (q.channel) p.set("channel", q.channel);
    if (q.since !== undefined) p.set("since", String(q.since));
    p.set("limit", String(Math.min(PAGE_MAX, limit)));
    if (cursor) p.set("cursor", cursor);
    const a = await call(s, { method: "GET", path: `api/messages?${p}`, deadline, repeatable: true, doing: "read the push log of" });
    if (a.status !== 200) throw refused(a, s, "the listing");
    if (!Array.isArray(a.body.data)) throw new PpError("store", `${s.shown} answered without a listing; is it a pp daemon (pp serve)?`, EXIT_SERVER);
    for (const m of a.body.data) {
      if (!isApiMessage(m)) continue;
      // Within a message the push log lists the later delivery first, as `pp log` does.
      for (const d of [...m.deliveries].reverse()) if (keep(d)) rows.push(d);
    }
    cursor = typeof a.body.next_cursor === "string" && a.body.next_cursor !== "" ? a.body.next_cursor : null;
  } while (cursor && rows.length < limit && ++pages < maxPages);
  return { rows: rows.slice(0, limit), more: cursor !== null || rows.length > limit };
}

/**
 * What `pp log --failed` lists (with `all`, `--failed --all`), newest first, one row per delivery: the daemon applies
 * the push log's own rule (GET /api/messages?failed=1), a page at a time until `limit` rows.
 */
async function failedRows(
  s: Server, o: { channel?: string; since?: number; all: boolean }, limit: number, deadline: number,
): Promise<DeliveryView[]> {
  const rows: DeliveryView[] = [];
  let cursor: string | null = null;
  do {
    const p = new URLSearchParams({ failed: "1" });
    if (o.all) p.set("all", "1");
    if (o.channel) p.set("channel", o.channel);
    if (o.since !== undefined) p.set("since", String(o.since));
    p.set("limit", String(Math.min(PAGE_MAX, limit - rows.length)));
    if (cursor) p.set("cursor", cursor);
    const a = await call(s, { method: "GET", path: `api/messages?${p}`, deadline, repeatable: true, doing: "read the push log of" });
    if (a.status !== 200) throw refused(a, s, "the listing of what did not arrive");
    if (!Array.isArray(a.body.data)) throw new PpError("store", `${s.shown} answered without a listing; is it a pp daemon (pp serve)?`, EXIT_SERVER);
    for (const d of a.body.data) {
      // A daemon that does not know failed=1 lists messages instead: its answer cannot be read as rows.
      if (!isRow(d)) throw new PpError("store", `${s.shown} does not list undelivered deliveries (failed=1); it may be an older pp serve: upgrade it, or run this on its host without --server`, EXIT_SERVER);
      rows.push(d);
    }
    cursor = typeof a.body.next_cursor === "string" && a.body.next_cursor !== "" ? a.body.next_cursor : null;
  } while (cursor && rows.length < limit);
  return rows.slice(0, limit);
}

function isRow(x: unknown): x is DeliveryView {
  if (!x || typeof x !== "object") return false;
  const d = x as Record<string, unknown>;
  return typeof d.id === "string" && typeof d.channel === "string" && typeof d.status === "string" && typeof d.created_at === "string" && !("deliveries" in d);
}

/** GET /api/stats: `pp log --stats --json`'s rows, counted by the daemon. */
async function fetchStats(s: Server, q: { channel?: string; since?: number }, deadline: number): Promise<StatRow[]> {
  const p = new URLSearchParams();
  if (q.channel) p.set("channel", q.channel);
  if (q.since !== undefined) p.set("since", String(q.since));
  const a = await call(s, { method: "GET", path: `api/stats${p.size ? `?${p}` : ""}`, deadline, repeatable: true, doing: "read the push log of" });
  if (a.status === 404 && a.body.code !== undefined) {
    throw new PpError("store", `${s.shown} does not count deliveries (no /api/stats); it may be an older pp serve: upgrade it, or run pp log --stats on its host`, EXIT_SERVER);
  }
  if (a.status !== 200) throw refused(a, s, "the statistics");
  const data = a.body.data;
  if (!Array.isArray(data) || !data.every((r) => r && typeof r === "object" && typeof (r as StatRow).channel === "string")) {
    throw new PpError("store", `${s.shown} answered without statistics; is it a pp daemon (pp serve)?`, EXIT_SERVER);
  }
  return data as StatRow[];
}

export interface LogOptions {
  server: Server;
  positionals: string[];
  failed: boolean;
  all: boolean;
  stats: boolean;
  ch?: string;
  since?: string;
  limit?: string;
  json: boolean;
}

/** `pp log --server` and `pp log show ID --server`, printed by the direct command's renderers. */
export async function logThrough(o: LogOptions): Promise<void> {
  const s = o.server;
  const since = o.since ? parseSince(o.since) : undefined;
  const limit = parseLimit(o.limit, 20);
  const deadline = Date.now() + 120_000;
  const { listing, renderMessage, renderStats } = await import("./log.ts");
  const pos = o.positionals;
  if (pos[0] === "show") {
    if (!pos[1]) throw new PpError("usage", "pp log show needs a message id (as printed by pp send or listed by pp log)");
    const m = await fetchMessage(s, pos[1], deadline);
    // The daemon's view is `pp log show --json`'s own shape.
    if (o.json) return out(JSON.stringify(m, null, 2));
    return renderMessage(detailOf(m));
  }
  if (pos.length) throw new PpError("usage", `unexpected argument "${pos[0]}"; did you mean \`pp log show ${pos[0]}\`?`);
  if (o.stats) return renderStats(await fetchStats(s, { channel: o.ch, since }, deadline), o.json);
  const rows = o.failed
    ? await failedRows(s, { channel: o.ch, since, all: o.all }, limit, deadline)
    : (await listRows(s, { channel: o.ch, since }, limit, deadline, (d) => (!o.ch || d.channel === o.ch) && (since === undefined || ms(d.created_at) >= since))).rows;
  if (o.json) return out(JSON.stringify(rows.map(jsonRowOf), null, 2));
  if (rows.length === 0) return out(c.dim("no deliveries match"));
  const logRows = rows.map(rowOf);
  const width = outputWidth();
  let short = false;
  const full = listing(logRows, width, (id) => ((short = true), id));
  // Only a narrow output shortens ids; then the daemon says which prefixes name one message each.
  if (!short) return out(full);
  const prefixes = await shortIds(s, logRows.map((r) => r.id), deadline);
  out(listing(logRows, width, (id) => prefixes.get(id) ?? id));
}

/** The shortest prefix of each id (12 characters at least, as `pp log` shows them) that the daemon finds as that message. */
async function shortIds(s: Server, ids: string[], deadline: number): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const id of new Set(ids)) {
    let shortest = id;
    for (let n = 12; n < id.length; n++) {
      const a = await call(s, { method: "GET", path: `api/messages/${encodeURIComponent(id.slice(0, n))}`, deadline, repeatable: true, doing: "read the push log of" });
      if (a.status === 200 && isApiMessage(a.body.data) && a.body.data.id === id) {
        shortest = id.slice(0, n);
        break;
      }
      if (a.status !== 404) break;
    }
    found.set(id, shortest);
  }
  return found;
}

export interface ReplayOptions {
  server: Server;
  id?: string;
  failed: boolean;
  since?: string;
  channels: string[];
  uncertain: boolean;
  deadlineMs: number;
  json: boolean;
  quiet: boolean;
}

interface Queued { id: string; replayOf: string }
interface Skipped { replayOf: string; channel: string; reason: string; error: string | null }

/**
 * `pp replay ID --server` and `pp replay --failed --server`: the daemon queues the replays (its claim skips what
 * the family has delivered or is sending). Prints the new ids, and exits 1 when any replay was refused.
 */
export async function replayThrough(o: ReplayOptions): Promise<void> {
  const s = o.server;
  if (o.failed && o.id) throw new PpError("usage", "give either a message id or --failed, not both");
  if (!o.failed && !o.id) throw new PpError("usage", "pp replay needs a message id (see pp log) or --failed");
  const since = o.failed ? parseSince(o.since ?? "24h") : 0;
  const deadline = Date.now() + o.deadlineMs;
  const queued: Queued[] = [];
  const skipped: Skipped[] = [];
  const refusedReplays: { root: string; error: string }[] = [];

  // `channels` (named with --ch) sends again even where delivered, as `pp replay ID --ch` does; without them the
  // daemon's claim picks what is left. The key makes a repeat after a dropped connection queue nothing twice.
  const replay = async (id: string, channels: string[] | undefined): Promise<"nothing" | "queued"> => {
    const a = await call(s, {
      method: "POST", path: `api/messages/${encodeURIComponent(id)}/replay`, deadline, key: crypto.randomUUID(),
      body: { ...(channels ? { channels } : {}), ...(o.uncertain ? { uncertain: true } : {}) },
      repeatable: true, doing: "replay through", quiet: o.quiet || o.json,
    });
    if (a.status === 404 && a.body.code !== undefined) {
      throw new PpError("not_found", `no message with id "${id}" on ${s.shown} (or the prefix matches more than one; give more of the id)`);
    }
    if (a.status !== 200) throw refused(a, s, `the replay of ${id}`);
    const root = typeof a.body.replay_of === "string" ? a.body.replay_of : id;
    for (const x of Array.isArray(a.body.skipped) ? a.body.skipped : []) {
      const k = x as Record<string, unknown>;
      const reason = String(k.reason ?? "skipped");
      skipped.push({ replayOf: root, channel: String(k.channel ?? ""), reason: skipReason(reason), error: reason });
    }
    const newId = idOf(a, s);
    if (newId === root || (typeof a.body.msg === "string" && a.body.msg.startsWith("nothing"))) return "nothing";
    queued.push({ id: newId, replayOf: root });
    return "queued";
  };

  if (o.failed) {
    // What `pp replay --failed` sends: what `pp log --failed` lists, but not what expired (it was meant to end);
    // oldest first, as the direct command replays.
    const rows = await failedRows(s, { channel: o.channels.length === 1 ? o.channels[0] : undefined, since, all: false }, Number.MAX_SAFE_INTEGER, deadline);
    const byRoot = new Map<string, Set<string>>();
    for (const d of rows.reverse()) {
      if (d.status === "expired") continue;
      if (o.channels.length && !o.channels.includes(d.channel)) continue;
      const root = str(d.replay_of) ?? d.id;
      const set = byRoot.get(root) ?? new Set<string>();
      set.add(d.channel);
      byRoot.set(root, set);
    }
    if (byRoot.size === 0) {
      if (o.json) out(JSON.stringify(summary([], [], [])));
      else if (!o.quiet) err(c.dim("nothing to replay: no failed deliveries in that window that are still undelivered"));
      return;
    }
    for (const [root, names] of byRoot) {
      try {
        await replay(root, o.channels.length ? [...names] : undefined);
      } catch (e) {
        // One message the daemon refuses (gone, its channel removed) does not stop the others; an unreachable daemon does.
        if (!(e instanceof PpError) || e.exitCode === EXIT_SERVER) {
          report(queued, skipped, refusedReplays, o, s, true);
          throw e;
        }
        refusedReplays.push({ root, error: e.message });
      }
    }
    process.exitCode = report(queued, skipped, refusedReplays, o, s, true);
    return;
  }
  const outcome = await replay(o.id!, o.channels.length ? o.channels : undefined);
  if (outcome === "nothing" && skipped.every((x) => x.reason === "delivered")) {
    if (o.json) out(JSON.stringify(summary([], skipped, [])));
    else if (!o.quiet) err(`pp: nothing to send: every delivery of message ${o.id} has been delivered (to send it again anyway: pp replay ${o.id} --ch NAME --server ${s.shown})`);
    return;
  }
  process.exitCode = report(queued, skipped, refusedReplays, o, s, false);
}

/** The daemon's skip reason (the push log's claim, in words) as `pp replay --json` names it: delivered, sending, uncertain. */
function skipReason(reason: string): string {
  const r = reason.toLowerCase();
  if (r.startsWith("may have arrived") || r.includes("uncertain")) return "uncertain";
  if (r.startsWith("being sent") || r.startsWith("queued")) return "sending";
  if (r.includes("delivered")) return "delivered";
  return "skipped";
}

/** `pp replay --json`'s shape; the deliveries are the daemon's to make, so each replay shows as queued. */
function summary(queued: Queued[], skipped: Skipped[], refusedReplays: { root: string; error: string }[]) {
  return {
    replays: queued.map((q) => ({ id: q.id, replay_of: q.replayOf, status: "queued", deliveries: [] })),
    skipped: [
      ...skipped.map((x) => ({ replay_of: x.replayOf, channel: x.channel, reason: x.reason, error: x.error })),
      ...refusedReplays.map((r) => ({ replay_of: r.root, channel: null, reason: "refused", error: r.error })),
    ],
    replayed: queued.length,
    delivered: 0,
    failed: refusedReplays.length,
  };
}

function report(queued: Queued[], skipped: Skipped[], refusedReplays: { root: string; error: string }[], o: ReplayOptions, s: Server, all: boolean): number {
  const sum = summary(queued, skipped, refusedReplays);
  if (o.json) {
    out(JSON.stringify(sum));
    return sum.failed ? 1 : 0;
  }
  for (const q of queued) out(q.id);
  if (o.quiet) return sum.failed ? 1 : 0;
  for (const q of queued) err(c.dim(`message ${q.replayOf} → replay ${q.id} queued by ${s.shown}`));
  for (const x of skipped) err(`${c.dim("-")} ${clean(x.channel)} ${c.dim(`skipped: ${cleanLine(x.error ?? x.reason)}`)}${all ? c.dim(` (message ${x.replayOf})`) : ""}`);
  for (const r of refusedReplays) err(`${c.red("✖")} ${c.red(cleanLine(r.error))} ${c.dim(`(message ${r.root})`)}`);
  if (all) err(`pp: queued ${queued.length} replay${queued.length === 1 ? "" : "s"} on ${s.shown}: ${sum.failed} refused, ${skipped.length} skipped`);
  const uncertain = skipped.filter((x) => x.reason === "uncertain").length;
  if (uncertain) err(`pp: ${uncertain} skipped as uncertain (the platform may have ${uncertain === 1 ? "it" : "them"}); send ${uncertain === 1 ? "it" : "them"} anyway with ${all ? "pp replay --failed --uncertain" : "--uncertain"}`);
  if (queued.length) err(c.dim(`pp: follow with: pp log show ID --server ${s.shown}`));
  return sum.failed ? 1 : 0;
}
