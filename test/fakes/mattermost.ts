/**
 * Mattermost incoming webhook: https://developers.mattermost.com/integrate/webhooks/incoming/ ; behaviour follows the
 * server's incoming-webhook handler (mattermost/mattermost server/channels/web/webhook.go, app/webhook.go): the body is
 * parsed before the hook is looked up, and text longer than the post limit is split into several posts.
 * Rate limiting is off unless the admin enables it, so the fake has none unless `rate` is given.
 */
import {
  type Ctx,
  type FakeOptions,
  type Platform,
  RateLimiter,
  alnum,
  codePoints,
  isObject,
  json,
  serve,
  text,
  webhookPayload,
} from "./_base.ts";

/** model.PostMessageMaxRunesV2 */
export const MATTERMOST_MAX_RUNES = 16_383;

/**
 * Who a post notifies: @all, @channel and @here (everyone) and @username, as Mattermost finds them: not inside
 * code, not the middle of an e-mail address, a trailing "." not part of the name.
 */
function pinged(msg: string): string[] {
  const prose = msg.replace(/```[\s\S]*?```/g, " ").replace(/`[^`\n]*`/g, " ");
  const out: string[] = [];
  for (const m of prose.matchAll(/(?<![\w@.])@([a-z0-9][a-z0-9._-]*)/gi)) {
    const name = m[1]!.replace(/\.+$/, "").toLowerCase();
    out.push(["all", "channel", "here"].includes(name) ? "all" : name);
  }
  return [...new Set(out)];
}

export function mattermost(opts: FakeOptions = {}) {
  const token = alnum(26).toLowerCase();
  const limiter = new RateLimiter([], opts.rate);
  const appError = (id: string, message: string, status = 400) =>
    json(status, {
      id,
      message,
      detailed_error: "",
      request_id: alnum(26).toLowerCase(),
      status_code: status,
    });
  const limited = (retryAfterSec: number, ctx: Ctx) =>
    text(429, "limit exceeded\n", false, {
      "retry-after": String(retryAfterSec),
      "x-ratelimit-limit": String(opts.rate ? opts.rate.count : 0),
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(Math.ceil(ctx.now / 1000) + retryAfterSec),
    });

  const platform: Platform = {
    type: "mattermost",
    token,
    webhook: (base) => `${base}/hooks/${token}`,
    handle(ctx) {
      const payload = webhookPayload(ctx);
      if (!isObject(payload))
        return appError(
          "web.incoming_webhook.parse.app_error",
          "Unable to parse incoming data.",
        );
      const m = /^\/hooks\/([^/]+)$/.exec(ctx.path);
      if (!m || m[1] !== token)
        return {
          ...appError(
            "web.incoming_webhook.invalid.app_error",
            "Invalid webhook.",
          ),
          json: payload,
        };
      const r = limiter.take(ctx.now);
      if (!r.ok)
        return {
          ...limited(Math.ceil(r.retryAfterMs / 1000), ctx),
          json: payload,
        };
      const msg = typeof payload.text === "string" ? payload.text : "";
      if (msg === "" && payload.attachments == null)
        return {
          ...appError(
            "web.incoming_webhook.text.app_error",
            "No text specified",
          ),
          json: payload,
        };
      const posts = Math.max(
        1,
        Math.ceil(codePoints(msg) / MATTERMOST_MAX_RUNES),
      );
      return { ...text(200, "ok", true), json: payload, posts, pinged: pinged(msg) };
    },
    codeReply: (code, msg) =>
      appError(
        msg ?? "app.fake.app_error",
        msg ?? "error",
        code >= 400 && code < 600 ? code : 400,
      ),
    rateReply: (s, ctx) => limited(s ?? 1, ctx),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
