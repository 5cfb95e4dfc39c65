import * as v from "valibot";
import { apiBase, apiSecrets } from "./_api.ts";
import type { ChannelDef, Format, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  bodyJson,
  classifyByCode,
  commonFields,
  httpUrl,
  parseJson,
  postJson,
  rateKeyOf,
  showUrl,
  truncateChars,
  type CodeTable,
} from "./_common.ts";

// PushPlus (推送加): https://www.pushplus.plus/doc ; return codes: http://api.pushplus.plus/doc-3034446
const DOCS = "https://www.pushplus.plus/doc";
const API = "https://www.pushplus.plus";
/** The title is cut here (a third-party schema of the API says 100; the docs are silent). */
const TITLE_MAX = 100;
/** The docs state no content limit; this is a conservative assumption, so a long message is split rather than refused. */
const MAX_CHARS = 20_000;
/** More than 200 requests in a day gets the account blocked for days (PushPlus's docs). */
const RATE = ["200/d"];
/** Code 900 says nothing of how long: pp stops asking for as long as the core allows a platform to block. */
const BANNED_MS = 15 * 60_000;

const CODES: CodeTable = {
  codeFields: ["code"],
  messageFields: ["msg", "message"],
  rows: {
    302: { kind: "permanent", hint: "not logged in: check the token" },
    401: { kind: "permanent", hint: "unauthorised: check the token" },
    403: { kind: "permanent", hint: "this machine's IP address is not in the token's whitelist" },
    500: { kind: "retryable" },
    600: { kind: "permanent", hint: "PushPlus refused the data" },
    805: { kind: "permanent", hint: "no permission for this channel or topic" },
    888: { kind: "permanent", hint: "the account has too few credits" },
    900: { kind: "rate_limited", retryAfterMs: BANNED_MS, hint: "PushPlus restricts an account that sends too much (over 200 a day): stop sending for a day" },
    903: { kind: "permanent", hint: "the token is invalid" },
    905: { kind: "permanent", hint: "the account is not real-name verified" },
    999: { kind: "permanent", hint: "PushPlus refused the request" },
  },
};

const TEMPLATES = ["html", "txt", "json", "markdown", "cloudMonitor", "jenkins", "route", "pay"] as const;

const schema = v.strictObject({
  type: v.literal("pushplus"),
  token: v.pipe(v.string(), v.minLength(1, "must not be empty")),
  /** A group code: the message goes to the group's members instead of only the token's owner. */
  topic: v.optional(v.string()),
  channel: v.optional(v.picklist(["wechat", "webhook", "cp", "mail"], 'must be "wechat", "webhook", "cp" or "mail"')),
  /** The webhook or WeCom-app code set up in PushPlus, for channel "webhook" and "cp". */
  option: v.optional(v.string()),
  /** Default: "markdown" for Markdown messages, "txt" for plain text. */
  template: v.optional(v.picklist(TEMPLATES, `must be one of ${TEMPLATES.join(", ")}`)),
  /** The API's base URL, for a relay or a test server. */
  api: v.optional(httpUrl),
  ...commonFields,
});
export type PushplusOptions = v.InferOutput<typeof schema>;

function template(format: Format, o: PushplusOptions): (typeof TEMPLATES)[number] {
  return o.template ?? (format === "markdown" ? "markdown" : "txt");
}

/** What the template shows: Markdown as written, HTML made from Markdown (or escaped text), or plain text. */
function render(text: string, format: Format, o: PushplusOptions): string {
  const t = template(format, o);
  if (t === "html") {
    const html = format === "markdown" ? markdown().toPushover(text) : text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
    // In HTML a line break is white space: without <br> every line of the message would run into the next.
    return html.replaceAll("\n", "<br>\n");
  }
  if (t === "txt" && format === "markdown") return markdown().toPlain(text);
  return text;
}

function endpoint(o: PushplusOptions): string {
  return `${apiBase(o.api, API)}/send`;
}

function build(part: string, ctx: PartContext, o: PushplusOptions): HttpRequest {
  const body: Record<string, unknown> = { token: o.token, content: part, template: template(ctx.format, o) };
  if (ctx.title !== undefined) body.title = truncateChars(ctx.title, TITLE_MAX);
  if (o.topic) body.topic = o.topic;
  if (o.channel) body.channel = o.channel;
  if (o.option) body.option = o.option;
  return postJson(endpoint(o), body);
}

/** PushPlus answers HTTP 200 with its own code: 200 is success, anything else a refusal. */
function classify(res: HttpResponse): Outcome {
  const json = parseJson(res.body) as { code?: unknown } | undefined;
  if (res.status >= 200 && res.status < 300 && json?.code === 200) return { kind: "ok" };
  return classifyByCode(res, CODES);
}

const pushplus: ChannelDef<PushplusOptions> = {
  type: "pushplus",
  label: "PushPlus (推送加)",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_CHARS, unit: "chars", scope: "content" }),
  measure: (req) => bodyJson(req.body).content.length,
  render,
  build,
  classify,
  // The token travels in the body; the URL holds a secret only when `api` points at a relay that has one.
  secrets: (o) => [o.token, ...apiSecrets(o.api)],
  target: (o) => `${showUrl(endpoint(o), ["send"])} (token ***${o.topic ? `, topic ${o.topic}` : ""})`,
  rateKey: (o) => rateKeyOf("pushplus", o.token),
};

export default pushplus;
