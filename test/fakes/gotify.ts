/**
 * Gotify: https://gotify.net/docs/pushmsg and https://gotify.net/docs/msgextras . The application token goes in
 * the X-Gotify-Key header, the ?token= query or Authorization: Bearer; errors are
 * {"error":"Unauthorized","errorCode":401,"errorDescription":"…"}. Gotify has no rate or size limit. `webhook` is
 * the /message URL with ?token=; `server` is its origin.
 */
import { type FakeOptions, type Platform, RateLimiter, alnum, isObject, json, serve } from "./_base.ts";

const CONTENT_TYPES = new Set(["text/plain", "text/markdown"]);

export function gotify(opts: FakeOptions = {}) {
  // Application tokens start with "A", client tokens (which may not push) with "C". Gotify's are 15 characters;
  // a longer one makes a leak in a test's output unmistakable.
  const token = `A${alnum(19)}`;
  // Gotify has no limit of its own; `rate` stands for a proxy in front of it.
  const limiter = new RateLimiter([], opts.rate);
  let nextId = 1;
  const err = (status: number, error: string, description: string) =>
    json(status, { error, errorCode: status, errorDescription: description });

  const platform: Platform = {
    type: "gotify",
    token,
    webhook: (base) => `${base}/message?token=${token}`,
    handle(ctx) {
      if (ctx.path !== "/message") return err(404, "Not Found", "page not found");
      if (ctx.method !== "POST") return err(405, "Method Not Allowed", "method not allowed");
      const bearer = /^Bearer (.+)$/.exec(ctx.headers.authorization ?? "")?.[1];
      const given = ctx.headers["x-gotify-key"] ?? ctx.query.token ?? bearer;
      if (given === undefined) return err(401, "Unauthorized", "you need to provide a valid access token or user credentials to access this api");
      if (given.startsWith("C")) return err(403, "Forbidden", "you are not allowed to access this api");
      if (given !== token) return err(401, "Unauthorized", "you need to provide a valid access token or user credentials to access this api");
      const r = limiter.take(ctx.now);
      if (!r.ok) return json(429, { error: "Too Many Requests", errorCode: 429, errorDescription: "slow down" }, false, { "retry-after": String(Math.ceil(r.retryAfterMs / 1000)) });
      const p = ctx.json;
      if (!isObject(p)) return err(400, "Bad Request", "invalid JSON body");
      if (typeof p.message !== "string" || p.message === "") return { ...err(400, "Bad Request", "Field 'message' is required"), json: p };
      if (p.title !== undefined && typeof p.title !== "string") return { ...err(400, "Bad Request", "Field 'title' must be a string"), json: p };
      if (p.priority !== undefined && !Number.isInteger(p.priority)) return { ...err(400, "Bad Request", "Field 'priority' must be an integer"), json: p };
      if (p.extras !== undefined) {
        const display = isObject(p.extras) ? p.extras["client::display"] : undefined;
        if (!isObject(p.extras) || (display !== undefined && (!isObject(display) || !CONTENT_TYPES.has(display.contentType)))) {
          return { ...err(400, "Bad Request", "extras.client::display.contentType must be text/plain or text/markdown"), json: p };
        }
      }
      const message = {
        id: nextId++,
        appid: 1,
        message: p.message,
        title: typeof p.title === "string" ? p.title : "pp-fake",
        priority: typeof p.priority === "number" ? p.priority : 0,
        ...(p.extras !== undefined ? { extras: p.extras } : {}),
        date: new Date(ctx.now).toISOString(),
      };
      return { ...json(200, message, true), json: p };
    },
    codeReply: (code, msg) => err(code >= 400 && code < 600 ? code : 400, "Error", msg ?? "error"),
    rateReply: (s) => json(429, { error: "Too Many Requests", errorCode: 429, errorDescription: "slow down" }, false, { "retry-after": String(s ?? 1) }),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
