import * as v from "valibot";
import { apiBase, apiSecrets } from "./_api.ts";
import { firstLine } from "./_title.ts";
import type { ChannelDef, Format, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import { markdown, bodyJson, byteLength, classifyByCode, commonFields, httpUrl, postJson, rateKeyOf, showUrl, truncateChars, type CodeTable } from "./_common.ts";

// ServerChan (Server酱) Turbo: https://sct.ftqq.com ; Server酱³ (sctp keys) and the answers of both
// ({"code":0,...} on success): the official SDK, https://github.com/easychen/serverchan-sdk
const DOCS = "https://sct.ftqq.com";
const TURBO = "https://sctapi.ftqq.com";
/** `title` is required and cut at 32 characters; `desp` (Markdown) at 32 KB. */
const TITLE_MAX = 32;
const DESP_MAX_BYTES = 32_000;

const CODES: CodeTable = {
  codeFields: ["code"],
  messageFields: ["message", "info", "msg"],
  rows: {
    // Also the daily quota ("超过当天的发送次数限制"): asking again today cannot help.
    40001: { kind: "permanent", hint: "check the SendKey, and the day's quota of your ServerChan plan" },
  },
};

/** sctp<uid>t… is a Server酱³ key, whose host carries the uid; any other (SCT…) a Turbo key. */
const SC3_KEY = /^sctp(\d+)t[0-9A-Za-z]+$/;

const schema = v.strictObject({
  type: v.literal("serverchan"),
  sendkey: v.pipe(
    v.string(),
    v.check((k) => /^[0-9A-Za-z]+$/.test(k), "must be a SendKey: SCT… (Turbo) or sctp<number>t… (Server酱³), letters and digits only"),
    // The first Server酱 (sc.ftqq.com, SCU… keys) is gone; its keys are refused by Turbo as unknown.
    v.check((k) => !/^SCU/.test(k), "is an SCU… key of the retired Server酱: get a Turbo SendKey (SCT…) at https://sct.ftqq.com"),
  ),
  /** The API's base URL, for a relay or a test server. */
  api: v.optional(httpUrl),
  ...commonFields,
});
export type ServerchanOptions = v.InferOutput<typeof schema>;

/** The send URL of either kind of key; `api` replaces the scheme and host. `shown`: as every output shows it. */
function endpoint(o: ServerchanOptions, shown = false): string {
  const sc3 = SC3_KEY.exec(o.sendkey);
  let base = apiBase(o.api, sc3 ? `https://${sc3[1]}.push.ft07.com` : TURBO);
  // A relay's path may hold its own credential.
  if (shown && o.api !== undefined) base = showUrl(base, []).replace(/\/$/, "");
  const key = shown ? "***" : o.sendkey;
  return sc3 ? `${base}/send/${key}.send` : `${base}/${key}.send`;
}

/**
 * desp is always shown as Markdown: plain text has its Markdown characters escaped and each line break made a
 * hard break ("  " before it), or a multi-line alert would run together into one paragraph.
 */
function render(text: string, format: Format): string {
  if (format === "markdown") return text;
  return text
    .split("\n")
    .map((line) => line.replace(/[\\`*_[\]<>#|~!]/g, "\\$&").replace(/^(\s*)([-+=])/, "$1\\$2").replace(/^(\s*\d+)([.)])/, "$1\\$2"))
    .join("  \n");
}

/** The text a plain-text part was before render() escaped it. */
function unrender(part: string): string {
  return part.replace(/ {2}\n/g, "\n").replace(/\\([\\`*_[\]<>#|~!+=.)-])/g, "$1");
}

function build(part: string, ctx: PartContext, o: ServerchanOptions): HttpRequest {
  // The title is required: without one, the first line of the text stands in.
  const derived = firstLine(ctx.format === "markdown" ? markdown().toPlain(part) : unrender(part), TITLE_MAX);
  const title = ctx.title === undefined ? derived : truncateChars(ctx.title, TITLE_MAX);
  return postJson(endpoint(o), { title: title === "" ? "pp" : title, desp: part });
}

function classify(res: HttpResponse): Outcome {
  return classifyByCode(res, CODES);
}

const serverchan: ChannelDef<ServerchanOptions> = {
  type: "serverchan",
  label: "ServerChan (Server酱)",
  schema,
  // Quotas are per day and per plan (5 a day on the free one): the platform's refusal says when it is used up.
  rate: [],
  docs: DOCS,
  limit: () => ({ max: DESP_MAX_BYTES, unit: "bytes", scope: "content" }),
  measure: (req) => byteLength(bodyJson(req.body).desp),
  render,
  build,
  classify,
  secrets: (o) => [o.sendkey, ...apiSecrets(o.api)],
  target: (o) => endpoint(o, true),
  rateKey: (o) => rateKeyOf("serverchan", o.sendkey),
};

export default serverchan;
