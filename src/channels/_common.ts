import * as v from "valibot";
import { proxyProblem } from "../core/proxy.ts";
import type { HttpRequest, HttpResponse, Mentions, Outcome, OutcomeKind } from "../core/types.ts";

/** Headers every channel request carries. */
export const JSON_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "application/json; charset=utf-8",
  "User-Agent": "pp",
};

/**
 * The Markdown converters, loaded with the first Markdown message: a plain-text send, most of what pp sends,
 * never loads them (about 0.4 ms of each pp process's start-up, measured in the compiled binary). The path is
 * literal: a module reached through a computed one is left out of a compiled binary.
 */
export const markdown = (): typeof import("../core/markdown.ts") => require("../core/markdown.ts");

// ---------------------------------------------------------------------------
// Mentions, as channels make them (src/core/mentions.ts reads what was asked for). Here rather than in a module
// of their own: each module a channel imports is one more for every pp send to load.

/** `list` and `more`, each entry once, in order. */
export function merged(list: readonly string[] | undefined, more: readonly string[]): string[] {
  return [...new Set([...(list ?? []), ...more])];
}

/** The mentions a channel cannot make, in words: "phone numbers", "everyone", "user ids". */
export function unsupported(at: Mentions, can: { phones?: boolean; users?: boolean; all?: boolean }): string[] {
  const out: string[] = [];
  if (at.phones.length > 0 && !can.phones) out.push("phone numbers");
  if (at.users.length > 0 && !can.users) out.push("user ids");
  if (at.all && !can.all) out.push("everyone");
  return out;
}

/** "phone numbers and everyone" */
export function words(list: string[]): string {
  return list.length <= 1 ? (list[0] ?? "") : `${list.slice(0, -1).join(", ")} and ${list.at(-1)}`;
}

// ---------------------------------------------------------------------------
// Rates and durations

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};
const UNITS = "ms, s, min, h, d";

/** "20/min", "5/2s", "1/s", "100/h" -> at most `count` requests per `windowMs`. */
export function parseRate(s: string): { count: number; windowMs: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$/i.exec(s);
  const unit = m ? UNIT_MS[m[3]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(`invalid rate "${s}": expected COUNT/WINDOW such as "20/min", "5/2s" or "100/h" (units: ${UNITS})`);
  }
  const count = Number(m[1]);
  const windowMs = (m[2] === undefined ? 1 : Number(m[2])) * unit;
  if (count < 1 || windowMs <= 0) throw new Error(`invalid rate "${s}": count and window must be greater than 0`);
  return { count, windowMs };
}

/** "10s", "500ms", "2m", "1m30s", "1.5h" -> milliseconds. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)\s*([a-z]+)/giy;
  const text = s.trim();
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const unit = UNIT_MS[m[2]!.toLowerCase()];
    if (unit === undefined) break;
    total += Number(m[1]) * unit;
    matched = re.lastIndex;
    while (text[re.lastIndex] === " ") re.lastIndex++;
  }
  if (text === "" || matched !== text.length) {
    throw new Error(
      `invalid duration "${s}": expected a number with a unit such as "500ms", "10s", "2m" or "1h" (units: ${UNITS})`,
    );
  }
  return Math.round(total);
}

/**
 * The longest timeout or deadline pp accepts. A day is far beyond any send, and well below the 2^31-1 ms
 * (24.8 days) that a timer can hold: a longer one fires at once.
 */
export const MAX_DURATION_MS = 86_400_000;

/** What is wrong with a timeout or deadline, or undefined when it is a duration from 1 ms to MAX_DURATION_MS. */
export function durationProblem(s: string): string | undefined {
  let ms: number;
  try {
    ms = parseDuration(s);
  } catch (e) {
    return (e as Error).message;
  }
  if (ms <= 0) return "must be longer than 0";
  if (!(ms <= MAX_DURATION_MS)) return `"${s}" is too long: at most 24h`;
  return undefined;
}

// ---------------------------------------------------------------------------
// Schema pieces

/** A valibot check whose message comes from a function returning the problem (or undefined). */
export function checkWith<T>(problem: (input: T) => string | undefined) {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const message = problem(dataset.value);
    if (message !== undefined) addIssue({ message });
  });
}

