import * as v from "valibot";
import { apiBase, apiSecrets } from "./_api.ts";
import type { ChannelAuth, ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  bodyJson,
  byteLength,
  classifyByCode,
  commonFields,
  errorText,
  httpUrl,
  JSON_HEADERS,
  parseJson,
  postJson,
  rateKeyOf,
  showUrl,
  type CodeTable,
} from "./_common.ts";
import { WECOM_ROWS } from "./wecom.ts";

// WeCom (企业微信) application messages: https://developer.work.weixin.qq.com/document/path/90236 (message/send),
// /91039 (gettoken), /90313 (error codes), /90312 (frequency limits).
const DOCS = "https://developer.work.weixin.qq.com/document/path/90236";
const API = "https://qyapi.weixin.qq.com";
const SEND_PATH = ["cgi-bin", "message", "send"];
/** UTF-8 bytes of `text.content` and of `markdown.content`. */
const MAX_BYTES = 2048;
/**
 * Each member receives at most 30 messages a minute and 1000 an hour from an application; WeCom drops the excess
 * without an error, so pp keeps to it rather than find out.
 */
const RATE = ["30/min", "1000/h"];
/** Invalid or expired access token: the core fetches a new one and sends again once (ChannelAuth.invalid). */
const TOKEN_CODES = new Set([40014, 42001, 42009]);

const CODES: CodeTable = {
  codeFields: ["errcode"],
  messageFields: ["errmsg"],
  rows: {
    ...WECOM_ROWS,
    // Still refused after a fresh token: asked again after a pause, with yet another.
    40014: { kind: "retryable" },
    42001: { kind: "retryable" },
    42009: { kind: "retryable" },
    40001: { kind: "permanent", hint: "check the application's secret" },
    40013: { kind: "permanent", hint: "check corp_id" },
    40056: { kind: "permanent", hint: "check agent_id" },
    60011: { kind: "permanent", hint: "the application may not reach these recipients; check its visible range" },
    60020: { kind: "permanent", hint: "add this machine's public IP to the application's trusted IPs (企业可信IP)" },
    81013: { kind: "permanent", hint: "no recipient is valid: check to_user, to_party, to_tag and the application's visible range" },
    82001: { kind: "permanent", hint: "no recipient is valid: check to_user, to_party, to_tag and the application's visible range" },
    48002: { kind: "permanent", hint: "the application may not send messages" },
  },
};

const nonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"));
/** Ids as a list, or as WeCom writes them, joined by "|". */
const ids = v.union([nonEmpty, v.pipe(v.array(nonEmpty), v.minLength(1, "must not be empty"))], 'must be an id, "a|b", or a list of ids');

const schema = v.strictObject({
  type: v.literal("wecom_app"),
  /** The company's CorpID (ww…). */
  corp_id: nonEmpty,
  /** The application's AgentId; a string of digits too, as `${ENV}` gives. */
  agent_id: v.union(
    [v.pipe(v.number(), v.integer(), v.minValue(0)), v.pipe(v.string(), v.regex(/^\d{1,12}$/), v.transform(Number))],
    "must be the application's AgentId, a whole number",
  ),
  /** The application's Secret (a credential). */
  secret: nonEmpty,
  /** User ids, or "@all" (the default when no party or tag is given either). */
  to_user: v.optional(ids),
  /** Department ids. */
  to_party: v.optional(ids),
  /** Tag ids. */
  to_tag: v.optional(ids),
  /** The API's base URL, for a relay or a test server. */
  api: v.optional(httpUrl),
  ...commonFields,
});
export type WecomAppOptions = v.InferOutput<typeof schema>;

const joined = (x: string | string[] | undefined) => (x === undefined ? undefined : Array.isArray(x) ? x.join("|") : x);

/** touser, toparty, totag as WeCom takes them. "@all" makes WeCom ignore parties and tags, so it is only the default. */
function recipients(o: WecomAppOptions): { touser?: string; toparty?: string; totag?: string } {
  const out: { touser?: string; toparty?: string; totag?: string } = {};
  const user = joined(o.to_user) ?? (o.to_party === undefined && o.to_tag === undefined ? "@all" : undefined);
  if (user !== undefined) out.touser = user;
  if (o.to_party !== undefined) out.toparty = joined(o.to_party)!;
  if (o.to_tag !== undefined) out.totag = joined(o.to_tag)!;
  return out;
}

const base = (o: WecomAppOptions) => apiBase(o.api, API);
const endpoint = (o: WecomAppOptions) => `${base(o)}/cgi-bin/message/send`;

