/**
 * Feishu / Lark custom bot: https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
 * Business errors come back as {"code":N,"msg":...,"data":{}}; a malformed or oversized body is 9499 "Bad Request".
 */
import {
  type FakeOptions,
  type Platform,
  RateLimiter,
  hmacBase64,
  isObject,
  json,
  serve,
  uuid,
} from "./_base.ts";

const MAX_BODY = 20_000;
const SKEW_S = 3600;
// Keys whose string values Feishu treats as message text for the keyword check; href/url values are not text.
const TEXT_KEYS = new Set(["text", "title", "content"]);

/** Every string under a text-like key, anywhere in the message. */
function texts(v: unknown, key = "", out: string[] = []): string[] {
  if (typeof v === "string") {
    if (TEXT_KEYS.has(key)) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) texts(x, key, out);
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) texts(x, k, out);
  }
  return out;
}

/**
 * Who a message notifies: <at user_id="…"> in a text message, {"tag":"at","user_id"} nodes in a post, and
 * <at id=…> / <at ids=a,b> in a card's markdown ("all" is everyone).
 */
function pinged(body: Record<string, any>): string[] {
  const out: string[] = [];
  if (body.msg_type === "text")
    for (const m of String(body.content.text).matchAll(/<at user_id="([^"]*)">/g)) out.push(m[1]!);
  if (body.msg_type === "post")
    for (const lang of Object.values(body.content.post) as any[])
      for (const line of lang.content)
        if (Array.isArray(line))
          for (const node of line)
            if (isObject(node) && node.tag === "at" && typeof node.user_id === "string") out.push(node.user_id);
  if (body.msg_type === "interactive")
    for (const text of texts(body.card))
      for (const m of text.matchAll(/<at (id|ids)=([^\s<>]+)><\/at>/g)) out.push(...m[2]!.split(","));
  return [...new Set(out)];
}

export function feishu(opts: FakeOptions = {}) {
  const token = uuid();
  const limiter = new RateLimiter(
    [
      { count: 5, windowMs: 1000 },
      { count: 100, windowMs: 60_000 },
    ],
    opts.rate,
  );
  const err = (code: number, msg: string, status = 200) =>
    json(status, { code, data: {}, msg });
  const rateLimited = () =>
    err(
      11232,
      "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]",
    );

  const platform: Platform = {
    type: "feishu",
    token,
    webhook: (base) => `${base}/open-apis/bot/v2/hook/${token}`,
    handle(ctx) {
      const m = /^\/open-apis\/bot\/v2\/hook\/([^/]+)$/.exec(ctx.path);
      if (!m || m[1] !== token)
        return err(
          19001,
          "param invalid: incoming webhook access token invalid",
        );
      if (ctx.bytes > MAX_BODY || !isObject(ctx.json))
        return err(9499, "Bad Request", 400);
      const body = ctx.json;
      if (opts.secret !== undefined) {
        const ts =
          typeof body.timestamp === "number"
            ? String(body.timestamp)
            : body.timestamp;
        const fresh =
          typeof ts === "string" &&
          /^\d+$/.test(ts) &&
          Math.abs(ctx.now / 1000 - Number(ts)) <= SKEW_S;
        if (!fresh || body.sign !== hmacBase64(`${ts}\n${opts.secret}`, ""))
          return err(
            19021,
            "sign match fail or timestamp is not within one hour from current time",
          );
      }
      if (!limiter.take(ctx.now).ok) return rateLimited();
      switch (body.msg_type) {
        case "text":
          if (
            !isObject(body.content) ||
            typeof body.content.text !== "string" ||
            body.content.text === ""
          )
            return err(9499, "Bad Request", 400);
          break;
        case "post": {
          const post = isObject(body.content) ? body.content.post : undefined;
          const langs = isObject(post) ? Object.values(post) : [];
          if (
            langs.length === 0 ||
            !langs.every((l) => isObject(l) && Array.isArray(l.content))
          )
            return err(9499, "Bad Request", 400);
          break;
        }
        case "interactive":
          // The card belongs in `card`; a card placed in `content` is a common mistake the platform refuses.
          if (!isObject(body.card)) return err(9499, "Bad Request", 400);
          break;
        default:
          return err(19002, "params error, msg_type need");
      }
      if (opts.keyword !== undefined) {
        const kw = opts.keyword;
        const found = texts({ content: body.content, card: body.card }).some(
          (t) => t.includes(kw),
        );
        if (!found) return err(19024, "Key Words Not Found");
      }
      return {
        ...json(
          200,
          {
            StatusCode: 0,
            StatusMessage: "success",
            code: 0,
            data: {},
            msg: "success",
          },
          true,
        ),
        pinged: pinged(body),
      };
    },
    codeReply: (code, msg) => err(code, msg ?? "error"),
    rateReply: () => rateLimited(),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
