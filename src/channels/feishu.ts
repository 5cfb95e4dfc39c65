import * as v from "valibot";
import type { ChannelDef, HttpRequest, PartContext } from "../core/types.ts";
import {
  markdown,
  unsupported,
  words,
  byteLength,
  classifyByCode,
  commonFields,
  httpUrl,
  postJson,
  webhookIdentity,
  withKeyword,
  type CodeTable,
} from "./_common.ts";
import { feishuSign } from "./_sign.ts";

// Feishu / Lark custom bot: https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
// (Lark: https://open.larksuite.com/document/client-docs/bot-v3/add-custom-bot)
const DOCS = "https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot";
/** Whole request body, UTF-8 bytes ("20 KB": 20 000 is the safe reading). */
const MAX_BODY_BYTES = 20_000;
const RATE = ["5/s", "100/min"];

const CODES: CodeTable = {
  // `StatusCode`/`StatusMessage` are the legacy fields, still sent for old clients.
  codeFields: ["code", "StatusCode"],
  messageFields: ["msg", "StatusMessage"],
  rows: {
    11232: { kind: "rate_limited" },
    9499: { kind: "permanent", hint: "malformed request or body over 20 KB" },
    19001: { kind: "permanent", hint: "check the webhook token" },
    19021: {
      kind: "permanent",
      hint: "check the signing secret, and that this machine's clock is within 1 hour of the real time",
    },
    19022: { kind: "permanent", hint: "this machine's IP is not in the bot's whitelist" },
    19024: { kind: "permanent", hint: "the message lacks the bot's keyword; set `keyword`" },
  },
};

const schema = v.strictObject({
  type: v.literal("feishu"),
  webhook: httpUrl,
  /** The bot's signing secret (签名校验), when signing is enabled. */
  secret: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  at_all: v.optional(v.boolean(), false),
  /** One of the bot's keywords, added to messages that do not contain it. */
  keyword: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  ...commonFields,
});
export type FeishuOptions = v.InferOutput<typeof schema>;

const AT_ALL_TEXT = '<at user_id="all">所有人</at>';
const AT_ALL_CARD = "<at id=all></at>";

/**
 * Who the part mentions: user ids (open_id ou_… or user_id) and "all", on the first part only. Feishu fills in
 * the names. parseAt lets no quote or bracket into an id, so none can close the tag.
 */
function mentioned(ctx: PartContext, o: FeishuOptions): string[] {
  if (ctx.index !== 0) return [];
  const ids = [...(ctx.at?.users ?? [])];
  if (o.at_all || ctx.at?.all) ids.push("all");
  return ids;
}

const atText = (id: string) => (id === "all" ? AT_ALL_TEXT : `<at user_id="${id}"></at>`);
const atCard = (id: string) => (id === "all" ? AT_ALL_CARD : `<at id=${id}></at>`);

/** Plain text without a title is a text message; with a title it becomes a post, whose title field shows it. */
function textPayload(part: string, ctx: PartContext, o: FeishuOptions): Record<string, unknown> {
  const ids = mentioned(ctx, o);
  if (ctx.title === undefined) {
    const text = withKeyword(ids.length ? `${part}\n${ids.map(atText).join(" ")}` : part, o.keyword);
    return { msg_type: "text", content: { text } };
  }
  const body = withKeyword(part, o.keyword, ctx.title);
  const content: unknown[][] = body.split("\n").map((line) => [{ tag: "text", text: line }]);
  if (ids.length) content.push(ids.map((id) => (id === "all" ? { tag: "at", user_id: "all", user_name: "所有人" } : { tag: "at", user_id: id })));
  return { msg_type: "post", content: { post: { zh_cn: { title: ctx.title, content } } } };
}

/** Markdown goes in a JSON 1.0 card: the only Feishu message type with markdown (post has none). */
function cardPayload(part: string, ctx: PartContext, o: FeishuOptions): Record<string, unknown> {
  const ids = mentioned(ctx, o);
  const content = withKeyword(ids.length ? `${part}\n${ids.map(atCard).join(" ")}` : part, o.keyword, ctx.title ?? "");
  const card: Record<string, unknown> = { config: { wide_screen_mode: true } };
  if (ctx.title !== undefined) card.header = { title: { tag: "plain_text", content: ctx.title } };
  card.elements = [{ tag: "markdown", content }];
  return { msg_type: "interactive", card };
}

function build(part: string, ctx: PartContext, o: FeishuOptions): HttpRequest {
  const payload = ctx.format === "markdown" ? cardPayload(part, ctx, o) : textPayload(part, ctx, o);
  if (!o.secret) return postJson(o.webhook, payload);
  const timestamp = Math.floor(ctx.now / 1000);
  return postJson(o.webhook, { timestamp: String(timestamp), sign: feishuSign(o.secret, timestamp), ...payload });
}

const feishu: ChannelDef<FeishuOptions> = {
  type: "feishu",
  label: "Feishu / Lark custom bot",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_BODY_BYTES, unit: "bytes", scope: "body" }),
  measure: (req) => byteLength(req.body ?? ""),
  render: (text, format) => (format === "markdown" ? markdown().toFeishu(text) : text),
  build,
  // A custom bot cannot look a phone number up (that takes an app's contact API).
  mentions: (at) => {
    const left = unsupported(at, { users: true, all: true });
    return left.length ? `a Feishu custom bot cannot mention ${words(left)}; use open_ids (ou_…) or user_ids` : undefined;
  },
  classify: (res) => classifyByCode(res, CODES),
  ...webhookIdentity<FeishuOptions>(["open-apis", "bot", "v2", "hook"]),
};

export default feishu;
