import * as v from "valibot";
import { apiBase, apiSecrets } from "./_api.ts";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  bodyJson,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  parseJson,
  postJson,
  rateKeyOf,
  retryAfterMs,
  showUrl,
  truncateChars,
} from "./_common.ts";

// Pushover Message API: https://pushover.net/api (limits: "Message limitations"; HTML: "HTML Messages";
// errors and quota headers: "Being Friendly to our API").
const DOCS = "https://pushover.net/api";
const API = "https://api.pushover.net";
const MESSAGE_MAX = 1024;
const TITLE_MAX = 250;
/** Emergency priority needs a retry interval (at least 30 s) and an expiry (at most 3 hours). */
const EMERGENCY = { retry: 60, expire: 3600 };
/** Pushover asks clients to wait at least 5 seconds after a 5xx. */
const SERVER_ERROR_WAIT_MS = 5000;

const schema = v.strictObject({
  type: v.literal("pushover"),
  /** The application's API token. */
  token: v.pipe(v.string(), v.minLength(1, "must not be empty")),
  /** The user or group key. */
  user: v.pipe(v.string(), v.minLength(1, "must not be empty")),
  /** Device name(s), comma-separated; default all of the user's devices. */
  device: v.optional(v.string()),
  priority: v.optional(v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(-2, "must be -2 to 2"), v.maxValue(2, "must be -2 to 2"))),
  sound: v.optional(v.string()),
  /** The API's base URL, for a relay or a test server. */
  api: v.optional(httpUrl),
  ...commonFields,
});
export type PushoverOptions = v.InferOutput<typeof schema>;

function endpoint(o: PushoverOptions): string {
  return `${apiBase(o.api, API)}/1/messages.json`;
}

function build(part: string, ctx: PartContext, o: PushoverOptions): HttpRequest {
  const body: Record<string, unknown> = { token: o.token, user: o.user, message: part };
  if (ctx.title !== undefined) body.title = truncateChars(ctx.title, TITLE_MAX);
  // Markdown is rendered to Pushover's HTML subset, which it shows only when asked to.
  if (ctx.format === "markdown") body.html = 1;
  if (o.device) body.device = o.device;
  if (o.sound) body.sound = o.sound;
  if (o.priority !== undefined) {
    body.priority = o.priority;
    if (o.priority === 2) Object.assign(body, EMERGENCY);
  }
  return postJson(endpoint(o), body);
}

/**
 * {"status":1} is success; {"status":0,"errors":[…]} with a 4xx is a refusal not to be repeated; 429 is the
 * app's monthly quota used up. Every answer carries the quota: when none is left, the wait until it resets is
 * announced, so no pp process asks in vain.
 */
function classify(res: HttpResponse): Outcome {
  const json = parseJson(res.body) as { status?: unknown; errors?: unknown } | undefined;
  const errors = Array.isArray(json?.errors) ? json.errors.filter((e): e is string => typeof e === "string").map(errorText) : [];
  const error = errors.length > 0 ? errors.join("; ") : undefined;
  if (res.status === 429) {
    const wait = quotaReset(res) ?? retryAfterMs(res.headers);
    return { kind: "rate_limited", code: 429, error: error ?? "the application's monthly message quota is used up", ...(wait === undefined ? {} : { retryAfterMs: wait }) };
  }
  if (res.status >= 500) return { kind: "retryable", code: res.status, error: error ?? `HTTP ${res.status}`, retryAfterMs: SERVER_ERROR_WAIT_MS };
  if (res.status >= 200 && res.status < 300) {
    if (json?.status !== 1) return { kind: "permanent", code: res.status, error: error ?? `unexpected response: ${errorText(res.body)}` };
    const remaining = Number(res.headers.get("x-limit-app-remaining") ?? NaN);
    const wait = remaining === 0 ? quotaReset(res) : undefined;
    return wait === undefined ? { kind: "ok" } : { kind: "ok", retryAfterMs: wait };
  }
  const http = classifyHttp(res);
  return error ? { ...http, error } : http;
}

/** X-Limit-App-Reset (Unix seconds) as a wait from now. */
function quotaReset(res: HttpResponse, now = Date.now()): number | undefined {
  const at = Number(res.headers.get("x-limit-app-reset") ?? NaN);
  return Number.isFinite(at) && at * 1000 > now ? at * 1000 - now : undefined;
}

const pushover: ChannelDef<PushoverOptions> = {
  type: "pushover",
  label: "Pushover",
  schema,
  // The quota is monthly per application; Pushover asks for no per-second limit, only no needless repeats.
  rate: [],
  docs: DOCS,
  limit: () => ({ max: MESSAGE_MAX, unit: "chars", scope: "content" }),
  measure: (req) => bodyJson(req.body).message.length,
  render: (text, format) => (format === "markdown" ? markdown().toPushover(text) : text),
  build,
  classify,
  secrets: (o) => [o.token, o.user, ...apiSecrets(o.api)],
  target: (o) => `${showUrl(endpoint(o), ["1", "messages.json"])} (user ***${o.device ? `, device ${o.device}` : ""})`,
  // The quota belongs to the application: every user it sends to shares it.
  rateKey: (o) => rateKeyOf("pushover", o.token),
};

export default pushover;