/** The message `fn` throws, or undefined when it does not: a parser used as a check. */
export function thrownMessage(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function isHttpUrl(s: string): boolean {
  if (!URL.canParse(s)) return false;
  const u = new URL(s);
  return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
}

/** Any http(s) URL; the message never repeats the value, which holds a token. */
export const httpUrl = v.pipe(v.string(), v.check(isHttpUrl, "must be an http(s) URL"));

/** A rate such as "20/min", checked by the parser that reads it. */
export const rateString = v.pipe(
  v.string(),
  checkWith((s: string) => thrownMessage(() => parseRate(s))),
);

/** Fields every channel section accepts. */
export const commonFields = {
  rate: v.optional(v.union([rateString, v.array(rateString)], 'must be a rate such as "20/min" or a list of rates')),
  timeout: v.optional(v.pipe(v.string(), checkWith(durationProblem))),
  retries: v.optional(v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(0, "must be 0 or more"), v.maxValue(20, "must be 20 or less"))),
  // One word each: `--tag a,b` and PP_TAGS split on commas and spaces. For ntfy these are also the ntfy tags sent.
  tags: v.optional(v.array(v.pipe(v.string(), v.regex(/^[^\s,]+$/, "must be a tag name: one word, without spaces or commas")), "must be a list of tag names, such as [\"prod\", \"db\"]")),
  // Checked against the configured channels and groups once they are all known (config/load.ts).
  fallback: v.optional(v.union([v.string(), v.array(v.string())], "must be a channel or group name or a list of them")),
  // A proxy URL or "none" (src/core/proxy.ts); [defaults] proxy fills it in (config/load.ts).
  proxy: v.optional(v.pipe(v.string(), checkWith(proxyProblem))),
};

export const stringList = v.array(v.string());

// ---------------------------------------------------------------------------
// Secrets and redaction

function looksLikeToken(segment: string): boolean {
  return (segment.length >= 8 && /\d/.test(segment)) || segment.length >= 20;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Credentials in a URL, decoded, and the Basic authorization fetch derives from them. */
function credentialSecrets(u: URL): string[] {
  if (!u.username && !u.password) return [];
  const user = safeDecode(u.username);
  const pass = safeDecode(u.password);
  const basic = (s: string) => Buffer.from(s).toString("base64");
  return [u.username, user, u.password, pass, basic(`${user}:${pass}`), basic(`${u.username}:${u.password}`)];
}

/** Every string of a webhook URL that must not be shown: query values, token-like path segments, credentials, the URL itself. */
export function urlSecrets(url: string): string[] {
  return secretsOfUrl(url, URL.parse(url));
}

/** urlSecrets of a URL already parsed (null: not a URL): each channel's secrets are worked out on every send. */
function secretsOfUrl(url: string, u: URL | null): string[] {
  const out = new Set<string>([url]);
  if (u) {
    for (const seg of u.pathname.split("/")) {
      if (looksLikeToken(seg)) out.add(seg).add(safeDecode(seg));
    }
    for (const pair of u.search.slice(1).split("&")) {
      const raw = pair.slice(pair.indexOf("=") + 1);
      if (pair.includes("=") && raw !== "") out.add(raw).add(safeDecode(raw.replaceAll("+", " ")));
    }
    for (const s of credentialSecrets(u)) out.add(s);
  }
  return [...out].filter((s) => s.length > 0);
}

/** A URL met in a platform's text: origin and path with token-like segments and every query value replaced by "***". */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return "***";
  const u = new URL(url);
  const path = u.pathname
    .split("/")
    .map((seg) => (looksLikeToken(seg) ? "***" : seg))
    .join("/");
  const query = u.search
    .slice(1)
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => (pair.includes("=") ? `${pair.slice(0, pair.indexOf("="))}=***` : pair))
    .join("&");
  return `${u.origin}${path}${query ? `?${query}` : ""}`;
}

/**
 * The fixed path segments of a platform's webhook URL, shown as they are; every other segment is a credential.
 * `undefined` stands for a URL of unknown shape, whose whole path and query are hidden.
 */
export type UrlShape = readonly string[] | undefined;

/**
 * Words a generic webhook's path is often made of. They are still masked on display, but not hidden in
 * answers and errors: hiding "webhook" everywhere would mangle pp's own messages and keep nothing secret.
 */
const COMMON_PATH_WORDS = new Set([
  "api", "hook", "hooks", "webhook", "webhooks", "notify", "notification", "notifications", "send", "message",
  "messages", "services", "service", "robot", "bot", "bots", "incoming", "alert", "alerts", "event", "events",
  "push", "post", "json", "text", "channel", "channels", "open-apis", "cgi-bin", "index.php",
]);

/**
 * How a destination is shown everywhere (pp channels, pp log, the push log, --dry-run, pp test). Of a URL of
 * known shape: the origin, the platform's fixed segments, "***" for the rest and for every query value. Of
 * any other URL: scheme, host and port only, since any part of its path or query may be the credential.
 * Credentials before the host never show.
 */
