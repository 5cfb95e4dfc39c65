import * as v from "valibot";
import type { ChannelDef, Format, HttpRequest, Mentions, PartContext } from "../core/types.ts";
import {
  markdown,
  merged,
  unsupported,
  words,
  bodyJson,
  byteLength,
  classifyByCode,
  commonFields,
  httpUrl,
  postJson,
  stringList,
  webhookIdentity,
  type CodeTable,
} from "./_common.ts";

// WeCom group robot ("消息推送"): https://developer.work.weixin.qq.com/document/path/91770
// Error codes: https://developer.work.weixin.qq.com/document/path/90313
const DOCS = "https://developer.work.weixin.qq.com/document/path/91770";
/** UTF-8 bytes of the `content` field, per message type. */
const MAX_BYTES = { text: 2048, markdown: 4096 } as const;
const RATE = ["20/min"];
const RATE_WINDOW_MS = 60_000;

/** The codes every WeCom API answers with (error codes page): the group robot's and the application's alike. */
export const WECOM_ROWS: CodeTable["rows"] = {
  [-1]: { kind: "retryable" },
  45009: { kind: "rate_limited", retryAfterMs: RATE_WINDOW_MS },
  // "api concurrent out of limit": too many calls at once (several pp processes), gone a moment later.
  45033: { kind: "retryable" },
  40058: { kind: "permanent" },
  44004: { kind: "permanent" },
  40008: { kind: "permanent" },
};

const CODES: CodeTable = {
  codeFields: ["errcode"],
  messageFields: ["errmsg"],
  rows: {
    ...WECOM_ROWS,
    93000: { kind: "permanent", hint: "check the webhook key; the robot may have been removed from the group" },
    93004: { kind: "permanent", hint: "the robot is disabled" },
    93008: { kind: "permanent", hint: "the robot is not in the group" },
    45002: { kind: "permanent" },
  },
};

const schema = v.strictObject({
  type: v.literal("wecom"),
  webhook: httpUrl,
  /** userids, or "@all"; the text message type only. */
  mentioned_list: v.optional(stringList),
  /** Phone numbers, or "@all"; the text message type only. */
  mentioned_mobile_list: v.optional(stringList),
  /** v2 adds lists, tables and code blocks but has no mentions and needs WeCom 4.1.36 or newer. */
  markdown: v.optional(v.picklist(["v1", "v2"]), "v1"),
  ...commonFields,
});
export type WecomOptions = v.InferOutput<typeof schema>;

function msgtype(format: string, o: WecomOptions): "text" | "markdown" | "markdown_v2" {
  if (format !== "markdown") return "text";
  return o.markdown === "v2" ? "markdown_v2" : "markdown";
}

/** The configured mention lists with the message's own (--at) added: "all" is WeCom's "@all". */
function mentionLists(o: WecomOptions, at: Mentions | undefined): { users: string[]; phones: string[] } {
  return {
    users: merged(o.mentioned_list, at ? [...at.users, ...(at.all ? ["@all"] : [])] : []),
    phones: merged(o.mentioned_mobile_list, at?.phones ?? []),
  };
}

/**
 * Mentions go on the first part only, so a split message pings once. The mention arrays work only with
 * the text type; v1 markdown can still name userids inline as <@userid>, but neither markdown version can
 * reach "@all" or phone numbers, so those apply to text messages only (documented limitation of WeCom).
 * A markdown message stays markdown rather than turning into text: its formatting is what was asked for,
 * and pp says which mentions it leaves out (mentions below).
 */
function build(part: string, ctx: PartContext, o: WecomOptions): HttpRequest {
  const type = msgtype(ctx.format, o);
  const first = ctx.index === 0;
  const lists = first ? mentionLists(o, ctx.at) : { users: [], phones: [] };
  if (type === "text") {
    const text: Record<string, unknown> = { content: ctx.title === undefined ? part : `${ctx.title}\n${part}` };
    if (lists.users.length) text.mentioned_list = lists.users;
    if (lists.phones.length) text.mentioned_mobile_list = lists.phones;
    return postJson(o.webhook, { msgtype: type, text });
  }
  let content = ctx.title === undefined ? part : `# ${ctx.title}\n${part}`;
  const inline = type === "markdown" ? lists.users.filter((id) => id !== "@all") : [];
  if (inline.length > 0) content += `\n${inline.map((id) => `<@${id}>`).join(" ")}`;
  return postJson(o.webhook, { msgtype: type, [type]: { content } });
}

const wecom: ChannelDef<WecomOptions> = {
  type: "wecom",
  label: "WeCom group robot",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: (_o, ctx) => ({
    max: ctx.format === "markdown" ? MAX_BYTES.markdown : MAX_BYTES.text,
    unit: "bytes",
    scope: "content",
  }),
  measure(req) {
    const body = bodyJson(req.body);
    return byteLength(body[body.msgtype].content);
  },
  render: (text, format, o) => (format === "markdown" ? markdown().toWecom(text, o.markdown) : text),
  build,
  mentions(at: Mentions, format: Format, o: WecomOptions) {
    const type = msgtype(format, o);
    if (type === "text") return undefined;
    const left = unsupported(at, { users: type === "markdown" });
    if (left.length === 0) return undefined;
    const how = type === "markdown" ? "WeCom markdown mentions only user ids" : "WeCom markdown_v2 has no mentions";
    return `${how}; not mentioned: ${words(left)} (send with --format text to mention them)`;
  },
  classify: (res) => classifyByCode(res, CODES),
  ...webhookIdentity<WecomOptions>(["cgi-bin", "webhook", "send"]),
};

export default wecom;
