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

// Pushing messages: https://gotify.net/docs/pushmsg ; extras: https://gotify.net/docs/msgextras
const DOCS = "https://gotify.net/docs/pushmsg";
/** Gotify documents neither a size nor a rate limit. */
const RATE: string[] = [];

const schema = v.strictObject({
  type: v.literal("gotify"),
  server: httpUrl,
  /** An application token (not a client token): only those may push. */
  token: v.pipe(v.string(), v.minLength(1, "must not be empty")),
  /** 0 = no notification, 1-3 quiet, 4-7 with sound, 8-10 pop-up on Android; the app's default when left out. */
  priority: v.optional(v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(0, "must be 0 or more"), v.maxValue(10, "must be 10 or less"))),
  ...commonFields,
});
export type GotifyOptions = v.InferOutput<typeof schema>;

function messageUrl(o: GotifyOptions): string {
  return `${o.server.replace(/\/+$/, "")}/message`;
}

/** The token goes in a header: in the query (?token=) it would land in every proxy's access log. */
function build(part: string, ctx: PartContext, o: GotifyOptions): HttpRequest {
  const payload: Record<string, unknown> = { message: part };
  if (ctx.title !== undefined) payload.title = ctx.title;
  if (o.priority !== undefined) payload.priority = o.priority;
  // Clients render Markdown only when the message says so; plain text is the default.
  if (ctx.format === "markdown") payload.extras = { "client::display": { contentType: "text/markdown" } };
  const req = postJson(messageUrl(o), payload);
  req.headers["X-Gotify-Key"] = o.token;
  return req;
}

/** Failures are {"error":"Unauthorized","errorCode":401,"errorDescription":"…"}. */
function classify(res: HttpResponse): Outcome {
  const json = parseJson(res.body) as { id?: unknown; error?: unknown; errorCode?: unknown; errorDescription?: unknown } | undefined;
  if (res.status >= 200 && res.status < 300) return typeof json?.id === "number" ? { kind: "ok" } : unexpected(res);
  const http = classifyHttp(res);
  if (typeof json?.error !== "string") return http;
  const detail = typeof json.errorDescription === "string" && json.errorDescription !== "" ? `: ${json.errorDescription}` : "";
  const hint = res.status === 401 || res.status === 403 ? " (check token: it must be an application token)" : "";
  return { ...http, code: typeof json.errorCode === "number" ? json.errorCode : res.status, error: errorText(`${json.error}${detail}`) + hint };
}

const gotify: ChannelDef<GotifyOptions> = {
  type: "gotify",
  label: "Gotify server",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: Infinity, unit: "bytes", scope: "content" }),
  measure: (req) => byteLength(bodyJson(req.body).message),
  render: (text) => text,
  verbatim: true,
  build,
  classify,
  secrets: (o) => [o.token, ...apiSecrets(o.server)],
  // A path before /message (a relay's may be secret), credentials and query values are hidden.
  target: (o, url = messageUrl(o)) => showUrl(url, ["message"]),
  rateKey: (o) => rateKeyOf("gotify", `${messageUrl(o)}\n${o.token}`),
};

export default gotify;