export function showUrl(url: string, shape?: UrlShape): string {
  if (!URL.canParse(url)) return "***";
  const u = new URL(url);
  if (shape === undefined) return `${u.origin}/${u.pathname === "/" && u.search === "" ? "" : "***"}`;
  const known = new Set(shape);
  const path = u.pathname
    .split("/")
    .map((seg) => (seg === "" || known.has(seg) ? seg : "***"))
    .join("/");
  const query = u.search
    .slice(1)
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => `${pair.includes("=") ? pair.slice(0, pair.indexOf("=")) : "***"}=***`)
    .join("&");
  return `${u.origin}${path}${query ? `?${query}` : ""}`;
}

/** What showUrl hides of a destination URL, as secrets to remove from every answer and error. */
export function destinationSecrets(url: string, shape?: UrlShape): string[] {
  const u = URL.parse(url);
  const out = secretsOfUrl(url, u);
  if (!u) return out;
  const known = new Set(shape ?? []);
  let hidden = false;
  for (const seg of u.pathname.split("/")) {
    if (seg === "" || known.has(seg) || (shape === undefined && COMMON_PATH_WORDS.has(seg.toLowerCase()))) continue;
    out.push(seg, safeDecode(seg));
    hidden = true;
  }
  // An answer may quote the path whole ("no route for /webhook/ab"), where a short segment alone would not match.
  if (hidden) out.push(u.pathname, safeDecode(u.pathname));
  if (u.search) out.push(`${u.pathname}${u.search}`);
  return [...new Set(out)];
}

/** A stable identity for rate limiting; the raw URL never leaves this function. */
export function rateKeyOf(type: string, url: string, dropParams: readonly string[] = []): string {
  let key = url;
  if (dropParams.length > 0 && URL.canParse(url)) {
    const u = new URL(url);
    for (const p of dropParams) u.searchParams.delete(p);
    key = u.href;
  }
  return `${type}:${new Bun.CryptoHasher("sha256").update(key).digest("hex")}`;
}

/**
 * Platform text made safe to carry: URLs in it redacted, whitespace collapsed. Not cut: the core first
 * removes every secret it knows of, then cuts (a cut here could leave the head of a secret it cannot match).
 */
