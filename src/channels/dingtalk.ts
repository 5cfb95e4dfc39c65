import * as v from "valibot";
import type { ChannelDef, HttpRequest, PartContext } from "../core/types.ts";
import {
  markdown,
  merged,
  byteLength,
  classifyByCode,
  commonFields,
  httpUrl,
  postJson,
  stringList,
  truncateChars,
  webhookIdentity,
  withKeyword,
  type CodeTable,
} from "./_common.ts";
import { dingtalkSign } from "./_sign.ts";

// DingTalk custom robot: https://open.dingtalk.com/document/orgapp/custom-robot-access
// Signing: https://open.dingtalk.com/document/robots/customize-robot-security-settings
// Error codes: https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages
const DOCS = "https://open.dingtalk.com/document/orgapp/custom-robot-access";
/** Whole request body, UTF-8 bytes (stated by error 460101: "exceed 20000 bytes"). */
const MAX_BODY_BYTES = 20_000;
const RATE = ["20/min"];
/** Going over 20/min throttles the robot for 10 minutes; retrying sooner only fails again. */
const THROTTLE_MS = 600_000;
/** The notification preview shows a short title; longer ones are cut by the client anyway. */
const TITLE_MAX = 64;

const CODES: CodeTable = {
  codeFields: ["errcode"],
  messageFields: ["errmsg"],
  rows: {
    [-1]: { kind: "retryable" },
    130101: { kind: "rate_limited", retryAfterMs: THROTTLE_MS },
    410100: { kind: "rate_limited", retryAfterMs: THROTTLE_MS },
    // One code for a missing keyword, a bad signature, a skewed clock and the IP whitelist: errmsg tells which.
    310000: { kind: "permanent", hint: "check `keyword`, the SEC secret, the IP whitelist and this machine's clock" },
    300001: { kind: "permanent", hint: "check the access_token" },
    400013: { kind: "permanent", hint: "the group was dissolved" },
    400102: { kind: "permanent", hint: "the robot is disabled" },
    400106: { kind: "permanent", hint: "the robot does not exist" },
    460101: { kind: "permanent" },
    101002: { kind: "permanent" },
  },
};

const schema = v.strictObject({
  type: v.literal("dingtalk"),
  webhook: httpUrl,
  /** The robot's 加签 secret. */
  secret: v.optional(v.pipe(v.string(), v.startsWith("SEC", 'must start with "SEC" (the robot\'s signing secret)'))),
  at_mobiles: v.optional(stringList),
  at_user_ids: v.optional(stringList),
  at_all: v.optional(v.boolean(), false),
  /** One of the robot's keywords, added to messages that do not contain it. */
  keyword: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  ...commonFields,
});
export type DingtalkOptions = v.InferOutput<typeof schema>;

/**
 * markdown.title is required; without a title, the first line of the text stands in. A split message's
 * parts start with a bare "(2/3)" line, which then follows the first real line instead.
 */
function previewTitle(part: string): string {
  const lines = part.split("\n").filter((l) => l.trim() !== "");
  const marker = /^\(\d+\/\d+\)$/.test(lines[0]?.trim() ?? "") ? ` ${lines.shift()!.trim()}` : "";
  const plain = (lines[0] ?? "")
    .replace(/^[\s#>*+-]+/, "")
    .replace(/[*`]|(?<!\w)_|_(?!\w)/g, "")
    .trim();
  return truncateChars(plain || "pp", TITLE_MAX - marker.length) + marker;
}

function build(part: string, ctx: PartContext, o: DingtalkOptions): HttpRequest {
  const markdown = ctx.format === "markdown";
  // Mentions ride on the first part only, so a split message pings once; --at adds to the configured ones.
  const first = ctx.index === 0;
  const mobiles = first ? merged(o.at_mobiles, ctx.at?.phones ?? []) : [];
  const userIds = first ? merged(o.at_user_ids, ctx.at?.users ?? []) : [];
  const atAll = first && (o.at_all || ctx.at?.all === true);
  const names = [...mobiles, ...userIds];
  // A single newline is not a line break in DingTalk markdown.
  const nl = markdown ? "\n\n" : "\n";
  let text = ctx.title === undefined ? part : markdown ? `#### ${ctx.title}${nl}${part}` : `${ctx.title}\n${part}`;
  // A mention is highlighted only when @<mobile> / @<userid> also appears in the content.
  if (names.length > 0) text += `${nl}${names.map((n) => `@${n}`).join(" ")}`;
  text = withKeyword(text, o.keyword, "", nl);
  const payload: Record<string, unknown> = markdown
    ? { msgtype: "markdown", markdown: { title: ctx.title ?? previewTitle(part), text } }
    : { msgtype: "text", text: { content: text } };
  if (names.length > 0 || atAll) payload.at = { atMobiles: mobiles, atUserIds: userIds, isAtAll: atAll };
  let url = o.webhook;
  if (o.secret) {
    url += `${url.includes("?") ? "&" : "?"}timestamp=${ctx.now}&sign=${dingtalkSign(o.secret, ctx.now)}`;
  }
  return postJson(url, payload);
}

const dingtalk: ChannelDef<DingtalkOptions> = {
  type: "dingtalk",
  label: "DingTalk custom robot",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_BODY_BYTES, unit: "bytes", scope: "body" }),
  measure: (req) => byteLength(req.body ?? ""),
  render: (text, format) => (format === "markdown" ? markdown().toDingtalk(text) : text),
  build,
  // Phones, user ids and everyone, in text and markdown alike.
  mentions: () => undefined,
  classify: (res) => classifyByCode(res, CODES),
  ...webhookIdentity<DingtalkOptions>(["robot", "send"], ["timestamp", "sign"]),
};

export default dingtalk;
