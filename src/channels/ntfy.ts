import * as v from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  bodyJson,
  byteLength,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  parseJson,
  postJson,
  rateKeyOf,
  showUrl,
  unexpected,
} from "./_common.ts";
import { apiSecrets } from "./_api.ts";

// Publishing as JSON: https://docs.ntfy.sh/publish/#publish-as-json
// Limits: https://docs.ntfy.sh/publish/#limitations ; error codes: server/errors.go in binwiederhier/ntfy
const DOCS = "https://docs.ntfy.sh/publish/#publish-as-json";
const DEFAULT_SERVER = "https://ntfy.sh";
/** "message-size-limit" defaults to 4096 bytes; a longer message is turned into an attachment, or refused. */
const MAX_BYTES = 4096;
/**
 * A visitor gets a bucket of 60 requests refilled one per 5 s. 12 a minute in any minute never empties a full
 * bucket, and is the refill rate. ntfy.sh's daily quota for anonymous users (250) is not modelled.
 */
const RATE = ["12/min"];
const REFILL_MS = 5000;
const PRIORITIES: Readonly<Record<string, number>> = { min: 1, low: 2, default: 3, high: 4, max: 5, urgent: 5 };

const schema = v.pipe(
  v.strictObject({
    type: v.literal("ntfy"),
    topic: v.pipe(v.string(), v.regex(/^[-_A-Za-z0-9]{1,64}$/, "must be 1 to 64 letters, digits, '-' or '_'")),
    server: v.optional(httpUrl, DEFAULT_SERVER),
    /** An access token (tk_…), sent as Bearer. */
    token: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
    user: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
    password: v.optional(v.string()),
    priority: v.optional(
      v.union(
        [v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5)), v.picklist(Object.keys(PRIORITIES))],
        "must be 1 to 5 or one of min, low, default, high, max, urgent",
      ),
    ),
    // `tags` comes with commonFields: ntfy shows them on the message (emoji short codes as emojis), and pp routes by them.
    ...commonFields,
  }),
  v.forward(
    v.check((o) => (o.user === undefined) === (o.password === undefined), "user and password go together: set both or neither"),
    ["password"],
  ),
  v.forward(v.check((o) => o.token === undefined || o.user === undefined, "set token or user and password, not both"), ["token"]),
);
export type NtfyOptions = v.InferOutput<typeof schema>;

function base(o: NtfyOptions): string {
  return o.server.replace(/\/+$/, "");
}

function basic(o: NtfyOptions): string | undefined {
  return o.user === undefined ? undefined : Buffer.from(`${o.user}:${o.password ?? ""}`).toString("base64");
}

/**
 * JSON publishing carries the title and tags in the body as UTF-8: as headers, non-ASCII text would need
 * RFC 2047 encoding, which some proxies mangle.
 */
function build(part: string, ctx: PartContext, o: NtfyOptions): HttpRequest {
  const payload: Record<string, unknown> = { topic: o.topic, message: part };
  if (ctx.title !== undefined) payload.title = ctx.title;
  if (o.priority !== undefined) payload.priority = typeof o.priority === "number" ? o.priority : PRIORITIES[o.priority];
  if (o.tags !== undefined && o.tags.length > 0) payload.tags = o.tags;
  if (ctx.format === "markdown") payload.markdown = true;
  const req = postJson(`${base(o)}/`, payload);
  if (o.token !== undefined) req.headers.Authorization = `Bearer ${o.token}`;
  else if (o.user !== undefined) req.headers.Authorization = `Basic ${basic(o)}`;
  return req;
}

/** Failures are {"code":42901,"http":429,"error":"limit reached: too many requests","link":"…"}. */
const HINTS: Readonly<Record<number, string>> = {
  40101: "check token, or user and password",
  40301: "this user or token may not publish to the topic",
  42904: "the server's limit of topics is reached; ask its admin, or use another server",
  42908: "the daily message quota is used up; it resets tomorrow, or use an account or a server of your own",
};

/** Limits that waiting a few seconds does not lift: the server's topic count, a visitor's daily message quota. */
const LASTING = new Set([42904, 42908]);

function classify(res: HttpResponse): Outcome {
  const json = parseJson(res.body) as { id?: unknown; code?: unknown; error?: unknown } | undefined;
  if (res.status >= 200 && res.status < 300) return typeof json?.id === "string" ? { kind: "ok" } : unexpected(res);
  const http = classifyHttp(res);
  if (typeof json?.error !== "string") return http;
  const code = typeof json.code === "number" ? json.code : res.status;
  const hint = HINTS[code];
  const error = errorText(json.error);
  const out: Outcome = { ...http, ...(LASTING.has(code) ? { kind: "permanent", retryAfterMs: undefined } : {}), code, error: hint ? `${error} (${hint})` : error };
  // ntfy sends no Retry-After; its bucket gains one request every 5 s.
  if (out.kind === "rate_limited" && out.retryAfterMs === undefined && code === 42901) out.retryAfterMs = REFILL_MS;
  return out;
}

/** Without a token or password the topic name is all that keeps others from reading or writing it. */
const topicIsSecret = (o: NtfyOptions) => o.token === undefined && o.user === undefined;

/** The server's own path is hidden (a relay's may be secret), and so is the topic when it is the secret. */
function target(o: NtfyOptions, url: string = `${base(o)}/${o.topic}`): string {
  return showUrl(url, topicIsSecret(o) ? [] : [o.topic]);
}

function secrets(o: NtfyOptions): string[] {
  const out: string[] = [];
  if (o.token !== undefined) out.push(o.token);
  if (o.password) out.push(o.password);
  const b = basic(o);
  if (b !== undefined) out.push(b);
  if (topicIsSecret(o)) out.push(o.topic);
  out.push(...apiSecrets(o.server));
  return out;
}

const ntfy: ChannelDef<NtfyOptions> = {
  type: "ntfy",
  label: "ntfy topic",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_BYTES, unit: "bytes", scope: "content" }),
  measure: (req) => byteLength(bodyJson(req.body).message),
  // ntfy shows the message as written, and renders it as Markdown when the message says so.
  render: (text) => text,
  verbatim: true,
  build,
  classify,
  secrets,
  target,
  // ntfy limits each visitor (an address, or a user when authenticated), not each topic.
  rateKey: (o) => rateKeyOf("ntfy", `${base(o)}\n${o.token ?? o.user ?? ""}`),
};

export default ntfy;