/** The title goes first: WeCom application messages have no title field. */
function build(part: string, ctx: PartContext, o: WecomAppOptions): HttpRequest {
  const type = ctx.format === "markdown" ? "markdown" : "text";
  const content = ctx.title === undefined ? part : type === "markdown" ? `# ${ctx.title}\n${part}` : `${ctx.title}\n${part}`;
  // Without a token (planning, --dry-run) the parameter is there, empty: the request is shown as it will go.
  const url = `${endpoint(o)}?access_token=${encodeURIComponent(ctx.token ?? "")}`;
  return postJson(url, { ...recipients(o), msgtype: type, agentid: o.agent_id, [type]: { content } });
}

/** Recipient fields WeCom fills when it could not deliver to some: the message reached the others. */
const MISSED = [
  ["invaliduser", "users"],
  ["invalidparty", "parties"],
  ["invalidtag", "tags"],
  ["unlicenseduser", "unlicensed users"],
] as const;

/**
 * errcode 0 with some recipients invalid is a delivery to the rest: ok, with a warning naming the others, so that
 * it is neither retried nor replayed (those who got it would get it twice) and yet the user learns of it.
 */
function classify(res: HttpResponse): Outcome {
  const outcome = classifyByCode(res, CODES);
  if (outcome.kind !== "ok") return outcome;
  const body = parseJson(res.body) as Record<string, unknown>;
  const missed = MISSED.flatMap(([field, what]) => {
    const value = body[field];
    return typeof value === "string" && value !== "" ? [`${what} ${errorText(value)}`] : Array.isArray(value) && value.length ? [`${what} ${errorText(value.join("|"))}`] : [];
  });
  return missed.length ? { kind: "ok", error: `delivered, but not to ${missed.join(", ")} (unknown, or outside the application's visible range)` } : outcome;
}

/** What identifies a token: the server, the company and the application's secret, hashed. */
const tokenKey = (o: WecomAppOptions) => rateKeyOf("wecom_app", JSON.stringify([base(o), o.corp_id, o.secret]));

const auth: ChannelAuth<WecomAppOptions> = {
  key: tokenKey,
  request: (o) => ({
    method: "GET",
    url: `${base(o)}/cgi-bin/gettoken?corpid=${encodeURIComponent(o.corp_id)}&corpsecret=${encodeURIComponent(o.secret)}`,
    headers: { "User-Agent": JSON_HEADERS["User-Agent"]! },
  }),
  parse(res) {
    const outcome = classifyByCode(res, CODES);
    if (outcome.kind !== "ok") return outcome;
    const body = parseJson(res.body) as { access_token?: unknown; expires_in?: unknown };
    const token = body.access_token;
    const seconds = Number(body.expires_in);
    // The answer is not quoted: it holds the token.
    if (typeof token !== "string" || token === "") return { kind: "permanent", error: "gettoken answered without an access_token" };
    return { token, expiresInMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 7_200_000 };
  },
  invalid: (outcome) => outcome.code !== undefined && TOKEN_CODES.has(Number(outcome.code)),
};

/** Who the messages go to, as shown: ids are not secrets, but a long list is cut. */
function audience(o: WecomAppOptions): string {
  const r = recipients(o);
  const text = [r.touser && (r.touser === "@all" ? "@all" : `user ${r.touser}`), r.toparty && `party ${r.toparty}`, r.totag && `tag ${r.totag}`].filter(Boolean).join(", ");
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

const wecomApp: ChannelDef<WecomAppOptions> = {
  type: "wecom_app",
  label: "WeCom application message",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_BYTES, unit: "bytes", scope: "content" }),
  measure(req) {
    const body = bodyJson(req.body);
    return byteLength(body[body.msgtype].content);
  },
  // WeCom application markdown is the group robot's first dialect.
  render: (text, format) => (format === "markdown" ? markdown().toWecom(text, "v1") : text),
  build,
  auth,
  classify,
  secrets: (o) => [o.secret, ...apiSecrets(o.api)],
  target: (o, url) => (url === undefined ? `${showUrl(endpoint(o), SEND_PATH)} (agent ${o.agent_id}, to ${audience(o)})` : showUrl(url, SEND_PATH)),
  // Limits hold per member; every channel of one application is counted together, which never exceeds them.
  rateKey: (o) => rateKeyOf("wecom_app", JSON.stringify([base(o), o.corp_id, o.agent_id])),
};

export default wecomApp;
