/**
 * WeCom group robot: https://developer.work.weixin.qq.com/document/path/91770
 * Every answer is HTTP 200; failures carry a non-zero errcode and an errmsg that echoes a hint and the caller's IP.
 */
import {
  type Ctx,
  type FakeOptions,
  type Platform,
  RateLimiter,
  hex,
  isObject,
  json,
  serve,
  utf8Bytes,
  uuid,
} from "./_base.ts";

const isStringList = (v: unknown) =>
  v === undefined || (Array.isArray(v) && v.every((x) => typeof x === "string"));

/**
 * Who a message notifies: the text type's two mention lists ("@all" is everyone), or markdown v1's inline
 * <@userid>. markdown_v2 has no mentions, and the lists are ignored outside the text type.
 */
function pinged(type: string, section: Record<string, any>): string[] {
  const all = (x: string) => (x === "@all" ? "all" : x);
  if (type === "text")
    return [
      ...new Set(
        [...(section.mentioned_list ?? []), ...(section.mentioned_mobile_list ?? [])].map(all),
      ),
    ];
  if (type === "markdown")
    return [...new Set([...String(section.content).matchAll(/<@([^<>\s]+)>/g)].map((m) => m[1]!))];
  return [];
}

const LIMITS: Record<string, number> = {
  text: 2048,
  markdown: 4096,
  markdown_v2: 4096,
};

export function wecom(opts: FakeOptions = {}) {
  const token = uuid();
  const limiter = new RateLimiter([{ count: 20, windowMs: 60_000 }], opts.rate);

  const err = (code: number, what: string, ctx: Ctx) =>
    json(200, {
      errcode: code,
      errmsg: `${what}, hint: [${Math.floor(ctx.now / 1000)}_${hex(2)}_${hex(16)}], from ip: ${ctx.ip}, more info at https://open.work.weixin.qq.com/devtool/query?e=${code}`,
    });

  const platform: Platform = {
    type: "wecom",
    token,
    webhook: (base) => `${base}/cgi-bin/webhook/send?key=${token}`,
    handle(ctx) {
      if (ctx.path !== "/cgi-bin/webhook/send" || ctx.query.key !== token)
        return err(93000, "invalid webhook url", ctx);
      if (!isObject(ctx.json))
        return err(
          40001,
          "Warning: wrong json format. invalid Request Parameter",
          ctx,
        );
      if (!limiter.take(ctx.now).ok)
        return err(45009, "api freq out of limit", ctx);
      const body = ctx.json;
      const type = body.msgtype;
      if (typeof type !== "string" || !(type in LIMITS))
        return err(40008, "invalid message type", ctx);
      const content = isObject(body[type]) ? body[type].content : undefined;
      if (typeof content !== "string" || content === "")
        return err(44004, "empty content", ctx);
      const max = LIMITS[type]!;
      if (utf8Bytes(content) > max)
        return err(
          40058,
          `${type}.content exceed max length ${max}. invalid Request Parameter`,
          ctx,
        );
      if (type === "text" && !(isStringList(body.text.mentioned_list) && isStringList(body.text.mentioned_mobile_list)))
        return err(40058, "mentioned_list and mentioned_mobile_list must be lists of strings. invalid Request Parameter", ctx);
      return { ...json(200, { errcode: 0, errmsg: "ok" }, true), pinged: pinged(type, body[type]) };
    },
    codeReply: (code, msg, ctx) => err(code, msg ?? "system error", ctx),
    rateReply: (_s, ctx) => err(45009, "api freq out of limit", ctx),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