export function errorText(s: string): string {
  return s
    .replace(/https?:\/\/[^\s"'<>]+/g, redactUrl)
    .replace(/\s+/g, " ")
    .trim();
}

// ---------------------------------------------------------------------------
// Sizes and payload helpers

export function byteLength(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** Cuts to at most `max` code points, never inside a surrogate pair. */
export function truncateChars(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join("")}…`;
}

/** Parses a request body this module built; measure() relies on it. */
export function bodyJson(body: string | undefined): any {
  return JSON.parse(body ?? "null");
}

/** Adds the keyword on a line of its own unless the text already contains it (Feishu and DingTalk drop such messages). */
export function withKeyword(text: string, keyword: string | undefined, alsoSearched = "", newline = "\n"): string {
  if (!keyword || text.includes(keyword) || alsoSearched.includes(keyword)) return text;
  return `${text}${newline}${keyword}`;
}

// ---------------------------------------------------------------------------
// Classification

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function statusText(res: HttpResponse): string {
  const body = errorText(res.body);
  return body ? `HTTP ${res.status}: ${body}` : `HTTP ${res.status}`;
}

/**
 * Status-only classification: 2xx ok, 429 rate limited, 408/425/5xx retryable, the rest permanent.
 * 501 is the exception among 5xx: the server does not support the request (Mattermost: webhooks disabled).
 */
export function classifyHttp(res: HttpResponse): Outcome {
  const s = res.status;
  if (s >= 200 && s < 300) return { kind: "ok" };
  if (s === 501) return { kind: "permanent", error: statusText(res), code: s };
  if (s === 429) {
    const wait = retryAfterMs(res.headers);
    return {
      kind: "rate_limited",
      error: statusText(res),
      code: s,
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    };
  }
  if (s === 408 || s === 425 || s >= 500) return { kind: "retryable", error: statusText(res), code: s };
  return { kind: "permanent", error: statusText(res), code: s };
}

export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

export function unexpected(res: HttpResponse): Outcome {
  return {
    kind: "permanent",
    error: `unexpected response: ${errorText(res.body)}`,
    code: res.status,
  };
}

export interface CodeRow {
  kind: OutcomeKind;
  retryAfterMs?: number;
  /** Added to the platform's message to say what to check. */
  hint?: string;
}

/** How a platform that answers HTTP 200 with a numeric code in the body reports its result. */
export interface CodeTable {
  /** Fields holding the code, first present wins (Feishu still sends the legacy StatusCode). */
  codeFields: readonly string[];
  messageFields: readonly string[];
  rows: Readonly<Record<number, CodeRow>>;
}

/**
 * Body-code classification for WeCom, Feishu and DingTalk. A 2xx without a readable code is never taken as
 * success: those platforms report most failures with HTTP 200.
 */
export function classifyByCode(res: HttpResponse, table: CodeTable): Outcome {
  if (res.status === 429 || res.status === 408 || res.status === 425 || res.status >= 500) return classifyHttp(res);
  const json = parseJson(res.body);
  const obj = json !== null && typeof json === "object" ? (json as Record<string, unknown>) : undefined;
  const field = obj && table.codeFields.find((f) => typeof obj[f] === "number");
  if (!obj || field === undefined) return res.status >= 200 && res.status < 300 ? unexpected(res) : classifyHttp(res);
  const code = obj[field] as number;
  if (code === 0) return { kind: "ok" };
  const row = table.rows[code] ?? { kind: "permanent" };
  const msgField = table.messageFields.find((f) => typeof obj[f] === "string" && obj[f] !== "");
  const message = msgField === undefined ? `error ${code}` : errorText(obj[msgField] as string);
  const out: Outcome = {
    kind: row.kind,
    code,
    error: row.hint ? `${message} (${row.hint})` : message,
  };
  if (row.retryAfterMs !== undefined) out.retryAfterMs = row.retryAfterMs;
  return out;
}

/** A JSON POST with the standard headers. */
export function postJson(url: string, payload: unknown): HttpRequest {
  return {
    method: "POST",
    url,
    headers: { ...JSON_HEADERS },
    body: JSON.stringify(payload),
  };
}

/**
 * secrets/target/rateKey for channels whose credential is the webhook URL (plus an optional signing secret).
 * `shape`: the platform's fixed path segments (see showUrl).
 */
export function webhookIdentity<O extends { type: string; webhook: string; secret?: string | undefined }>(
  shape: readonly string[],
  dropFromKey: readonly string[] = [],
) {
  return {
    secrets: (o: O): string[] => [...destinationSecrets(o.webhook, shape), ...(o.secret ? [o.secret] : [])],
    target: (o: O, url: string = o.webhook): string => showUrl(url, shape),
    rateKey: (o: O): string => rateKeyOf(o.type, o.webhook, dropFromKey),
  };
}

// ---------------------------------------------------------------------------
// Templates: "{{ text | json }}", logic-less, for the generic webhook's body and URL

export type TemplateVars = {
  text: string;
  title: string | undefined;
  format: string;
  timestamp: string;
  /** pp send --at, comma-separated ("all", phone numbers, user ids); empty without mentions. */
  at: string;
};
const VARIABLES = ["text", "title", "format", "timestamp", "at"] as const;

/** Escapes U+2028/U+2029 too: valid JSON, but they end a line when the JSON is embedded in JavaScript. */
export function jsonValue(value: string | undefined): string {
  return JSON.stringify(value ?? null).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

const FILTERS: Readonly<Record<string, (value: string | undefined) => string>> = {
  /** A complete JSON value, quotes included (null when there is no title). */
  json: jsonValue,
  /** The inside of a JSON string, for "prefix {{ title | json_escape }}". */
  json_escape: (value) => jsonValue(value ?? "").slice(1, -1),
  url: (value) => encodeURIComponent(value ?? ""),
};

const TAG = /\{\{\s*(.*?)\s*\}\}/g;

/** Every {{ … }} tag's variable and filters, or the first problem found. */
export function parseTags(template: string): { name: keyof TemplateVars; filters: string[] }[] | string {
  const tags: { name: keyof TemplateVars; filters: string[] }[] = [];
  for (const m of template.matchAll(TAG)) {
    const [name = "", ...filters] = m[1]!.split("|").map((s) => s.trim());
    if (!(VARIABLES as readonly string[]).includes(name)) {
      return `unknown variable "${name}" in ${m[0]} (known: ${VARIABLES.join(", ")})`;
    }
    const bad = filters.find((f) => !Object.hasOwn(FILTERS, f));
    if (bad !== undefined) return `unknown filter "${bad}" in ${m[0]} (known: ${Object.keys(FILTERS).join(", ")})`;
    tags.push({ name: name as keyof TemplateVars, filters });
  }
  if (template.replace(TAG, "").includes("{{")) return 'a "{{" has no matching "}}"';
  return tags;
}

/** Plain {{ x }} inserts raw text; in a URL every substitution is percent-encoded unless it already ends in `url`. */
export function renderTemplate(template: string, vars: TemplateVars, inUrl = false): string {
  return template.replace(TAG, (_all, expr: string) => {
    const [name, ...filters] = expr.split("|").map((s) => s.trim());
    if (inUrl && filters.at(-1) !== "url") filters.push("url");
    let value: string | undefined = vars[name as keyof TemplateVars];
    for (const f of filters) value = FILTERS[f]!(value);
    return value ?? "";
  });
}
