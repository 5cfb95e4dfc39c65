/**
 * PushPlus (推送加): POST /send with a JSON body (GET with a query works too), https://www.pushplus.plus/doc.
 * Every answer is HTTP 200 with PushPlus's own code (http://api.pushplus.plus/doc-3034446): 200 accepted, 903 an
 * invalid token, 999 a request it refuses, 900 an account restricted for sending more than 200 a day.
 */
import { type Ctx, type FakeOptions, type Platform, RateLimiter, alnum, codePoints, isObject, json, serve, uuid } from "./_base.ts";

const TEMPLATES = new Set(["html", "txt", "json", "markdown", "cloudMonitor", "jenkins", "route", "pay"]);
const CHANNELS = new Set(["wechat", "webhook", "cp", "mail", "sms"]);
const MAX_TITLE = 100;
const DAY_MS = 86_400_000;

const answer = (code: number, msg: string, accepted = false, data: unknown = null) => json(200, { code, msg, data, count: null }, accepted);

/** The fields of a JSON body, or of the query of a GET. */
function fields(ctx: Ctx): Record<string, unknown> | undefined {
  if (ctx.method === "GET") return ctx.query;
  return isObject(ctx.json) ? ctx.json : undefined;
}

export function pushplus(opts: FakeOptions = {}) {
  const token = opts.token ?? alnum(32);
  const limiter = new RateLimiter([{ count: 200, windowMs: DAY_MS }], opts.rate);
  const restricted = () => answer(900, "用户账号使用受限");

  const platform: Platform = {
    type: "pushplus",
    token,
    // PushPlus also takes the token in the path: /send/<token>.
    webhook: (base) => `${base}/send/${token}`,
    handle(ctx) {
      if (ctx.path !== "/send" && ctx.path !== `/send/${token}`) return json(404, { code: 404, msg: "Not Found" });
      const f = fields(ctx);
      if (!f) return answer(999, "服务端验证错误");
      if ((f.token ?? (ctx.path === `/send/${token}` ? token : undefined)) !== token) return { ...answer(903, "无效的用户token"), json: f };
      if (typeof f.content !== "string" || f.content === "") return { ...answer(999, "content不能为空"), json: f };
      if (f.template !== undefined && !TEMPLATES.has(String(f.template))) return { ...answer(999, "不支持的模板"), json: f };
      if (f.channel !== undefined && !CHANNELS.has(String(f.channel))) return { ...answer(999, "不支持的渠道"), json: f };
      if (typeof f.title === "string" && codePoints(f.title) > MAX_TITLE) return { ...answer(999, "标题过长"), json: f };
      if (!limiter.take(ctx.now).ok) return { ...restricted(), json: f };
      return { ...answer(200, "请求成功", true, uuid().replaceAll("-", "")), json: f };
    },
    codeReply: (code, msg) => answer(code, msg ?? `error ${code}`),
    rateReply: () => restricted(),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
