/**
 * Microsoft Teams through a Workflows (Power Automate / Logic Apps) webhook trigger. The URL's `sig` is the
 * credential; a good request answers 202 with no body and the flow posts the card later. Messages are limited to
 * 28 KB and a webhook to 4 requests a second (Teams' incoming webhook doc); errors are
 * {"error":{"code":"…","message":"…"}}, as Logic Apps answers.
 */
import { type FakeOptions, type Platform, RateLimiter, alnum, hex, isObject, json, serve } from "./_base.ts";

const MAX_BYTES = 28 * 1024;
const CARD = "application/vnd.microsoft.card.adaptive";

function cardProblem(p: Record<string, any>): string | undefined {
  if (p.type !== "message" || !Array.isArray(p.attachments) || p.attachments.length === 0) return "the body must be a message with attachments";
  for (const a of p.attachments) {
    if (!isObject(a) || a.contentType !== CARD || !isObject(a.content)) return "each attachment must be an Adaptive Card";
    const c = a.content;
    if (c.type !== "AdaptiveCard" || typeof c.version !== "string" || !Array.isArray(c.body) || c.body.length === 0) return "the card has no body";
    for (const el of c.body) {
      if (!isObject(el)) return "a card element is not an object";
      if (el.type === "TextBlock") {
        if (typeof el.text !== "string") return "a TextBlock has no text";
      } else if (el.type === "RichTextBlock") {
        if (!Array.isArray(el.inlines) || el.inlines.some((i: any) => !isObject(i) || i.type !== "TextRun" || typeof i.text !== "string")) {
          return "a RichTextBlock holds only TextRuns with text";
        }
      } else {
        return `unexpected element ${String(el.type)}`;
      }
    }
  }
  return undefined;
}

export function teams(opts: FakeOptions = {}) {
  const token = alnum(43);
  const id = hex(16);
  const path = `/workflows/${id}/triggers/manual/paths/invoke`;
  const limiter = new RateLimiter([{ count: 4, windowMs: 1000 }], opts.rate);
  const err = (status: number, code: string, message: string, headers?: Record<string, string>) => json(status, { error: { code, message } }, false, headers);

  const platform: Platform = {
    type: "teams",
    token,
    webhook: (base) => `${base}${path}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${token}`,
    handle(ctx) {
      if (ctx.path !== path) return err(404, "WorkflowNotFound", "The workflow could not be found.");
      if (ctx.query.sig === undefined) return err(401, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.");
      if (ctx.query.sig !== token) {
        return err(401, "DirectApiInvalidAuthorizationSignature", "The provided shared access signature is not valid for this workflow.");
      }
      const r = limiter.take(ctx.now);
      if (!r.ok) return err(429, "WorkflowRequestsThrottled", "Too many requests.", { "retry-after": String(Math.ceil(r.retryAfterMs / 1000)) });
      if (ctx.bytes > MAX_BYTES) return err(413, "RequestEntityTooLarge", "The message is larger than Teams accepts.");
      const p = ctx.json;
      if (!isObject(p)) return err(400, "InvalidRequestContent", "The request content is not valid JSON.");
      const problem = cardProblem(p);
      if (problem) return { ...err(400, "InvalidRequestContent", problem), json: p };
      return { status: 202, body: "", headers: {}, accepted: true, json: p };
    },
    codeReply: (code, msg) => err(400, String(code), msg ?? "error"),
    rateReply: (s) => err(429, "WorkflowRequestsThrottled", "Too many requests.", { "retry-after": String(s ?? 1) }),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
