/**
 * WeCom application messages: GET /cgi-bin/gettoken?corpid=&corpsecret= lends an access token for `expires_in`
 * seconds (the same token again while it is valid); POST /cgi-bin/message/send?access_token= sends with it
 * (https://developer.work.weixin.qq.com/document/path/91039, /90236, error codes /90313). Every answer is HTTP 200
 * with an errcode. Recipients unknown to the application are listed in invaliduser / invalidparty / invalidtag
 * while the others still get the message; when none is valid the answer is 81013. The platform drops a member's
 * messages beyond 30 a minute silently; the fake refuses them with 45009 so that a test sees any.
 */
import { type Ctx, type FakeOptions, type Platform, RateLimiter, alnum, hex, isObject, json, serve } from "./_base.ts";

const MAX_BYTES = 2048;
/** Who the fake's application can reach, unless the test says otherwise. */
export const WECOM_APP_USERS = ["zhangsan", "lisi", "ops"];
export const WECOM_APP_PARTIES = ["1", "2"];
export const WECOM_APP_TAGS = ["1"];

interface Lent {
  token: string;
  expiresAt: number;
}

export async function wecomApp(opts: FakeOptions = {}) {
  const corpId = opts.corpId ?? `ww${hex(8)}`;
  const secret = opts.secret ?? alnum(43);
  const agentId = opts.agentId ?? 1000002;
  const ttlMs = (opts.tokenTtlSec ?? 7200) * 1000;
  const users = new Set(opts.users ?? WECOM_APP_USERS);
  const limiter = new RateLimiter([{ count: 30, windowMs: 60_000 }], opts.rate);
  const lent: Lent[] = [];
  let current: Lent = { token: alnum(64), expiresAt: Date.now() + ttlMs };
  lent.push(current);
  let gettokens = 0;

  const err = (code: number, what: string, ctx: Ctx) =>
    json(200, {
      errcode: code,
      errmsg: `${what}, hint: [${Math.floor(ctx.now / 1000)}_${hex(2)}_${hex(16)}], from ip: ${ctx.ip}, more info at https://open.work.weixin.qq.com/devtool/query?e=${code}`,
    });

  function gettoken(ctx: Ctx) {
    gettokens++;
    if (ctx.method !== "GET") return err(43001, "require GET method", ctx);
    if (ctx.query.corpid !== corpId) return err(40013, "invalid corpid", ctx);
    if (ctx.query.corpsecret !== secret) return err(40001, "invalid credential", ctx);
    if (current.expiresAt <= ctx.now) {
      current = { token: alnum(64), expiresAt: ctx.now + ttlMs };
      lent.push(current);
    }
    return json(200, { errcode: 0, errmsg: "ok", access_token: current.token, expires_in: Math.round((current.expiresAt - ctx.now) / 1000) });
  }

  function send(ctx: Ctx) {
    const token = ctx.query.access_token;
    if (!token) return err(41001, "access_token missing", ctx);
    const known = lent.find((l) => l.token === token);
    if (!known) return err(40014, "invalid access_token", ctx);
    if (known.expiresAt <= ctx.now) return err(42001, "access_token expired", ctx);
    const body = ctx.json;
    if (!isObject(body)) return err(40001, "Warning: wrong json format. invalid Request Parameter", ctx);
    if (body.agentid !== agentId) return err(40056, "invalid agentid", ctx);
    const type = body.msgtype;
    if (type !== "text" && type !== "markdown") return err(40008, "invalid message type", ctx);
    const content = isObject(body[type]) ? body[type].content : undefined;
    if (typeof content !== "string" || content === "") return err(44004, "empty content", ctx);
    if (Buffer.byteLength(content, "utf8") > MAX_BYTES) return err(40058, `${type}.content exceed max length ${MAX_BYTES}. invalid Request Parameter`, ctx);
    const list = (v: unknown) => (typeof v === "string" && v !== "" ? v.split("|") : []);
    const [touser, toparty, totag] = [list(body.touser), list(body.toparty), list(body.totag)];
    if (touser.length === 0 && toparty.length === 0 && totag.length === 0) return err(82001, "All touser & toparty & totag invalid", ctx);
    const all = touser.includes("@all");
    const invaliduser = all ? [] : touser.filter((u) => !users.has(u));
    const invalidparty = all ? [] : toparty.filter((p) => !WECOM_APP_PARTIES.includes(p));
    const invalidtag = all ? [] : totag.filter((t) => !WECOM_APP_TAGS.includes(t));
    const reached = all || invaliduser.length < touser.length || invalidparty.length < toparty.length || invalidtag.length < totag.length;
    if (!reached) return err(81013, "user & party & tag all invalid", ctx);
    if (!limiter.take(ctx.now).ok) return err(45009, "api freq out of limit", ctx);
    const answer: Record<string, unknown> = { errcode: 0, errmsg: "ok" };
    if (invaliduser.length) answer.invaliduser = invaliduser.join("|");
    if (invalidparty.length) answer.invalidparty = invalidparty.join("|");
    if (invalidtag.length) answer.invalidtag = invalidtag.join("|");
    answer.msgid = hex(16);
    return json(200, answer, true);
  }

  const platform: Platform = {
    type: "wecom_app",
    token: current.token,
    webhook: (base) => `${base}/cgi-bin/message/send?access_token=${current.token}`,
    handle(ctx) {
      if (ctx.path === "/cgi-bin/gettoken") return gettoken(ctx);
      if (ctx.path === "/cgi-bin/message/send") return send(ctx);
      return json(404, { errcode: 404, errmsg: "not found" });
    },
    codeReply: (code, msg, ctx) => err(code, msg ?? "system error", ctx),
    rateReply: (_s, ctx) => err(45009, "api freq out of limit", ctx),
    reset: () => limiter.clear(),
  };
  const fake = await serve(platform);
  return Object.assign(fake, {
    app: {
      corpId,
      agentId,
      secret,
      gettokens: () => gettokens,
      lent: () => lent.map((l) => l.token),
      expireTokens() {
        for (const l of lent) l.expiresAt = Math.min(l.expiresAt, Date.now());
      },
    },
  });
}
