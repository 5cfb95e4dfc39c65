import * as v from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  unsupported,
  words,
  bodyJson,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  postJson,
  truncateChars,
  webhookIdentity,
} from "./_common.ts";

// Slack incoming webhooks: https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
// Rate limits: https://docs.slack.dev/apis/web-api/rate-limits
// Formatting: https://docs.slack.dev/messaging/formatting-message-text
const DOCS = "https://docs.slack.dev/messaging/formatting-message-text";
/** A section block's text; `text` alone is only truncated at 40 000, so the same cap keeps both paths equal. */
const MAX_CHARS = 3000;
const HEADER_MAX = 150;
const RATE = ["1/s"];

/** Error strings in the body of a failed webhook call, classified by the string rather than the status. */
const ERRORS: Readonly<Record<string, Outcome["kind"]>> = {
  invalid_payload: "permanent",
  user_not_found: "permanent",
  no_text: "permanent",
  too_many_attachments: "permanent",
  no_service_id: "permanent",
  no_team: "permanent",
  action_prohibited: "permanent",
  invalid_token: "permanent",
  posting_to_general_channel_denied: "permanent",
  channel_not_found: "permanent",
  no_service: "permanent",
  no_active_hooks: "permanent",
  channel_is_archived: "permanent",
  team_disabled: "permanent",
  rollup_error: "retryable",
};

const schema = v.strictObject({
  type: v.literal("slack"),
  webhook: httpUrl,
  ...commonFields,
});
export type SlackOptions = v.InferOutput<typeof schema>;

/** mrkdwn treats only these three as control characters; escaping them also defuses injected <!channel>. */
export function escapeMrkdwn(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * Mentions as Slack's control sequences: <!channel> for everyone, <@U…> for a member id. Added after rendering,
 * which escapes any "<" the text itself holds; parseAt lets none into an id.
 */
function withMentions(part: string, ctx: PartContext): string {
  const at = ctx.at;
  if (!at || (!at.all && at.users.length === 0)) return part;
  const tags = [...(at.all ? ["<!channel>"] : []), ...at.users.map((id) => `<@${id}>`)].join(" ");
  return part === "" ? tags : `${part}\n${tags}`;
}

function build(rendered: string, ctx: PartContext, o: SlackOptions): HttpRequest {
  const part = withMentions(rendered, ctx);
  if (ctx.title === undefined) return postJson(o.webhook, { text: part });
  // With blocks, `text` is only the notification fallback, so it carries the title too.
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: truncateChars(ctx.title, HEADER_MAX) } },
  ];
  if (part !== "") blocks.push({ type: "section", text: { type: "mrkdwn", text: part } });
  return postJson(o.webhook, { text: `${escapeMrkdwn(ctx.title)}\n${part}`, blocks });
}

function classify(res: HttpResponse): Outcome {
  const body = res.body.trim();
  const kind = ERRORS[body];
  if (kind !== undefined) return { kind, error: body, code: body };
  if (res.status >= 200 && res.status < 300) return { kind: "ok" };
  const http = classifyHttp(res);
  return body && http.kind !== "rate_limited" ? { ...http, error: errorText(body) } : http;
}

const slack: ChannelDef<SlackOptions> = {
  type: "slack",
  label: "Slack incoming webhook",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_CHARS, unit: "chars", scope: "content" }),
  measure(req) {
    const body = bodyJson(req.body);
    const section = body.blocks?.find((b: { type: string }) => b.type === "section");
    return body.blocks ? (section?.text.text.length ?? 0) : body.text.length;
  },
  render: (text, format) => (format === "markdown" ? markdown().toSlack(text) : escapeMrkdwn(text)),
  build,
  mentions: (at) => {
    const left = unsupported(at, { users: true, all: true });
    return left.length ? `Slack cannot mention ${words(left)}; use member ids (U…)` : undefined;
  },
  classify,
  ...webhookIdentity<SlackOptions>(["services", "triggers", "workflows"]),
};

export default slack;
