/**
 * DingTalk custom robot: https://open.dingtalk.com/document/orgapp/custom-robot-access and
 * https://open.dingtalk.com/document/robots/customize-robot-security-settings
 * Every answer is HTTP 200 with {"errcode","errmsg"}. Past 20 messages a minute the robot is throttled for 10 minutes.
 */
import {
  type FakeOptions,
  type Platform,
  RateLimiter,
  hex,
  hmacBase64,
  isObject,
  json,
  serve,
} from "./_base.ts";

const MAX_BODY = 20_000;
const SKEW_MS = 3_600_000;

/** The user-visible text fields of each message type, for the keyword check. */
function texts(body: Record<string, any>): string[] {
  const section = body[body.msgtype];
  if (!isObject(section)) return [];
  const out: string[] = [];
  for (const k of ["content", "title", "text"])
    if (typeof section[k] === "string") out.push(section[k]);
  if (Array.isArray(section.links))
    for (const l of section.links)
      if (isObject(l) && typeof l.title === "string") out.push(l.title);
  return out;
}

/** The fields each message type cannot do without. */
const REQUIRED: Record<string, string[]> = {
  text: ["content"],
  markdown: ["title", "text"],
  link: ["title", "text", "messageUrl"],
  actionCard: ["title", "text"],
  feedCard: ["links"],
};

const isStringList = (v: unknown) =>
  v === undefined || (Array.isArray(v) && v.every((x) => typeof x === "string"));

/**
 * Who a message notifies: everyone with at.isAtAll, and each of at.atMobiles / at.atUserIds whose "@<id>" the
 * text also holds (DingTalk highlights and notifies only a mention written in the content). undefined: `at` is
 * malformed.
 */
function pinged(body: Record<string, any>): string[] | undefined {
  const at = body.at;
  if (at === undefined) return [];
  if (!isObject(at) || !isStringList(at.atMobiles) || !isStringList(at.atUserIds)) return undefined;
  if (at.isAtAll !== undefined && typeof at.isAtAll !== "boolean") return undefined;
  const text = texts(body).join("\n");
  const named = [...(at.atMobiles ?? []), ...(at.atUserIds ?? [])].filter((id: string) => text.includes(`@${id}`));
  return [...(at.isAtAll ? ["all"] : []), ...new Set<string>(named)];
}

export function dingtalk(opts: FakeOptions = {}) {
  const token = hex(32);
  const limiter = new RateLimiter([{ count: 20, windowMs: 60_000 }], opts.rate);
  const blockMs = opts.blockMs ?? 600_000;
  let blockedUntil = 0;
  const err = (errcode: number, errmsg: string) =>
    json(200, { errcode, errmsg });
  const throttled = () => err(410100, "发送速度太快而限流");

  const platform: Platform = {
    type: "dingtalk",
    token,
    webhook: (base) => `${base}/robot/send?access_token=${token}`,
    handle(ctx) {
      if (ctx.path !== "/robot/send" || ctx.query.access_token !== token)
        return err(300001, "token is not exist");
      if (opts.secret !== undefined) {
        const ts = ctx.query.timestamp ?? "";
        if (!/^\d+$/.test(ts) || Math.abs(ctx.now - Number(ts)) > SKEW_MS)
          return err(310000, "invalid timestamp");
        // The query parser already undid the URL encoding, so a client that forgot to encode "+" fails here.
        if (ctx.query.sign !== hmacBase64(opts.secret, `${ts}\n${opts.secret}`))
          return err(310000, "sign not match");
      }
      if (ctx.now < blockedUntil) return throttled();
      if (!limiter.take(ctx.now).ok) {
        blockedUntil = ctx.now + blockMs;
        return throttled();
      }
      if (ctx.bytes > MAX_BODY)
        return err(460101, "message too long, exceed 20000 bytes");
      if (!isObject(ctx.json)) return err(40035, "缺少参数 json");
      const body = ctx.json;
      const required = REQUIRED[body.msgtype];
      if (!required) return err(40035, "缺少参数 msgtype");
      const section = body[body.msgtype];
      for (const f of required) {
        const v = isObject(section) ? section[f] : undefined;
        if (v === undefined || v === null || v === "")
          return err(40035, `缺少参数 ${body.msgtype}.${f}`);
      }
      if (
        opts.keyword !== undefined &&
        !texts(body).some((t) => t.includes(opts.keyword!))
      )
        return err(310000, "keywords not in content");
      const who = pinged(body);
      if (who === undefined) return err(40035, "缺少参数 at");
      return { ...json(200, { errcode: 0, errmsg: "ok" }, true), pinged: who };
    },
    codeReply: (code, msg) => err(code, msg ?? "系统繁忙"),
    rateReply: () => throttled(),
    reset: () => {
      limiter.clear();
      blockedUntil = 0;
    },
  };
  return serve(platform);
}
