/**
 * Pushover: POST /1/messages.json, form-encoded or JSON (https://pushover.net/api). Success is 200 {"status":1};
 * a refusal is 4xx {"status":0,"errors":[…]} naming the bad field; the application's monthly quota is 429. Every
 * answer carries X-Limit-App-Limit / -Remaining / -Reset. Message at most 1024 characters, title 250, html and
 * monospace exclusive, priority -2..2, and emergency (2) needs retry >= 30 and expire <= 10800.
 */
import { type Ctx, type FakeOptions, type Platform, SlidingWindow, alnum, codePoints, isObject, json, serve, uuid } from "./_base.ts";

const MAX_MESSAGE = 1024;
const MAX_TITLE = 250;
const MONTH_MS = 30 * 86_400_000;

function fields(ctx: Ctx): Record<string, unknown> | undefined {
  const type = (ctx.headers["content-type"] ?? "").split(";")[0]!.trim();
  if (type === "application/x-www-form-urlencoded") return { ...ctx.query, ...Object.fromEntries(new URLSearchParams(ctx.raw)) };
  return isObject(ctx.json) ? { ...ctx.query, ...ctx.json } : undefined;
}

export function pushover(opts: FakeOptions = {}) {
  const token = opts.token ?? `a${alnum(29)}`.toLowerCase();
  const user = opts.user ?? `u${alnum(29)}`.toLowerCase();
  const quota = opts.rate === false ? undefined : new SlidingWindow(opts.rate?.count ?? 10_000, opts.rate?.windowMs ?? MONTH_MS);
  const resetAt = Math.floor((Date.now() + MONTH_MS) / 1000);
  const limits = (now: number): Record<string, string> =>
    quota ? { "x-limit-app-limit": String(quota.count), "x-limit-app-remaining": String(quota.remaining(now)), "x-limit-app-reset": String(resetAt) } : {};
  const refuse = (status: number, errors: string[], extra: Record<string, unknown>, now: number) =>
    json(status, { ...extra, errors, status: 0, request: uuid() }, false, limits(now));

  const platform: Platform = {
    type: "pushover",
    token,
    // The credentials ride in the query here, so that a bare POST to the URL is a whole request.
    webhook: (base) => `${base}/1/messages.json?token=${token}&user=${user}`,
    handle(ctx) {
      if (ctx.path !== "/1/messages.json" || ctx.method !== "POST") return json(404, { status: 0, errors: ["not found"] });
      const f = fields(ctx);
      if (!f) return refuse(400, ["invalid request"], {}, ctx.now);
      const bad = (field: string, why: string) => ({ ...refuse(400, [why], { [field]: "invalid" }, ctx.now), json: f });
      if (f.token !== token) return bad("token", "application token is invalid");
      if (quota && quota.remaining(ctx.now) === 0) {
        return { ...json(429, { errors: ["application has exceeded its monthly message limit"], status: 0, request: uuid() }, false, limits(ctx.now)), json: f };
      }
      if (f.user !== user) return bad("user", "user identifier is invalid");
      if (typeof f.message !== "string" || f.message.trim() === "") return bad("message", "message cannot be blank");
      if (codePoints(f.message) > MAX_MESSAGE) return bad("message", `message is too long (max ${MAX_MESSAGE} characters)`);
      if (f.title !== undefined && (typeof f.title !== "string" || codePoints(f.title) > MAX_TITLE)) return bad("title", `title is too long (max ${MAX_TITLE} characters)`);
      if (Number(f.html ?? 0) === 1 && Number(f.monospace ?? 0) === 1) return bad("html", "html and monospace cannot both be set");
      const priority = Number(f.priority ?? 0);
      if (!Number.isInteger(priority) || priority < -2 || priority > 2) return bad("priority", "priority is invalid");
      if (priority === 2 && !(Number(f.retry) >= 30 && Number(f.expire) > 0 && Number(f.expire) <= 10_800)) {
        return bad("retry", "retry and expire are required with emergency priority (retry at least 30, expire at most 10800)");
      }
      quota?.add(ctx.now);
      return { ...json(200, { status: 1, request: uuid() }, true, limits(ctx.now)), json: f };
    },
    codeReply: (code, msg, ctx) => refuse(code >= 400 && code < 600 ? code : 400, [msg ?? `error ${code}`], {}, ctx.now),
    rateReply: (s, ctx) =>
      json(429, { errors: ["application has exceeded its monthly message limit"], status: 0, request: uuid() }, false, {
        ...limits(ctx.now),
        ...(s === undefined ? {} : { "retry-after": String(s) }),
      }),
    reset: () => quota?.clear(),
  };
  return serve(platform);
}
