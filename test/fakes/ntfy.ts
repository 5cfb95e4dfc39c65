/**
 * ntfy: https://docs.ntfy.sh/publish/ (publishing to a topic URL or as JSON to the root URL, "Limitations"),
 * errors as in the server's errors.go: {"code":40101,"http":401,"error":"…","link":"…"}. Without `opts.token` the
 * server is open, like ntfy.sh, and the topic name is the only credential: the fake's `token` is its topic, and it
 * refuses every other topic. With `opts.token` it also requires Authorization: Bearer <opts.token>, or Basic
 * <opts.user>:<opts.token>. Each visitor has a bucket of 60 requests refilled one per 5 s. A message over 4096
 * bytes is refused (the fake has no attachment store).
 */
import { type FakeOptions, type Platform, alnum, isObject, json, serve, utf8Bytes } from "./_base.ts";

const MAX_MESSAGE = 4096;
const MAX_TITLE = 1024;
const MAX_TAGS = 512;
const LINK = "https://ntfy.sh/docs/publish/#limitations";
const PRIORITIES: Record<string, number> = { min: 1, low: 2, default: 3, high: 4, max: 5, urgent: 5 };

/** A token bucket: `size` requests at once, one more every `refillMs`. */
class Bucket {
  private tokens: number;
  private at = 0;
  constructor(
    readonly size: number,
    readonly refillMs: number,
  ) {
    this.tokens = size;
  }
  take(now: number): boolean {
    if (this.at === 0) this.at = now;
    const refill = Math.floor((now - this.at) / this.refillMs);
    if (refill > 0) {
      this.tokens = Math.min(this.size, this.tokens + refill);
      this.at += refill * this.refillMs;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

export function ntfy(opts: FakeOptions = {}) {
  const topic = `pp_${alnum(24)}`;
  const secret = opts.token;
  const user = opts.user;
  const bucket = () => (opts.rate === false ? undefined : opts.rate ? new Bucket(opts.rate.count, opts.rate.windowMs / opts.rate.count) : new Bucket(60, 5000));
  let visitor = bucket();
  let nextId = 1;
  const err = (code: number, error: string) => json(Math.floor(code / 100), { code, http: Math.floor(code / 100), error, link: LINK });

  const platform: Platform = {
    type: "ntfy",
    token: topic,
    webhook: (base) => `${base}/${topic}`,
    handle(ctx) {
      if (ctx.method !== "POST" && ctx.method !== "PUT") return err(40501, "method not allowed");
      if (secret !== undefined) {
        const auth = ctx.headers.authorization ?? "";
        const basic = user === undefined ? undefined : `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;
        if (auth !== `Bearer ${secret}` && (basic === undefined || auth !== basic)) {
          return err(auth === "" ? 40301 : 40101, auth === "" ? "forbidden" : "unauthorized");
        }
      }
      if (visitor && !visitor.take(ctx.now)) return err(42901, "limit reached: too many requests, please be nice");
      let p: Record<string, any>;
      if (ctx.path === "/") {
        if (!isObject(ctx.json)) return err(40024, "invalid request: request body must be message JSON");
        p = ctx.json;
      } else {
        const title = ctx.headers["x-title"] ?? ctx.headers.title ?? ctx.headers.t;
        p = { topic: ctx.path.slice(1), message: ctx.raw, ...(title ? { title } : {}) };
        const prio = ctx.headers["x-priority"] ?? ctx.headers.priority;
        if (prio) p.priority = PRIORITIES[prio] ?? Number(prio);
        const tags = ctx.headers["x-tags"] ?? ctx.headers.tags;
        if (tags) p.tags = tags.split(",");
        if (/^(yes|true|1)$/i.test(ctx.headers["x-markdown"] ?? ctx.headers.markdown ?? "")) p.markdown = true;
      }
      if (typeof p.topic !== "string" || !/^[-_A-Za-z0-9]{1,64}$/.test(p.topic)) return err(40010, "invalid request: topic invalid");
      if (p.topic !== topic) return { ...err(40301, "forbidden"), json: p };
      if (p.message !== undefined && typeof p.message !== "string") return err(40024, "invalid request: message must be a string");
      if (p.priority !== undefined && !(Number.isInteger(p.priority) && p.priority >= 1 && p.priority <= 5)) {
        return err(40007, "invalid priority");
      }
      if (p.title !== undefined && (typeof p.title !== "string" || utf8Bytes(p.title) > MAX_TITLE)) return err(40013, "invalid request: title too long");
      if (p.tags !== undefined && (!Array.isArray(p.tags) || p.tags.some((t: unknown) => typeof t !== "string") || utf8Bytes(p.tags.join(",")) > MAX_TAGS)) {
        return err(40014, "invalid request: tags invalid or too long");
      }
      if (p.markdown !== undefined && typeof p.markdown !== "boolean") return err(40024, "invalid request: markdown must be a boolean");
      const message = typeof p.message === "string" && p.message !== "" ? p.message : "triggered";
      if (utf8Bytes(message) > MAX_MESSAGE) return { ...err(41301, "invalid request: message too large and attachments are disabled"), json: p };
      const now = Math.floor(ctx.now / 1000);
      const stored = {
        id: alnum(12),
        time: now,
        expires: now + 43_200,
        event: "message",
        topic: p.topic,
        message,
        ...(p.title !== undefined ? { title: p.title } : {}),
        ...(p.priority !== undefined ? { priority: p.priority } : {}),
        ...(p.tags !== undefined ? { tags: p.tags } : {}),
        ...(p.markdown ? { content_type: "text/markdown" } : {}),
        seq: nextId++,
      };
      return { ...json(200, stored, true), json: ctx.path === "/" ? p : ctx.json ?? null };
    },
    codeReply: (code, msg) => err(code, msg ?? "error"),
    // ntfy itself sends no Retry-After; a wait asked for by the test comes as a proxy in front would send it.
    rateReply: (s) => ({ ...err(42901, "limit reached: too many requests, please be nice"), ...(s === undefined ? {} : { headers: { "content-type": "application/json", "retry-after": String(s) } }) }),
    reset: () => {
      visitor = bucket();
    },
  };
  return serve(platform);
}
