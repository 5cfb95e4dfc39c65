/**
 * Slack incoming webhook: https://api.slack.com/messaging/webhooks and the error list in
 * https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
 * Answers are text/plain: "ok" or an error string. Rate: about 1 per second with short bursts, then 429 + Retry-After
 * (https://docs.slack.dev/apis/web-api/rate-limits).
 */
import {
  type FakeOptions,
  type Platform,
  RateLimiter,
  alnum,
  codePoints,
  isObject,
  serve,
  text,
  webhookPayload,
} from "./_base.ts";

const MAX_BLOCKS = 50;
const MAX_HEADER = 150;
const MAX_SECTION = 3000;
// Slack truncates rather than refuses longer messages.
const MAX_TEXT = 40_000;

function blocksValid(blocks: unknown): boolean {
  if (!Array.isArray(blocks) || blocks.length > MAX_BLOCKS) return false;
  for (const b of blocks) {
    if (!isObject(b) || typeof b.type !== "string") return false;
    if (b.type === "header") {
      const t = b.text;
      if (
        !isObject(t) ||
        t.type !== "plain_text" ||
        typeof t.text !== "string" ||
        codePoints(t.text) > MAX_HEADER
      )
        return false;
    } else if (b.type === "section") {
      const t = b.text;
      if (t !== undefined) {
        if (
          !isObject(t) ||
          (t.type !== "mrkdwn" && t.type !== "plain_text") ||
          typeof t.text !== "string"
        )
          return false;
        if (t.text === "" || codePoints(t.text) > MAX_SECTION) return false;
      } else if (!Array.isArray(b.fields)) {
        return false;
      }
    }
  }
  return true;
}

/**
 * Who a message notifies: <!channel>, <!here> and <!everyone> (everyone) and <@U…> in what Slack shows, the
 * blocks' mrkdwn when there are blocks (`text` is then only the notification fallback), else `text`. An escaped
 * "&lt;!channel&gt;" is text, not a mention.
 */
function pinged(payload: Record<string, any>): string[] {
  const shown = Array.isArray(payload.blocks)
    ? payload.blocks
        .filter((b: any) => b.type === "section" && b.text?.type === "mrkdwn")
        .map((b: any) => b.text.text as string)
    : [String(payload.text ?? "")];
  const out: string[] = [];
  for (const t of shown)
    for (const m of t.matchAll(/<(!channel|!here|!everyone|@[UW][A-Z0-9]+)(\|[^<>]*)?>/g))
      out.push(m[1]!.startsWith("!") ? "all" : m[1]!.slice(1));
  return [...new Set(out)];
}

export function slack(opts: FakeOptions = {}) {
  const token = alnum(24);
  const path = `/services/T000/B000/${token}`;
  const limiter = new RateLimiter([{ count: 3, windowMs: 3000 }], opts.rate);
  const limited = (retryAfterSec: number) =>
    text(429, "rate_limited", false, { "retry-after": String(retryAfterSec) });

  const platform: Platform = {
    type: "slack",
    token,
    webhook: (base) => `${base}${path}`,
    handle(ctx) {
      if (ctx.path !== path) return text(404, "no_service");
      const payload = webhookPayload(ctx);
      if (!isObject(payload))
        return { ...text(400, "invalid_payload"), json: payload ?? null };
      const r = limiter.take(ctx.now);
      if (!r.ok)
        return { ...limited(Math.ceil(r.retryAfterMs / 1000)), json: payload };
      const hasText =
        typeof payload.text === "string" && payload.text.trim() !== "";
      const hasBlocks =
        Array.isArray(payload.blocks) && payload.blocks.length > 0;
      const hasAttachments =
        Array.isArray(payload.attachments) && payload.attachments.length > 0;
      if (!hasText && !hasBlocks && !hasAttachments)
        return { ...text(400, "no_text"), json: payload };
      if (payload.blocks !== undefined && !blocksValid(payload.blocks))
        return { ...text(400, "invalid_blocks"), json: payload };
      const truncated = hasText && codePoints(payload.text) > MAX_TEXT;
      return {
        ...text(200, "ok", true),
        json: payload,
        ...(truncated ? { truncated } : {}),
        pinged: pinged(payload),
      };
    },
    codeReply: (code, msg) => text(400, msg ?? String(code)),
    rateReply: (s) => limited(s ?? 1),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
