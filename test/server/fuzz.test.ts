import { afterAll, expect, test } from "bun:test";
import { prng } from "../helpers.ts";
import { harness, SECRETS, TOKEN } from "./_api.ts";

/**
 * Thousands of malformed requests from a fixed seed: random bytes, fields of the wrong type, huge and deeply nested
 * fields, broken UTF-8, odd methods and paths. None may get a 5xx or make the app throw, and nothing may be queued
 * except what was answered 200 (a mutation can happen to produce a valid request).
 */
const SEED = 0x5eed_0008;
const N = 5000;

const x = harness({ maxBodyBytes: 64 * 1024, rate: { count: 1_000_000, windowMs: 60_000 } });
afterAll(() => x.close());

const rnd = prng(SEED);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
const latin1 = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => 0x20 + int(0xdf))).replace(/[\x7f]/g, "?");
const text = (n: number) => {
  let s = "";
  for (let i = 0; i < n; i++) s += pick(["a", "é", "😀", "\u0000", "\n", " ", "%", "&", "=", "+", '"', "\\", "\u200b", "/", "\ud800"]);
  return s;
};

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "TRACE-X", "get"];
const PATHS = [
  "/api/text", "/api/messages", "/api/messages/01ABCDEF", "/api/messages/%FF/replay", "/api/messages/x/replay", "/-/reload", "/healthz",
  "/metrics", "/send", `/send/${TOKEN}`, "/send/wrong", `/${TOKEN}/body`, `/${TOKEN}/title/body`, "/wrong/body", "/", "//", "/%2e%2e/%2e%2e",
  "/api/", "/api//text", "/swagger/x", "/log/x/y", "/a/b/c/d", "/%ZZ/%ZZ", "/%E9%80/x", `/${"a".repeat(5000)}/b`,
];
const TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "application/json; charset=latin1", "multipart/form-data", "application/merge-patch+json", "application/x-www-form-urlencoded; charset=utf-8", latin1(12)];
const FIELDS = ["msg", "text", "content", "body", "title", "format", "template", "channels", "ch", "callback_url", "callbackUrl", "expires_at", "timestamp", "token", "topic", "webhook", "uncertain", "__proto__", "constructor"];

function oddValue(): unknown {
  switch (int(9)) {
    case 0: return int(2) ? 1e308 : -0;
    case 1: return [1, { a: [] }];
    case 2: return { nested: { deep: true } };
    case 3: return null;
    case 4: return int(2) === 1;
    case 5: return text(int(40));
    case 6: return "x".repeat(70 * 1024);
    case 7: return [text(3), 5];
    default: return pick(["ops", "nope", "javascript:alert(1)", "ftp://x", "1e3", "-1", "99999999999999999999", "markdown", "json", "html"]);
  }
}

function deepJson(): string {
  const d = 2000 + int(20000);
  return pick(["[", '{"a":']).repeat(d);
}

function body(): RequestInit["body"] {
  switch (int(8)) {
    case 0: return bytes(int(300));
    case 1: {
      const o: Record<string, unknown> = {};
      for (let i = int(5); i >= 0; i--) o[pick(FIELDS)] = oddValue();
      return JSON.stringify(o);
    }
    case 2: {
      // Valid-looking JSON with invalid UTF-8 inside a string.
      const head = new TextEncoder().encode('{"msg":"');
      return new Uint8Array([...head, ...bytes(1 + int(8)).map((b) => b | 0x80), 0x22, 0x7d]);
    }
    case 3: return Array.from({ length: 1 + int(6) }, () => `${pick(FIELDS)}=${pick(["%", "%E9%80", "%zz", "+", "a%00b", "%C0%AF", text(5)])}`).join("&");
    case 4: return deepJson();
    case 5: return "x".repeat(60 * 1024 + int(20 * 1024));
    case 6: return JSON.stringify(pick([[], "str", 5, null, true, [{ msg: "x" }]]));
    default: return undefined;
  }
}

function headers(): Record<string, string> {
  const h: Record<string, string> = {};
  const type = pick(TYPES);
  if (type) h["Content-Type"] = type;
  switch (int(7)) {
    case 0: h.Authorization = `Bearer ${TOKEN}`; break;
    case 1: h.Authorization = pick(["Bearer", "Basic abc", `Bearer  ${TOKEN} x`, `bearer ${TOKEN}`, latin1(30)]); break;
    case 2: h["X-Pp-Token"] = pick([TOKEN, "", latin1(10), `${TOKEN} `]); break;
    case 3: h.Cookie = pick(["pp_session=x", "pp_session=", latin1(20), "a=b; pp_session"]); h["X-Pp-Csrf"] = latin1(5); break;
    default: h.Authorization = `Bearer ${TOKEN}`;
  }
  if (int(4) === 0) h[pick(["X-Ppt-Request-ID", "Idempotency-Key"])] = pick(["", latin1(20), "k".repeat(300), "ok-key", " "]);
  return h;
}

function query(): string {
  if (int(2)) return "";
  // The token only where a token goes: a client that writes it into its own text reads it back from /api/messages.
  const pair = () => {
    const key = pick([...FIELDS, "limit", "cursor", "since", "status"]);
    return `${key}=${key === "token" ? pick([TOKEN, "", "nope"]) : pick(["", "%", "%FF", "0", "501", "json", text(4), "1h", "yesterday"])}`;
  };
  return `?${Array.from({ length: 1 + int(4) }, pair).join("&")}`;
}

test(`${N} malformed requests: no 5xx, no throw, nothing queued but what was accepted`, async () => {
  const statuses = new Map<number, number>();
  const accepted = new Set<string>();
  for (let i = 0; i < N; i++) {
    const method = pick(METHODS);
    const path = pick(PATHS) + query();
    const init: RequestInit = { method, headers: headers() };
    if (method !== "GET" && method !== "HEAD" && method !== "get") init.body = body();
    let req: Request;
    try {
      req = new Request(`http://pp.test${path}`, init);
    } catch {
      continue; // A request no client could send (an invalid header value): not the app's to answer.
    }
    const res = await x.app(req, `10.0.${int(4)}.${int(256)}`);
    const answer = await res.text();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500) throw new Error(`case ${i}: ${method} ${path.slice(0, 100)} -> ${res.status} ${answer.slice(0, 200)}`);
    for (const s of SECRETS) if (answer.includes(s)) throw new Error(`case ${i}: ${method} ${path.slice(0, 300)} the answer holds a secret: ${answer.slice(0, 300)}`);
    if (res.status === 200 && answer.startsWith("{")) accepted.add(JSON.parse(answer).id);
  }
  const queued = (x.store.db.query("SELECT id FROM messages").all() as { id: string }[]).map((r) => r.id);
  expect(queued.filter((id) => !accepted.has(id))).toEqual([]);
  // The run went through the app's refusals, not just one of them.
  for (const s of [400, 401, 404, 405, 413, 415]) expect(statuses.get(s) ?? 0).toBeGreaterThan(0);
  const lines = JSON.stringify(x.lines);
  for (const s of SECRETS) expect(lines).not.toContain(s);
}, 60_000);
