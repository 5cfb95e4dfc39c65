/**
 * ServerChan (Server酱): Turbo keys post to /<SENDKEY>.send (https://sct.ftqq.com), Server酱³ keys (sctp<uid>t…) to
 * /send/<SENDKEY>.send on <uid>.push.ft07.com; JSON or form bodies. `title` is required (at most 32 characters),
 * `desp` is Markdown (at most 32 KB). Success is {"code":0}; a wrong key or a used-up daily quota is code 40001
 * (the free plan allows 5 a day).
 */
import { type Ctx, type FakeOptions, type Platform, RateLimiter, alnum, codePoints, isObject, json, serve, utf8Bytes } from "./_base.ts";

const MAX_TITLE = 32;
const MAX_DESP = 32 * 1024;
const DAY_MS = 86_400_000;

function fields(ctx: Ctx): Record<string, unknown> | undefined {
  const type = (ctx.headers["content-type"] ?? "").split(";")[0]!.trim();
  if (type === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(ctx.raw));
  if (ctx.method === "GET") return ctx.query;
  return isObject(ctx.json) ? ctx.json : undefined;
}

export function serverchan(opts: FakeOptions = {}) {
  const token = opts.token ?? `SCT${100000 + Math.floor(Math.random() * 800000)}T${alnum(28)}`;
  const sc3 = token.startsWith("sctp");
  const path = sc3 ? `/send/${token}.send` : `/${token}.send`;
  const limiter = new RateLimiter([{ count: 5, windowMs: DAY_MS }], opts.rate);
  const answer = (code: number, message: string, accepted = false) =>
    json(200, code === 0 ? { code, message: "", data: { pushid: alnum(8), readkey: alnum(16), error: "SUCCESS", errno: 0 } } : { code, message, data: null }, accepted);
  const quota = () => answer(40001, "[AUTH]超过当天的发送次数限制[5]，请稍后再试");

  const platform: Platform = {
    type: "serverchan",
    token,
    webhook: (base) => `${base}${path}`,
    handle(ctx) {
      if (ctx.path !== path) return answer(40001, "[AUTH]错误的Key");
      const f = fields(ctx);
      if (!f) return answer(20001, "请求格式错误");
      if (typeof f.title !== "string" || f.title.trim() === "") return { ...answer(20002, "title不能为空"), json: f };
      if (codePoints(f.title) > MAX_TITLE) return { ...answer(20003, "title过长"), json: f };
      if (f.desp !== undefined && (typeof f.desp !== "string" || utf8Bytes(f.desp) > MAX_DESP)) return { ...answer(20004, "desp过长"), json: f };
      if (!limiter.take(ctx.now).ok) return { ...quota(), json: f };
      return { ...answer(0, "", true), json: f };
    },
    codeReply: (code, msg) => answer(code, msg ?? `error ${code}`),
    rateReply: () => quota(),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
