/**
 * Discord webhook: https://discord.com/developers/docs/resources/webhook#execute-webhook ; limits from
 * https://discord.com/developers/docs/resources/message#embed-object-embed-limits ; rate-limit headers from
 * https://discord.com/developers/docs/topics/rate-limits. The 5 per 2 s webhook bucket is a staff comment
 * (discord/discord-api-docs#367), not documented.
 */
import {
  type Ctx,
  type FakeOptions,
  type Platform,
  RateLimiter,
  alnum,
  codePoints,
  hex,
  isObject,
  json,
  serve,
} from "./_base.ts";

const MAX_CONTENT = 2000;
const MAX_EMBEDS = 10;
const MAX_EMBED_TOTAL = 6000;
const EMBED_FIELDS: [string, number][] = [
  ["title", 256],
  ["description", 4096],
];
const DEFAULT_RATE = { count: 5, windowMs: 2000 };

type ErrTree = Record<string, any>;
const maxLen = (n: number) => ({
  _errors: [
    {
      code: "BASE_TYPE_MAX_LENGTH",
      message: `Must be ${n} or fewer in length.`,
    },
  ],
});
const formError = (errors: ErrTree, headers: Record<string, string>) =>
  json(
    400,
    { message: "Invalid Form Body", code: 50035, errors },
    false,
    headers,
  );

/** Length as Discord counts it: trimmed, in characters. */
const len = (s: unknown) => (typeof s === "string" ? codePoints(s.trim()) : 0);

function embedSize(e: Record<string, any>): number {
  let n =
    len(e.title) +
    len(e.description) +
    len(e.footer?.text) +
    len(e.author?.name);
  if (Array.isArray(e.fields))
    for (const f of e.fields) if (isObject(f)) n += len(f.name) + len(f.value);
  return n;
}

function validate(p: Record<string, any>): ErrTree | undefined {
  const errors: ErrTree = {};
  if (typeof p.content === "string" && len(p.content) > MAX_CONTENT)
    errors.content = maxLen(MAX_CONTENT);
  if (typeof p.username === "string") {
    const bad = ["discord", "clyde"].find((w) =>
      p.username.toLowerCase().includes(w),
    );
    if (bad)
      errors.username = {
        _errors: [
          {
            code: "USERNAME_INVALID_CONTAINS",
            message: `Username cannot contain "${bad}"`,
          },
        ],
      };
  }
  if (Array.isArray(p.embeds)) {
    if (p.embeds.length > MAX_EMBEDS) errors.embeds = maxLen(MAX_EMBEDS);
    else {
      const perEmbed: ErrTree = {};
      p.embeds.forEach((e: unknown, i: number) => {
        if (!isObject(e)) return;
        for (const [k, max] of EMBED_FIELDS)
          if (len(e[k]) > max)
            perEmbed[i] = { ...perEmbed[i], [k]: maxLen(max) };
      });
      if (Object.keys(perEmbed).length > 0) errors.embeds = perEmbed;
      else if (
        p.embeds.reduce(
          (n: number, e: unknown) => n + (isObject(e) ? embedSize(e) : 0),
          0,
        ) > MAX_EMBED_TOTAL
      )
        errors.embeds = {
          _errors: [
            {
              code: "MAX_EMBED_SIZE_EXCEEDED",
              message: `Embed size exceeds maximum size of ${MAX_EMBED_TOTAL}`,
            },
          ],
        };
    }
  }
  return Object.keys(errors).length > 0 ? errors : undefined;
}

/**
 * Who a message notifies: the mentions in `content` (never an embed's) that allowed_mentions lets through, all of
 * them when it is absent. @everyone and @here count as everyone ("all").
 */
function pinged(p: Record<string, any>): string[] {
  const content = typeof p.content === "string" ? p.content : "";
  const am = isObject(p.allowed_mentions) ? p.allowed_mentions : undefined;
  const parse: string[] = am ? (Array.isArray(am.parse) ? am.parse : []) : ["users", "roles", "everyone"];
  const users: string[] = am && Array.isArray(am.users) ? am.users : [];
  const out: string[] = [];
  if (parse.includes("everyone") && /@(everyone|here)\b/.test(content)) out.push("all");
  for (const m of content.matchAll(/<@!?(\d{17,20})>/g))
    if (parse.includes("users") || users.includes(m[1]!)) out.push(m[1]!);
  return [...new Set(out)];
}

/** allowed_mentions as Discord checks it: known parse types, at most 100 users, and not "users" beside a users list. */
function allowedMentionsError(am: unknown): ErrTree | undefined {
  if (am === undefined) return undefined;
  const bad = (code: string, message: string): ErrTree => ({ allowed_mentions: { _errors: [{ code, message }] } });
  if (!isObject(am)) return bad("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
  const parse = am.parse ?? [];
  if (!Array.isArray(parse) || !parse.every((x) => ["users", "roles", "everyone"].includes(x)))
    return bad("ENUM_TYPE_COERCE", "Value must be one of {'users', 'roles', 'everyone'}.");
  const users = am.users ?? [];
  if (!Array.isArray(users) || users.length > 100) return bad("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
  if (parse.includes("users") && users.length > 0)
    return bad("MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", 'parse:["users"] and users: [ids] are mutually exclusive.');
  return undefined;
}

const isEmpty = (p: Record<string, any>) =>
  !(typeof p.content === "string" && p.content.trim() !== "") &&
  !(Array.isArray(p.embeds) && p.embeds.length > 0) &&
  !(Array.isArray(p.components) && p.components.length > 0) &&
  p.poll === undefined;

export function discord(opts: FakeOptions = {}) {
  // Snowflake-like id (not secret) and a 68-character token (the secret).
  const id = String(1_000_000_000_000_000_000n + BigInt(`0x${hex(7)}`));
  const token = alnum(68);
  const limiter = new RateLimiter([DEFAULT_RATE], opts.rate);
  const window = limiter.windows[0];
  const bucket = hex(16);

  /** Headers Discord sends on every answer from this route. */
  const rateHeaders = (ctx: Ctx): Record<string, string> => {
    const limit = window?.count ?? DEFAULT_RATE.count;
    const remaining = window ? window.remaining(ctx.now) : limit;
    const resetAfter = window ? window.resetAfterMs(ctx.now) / 1000 : 0;
    return {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(remaining),
      "x-ratelimit-reset": (ctx.now / 1000 + resetAfter).toFixed(3),
      "x-ratelimit-reset-after": resetAfter.toFixed(3),
      "x-ratelimit-bucket": bucket,
    };
  };
  const limited = (retryAfterSec: number, ctx: Ctx) =>
    json(
      429,
      {
        message: "You are being rate limited.",
        retry_after: Number(retryAfterSec.toFixed(3)),
        global: false,
      },
      false,
      {
        ...rateHeaders(ctx),
        "retry-after": String(Math.ceil(retryAfterSec)),
        "x-ratelimit-scope": "user",
      },
    );

  const platform: Platform = {
    type: "discord",
    token,
    webhook: (base) => `${base}/api/webhooks/${id}/${token}`,
    handle(ctx) {
      const m = /^\/api(?:\/v\d+)?\/webhooks\/([^/]+)\/([^/]+)$/.exec(ctx.path);
      if (!m || m[1] !== id)
        return json(404, { message: "Unknown Webhook", code: 10015 });
      if (m[2] !== token)
        return json(401, { message: "Invalid Webhook Token", code: 50027 });
      const r = limiter.take(ctx.now);
      if (!r.ok) return limited(r.retryAfterMs / 1000, ctx);
      const headers = rateHeaders(ctx);
      const p = ctx.json;
      if (!isObject(p))
        return json(
          400,
          { message: "The request body contains invalid JSON.", code: 50109 },
          false,
          headers,
        );
      const errors = validate(p) ?? allowedMentionsError(p.allowed_mentions);
      if (errors) return formError(errors, headers);
      if (isEmpty(p))
        return json(
          400,
          { message: "Cannot send an empty message", code: 50006 },
          false,
          headers,
        );
      const who = pinged(p);
      if (ctx.query.wait !== "true")
        return { status: 204, body: "", headers, accepted: true, pinged: who };
      const message = {
        id: String(BigInt(id) + BigInt(ctx.now)),
        type: 0,
        content: typeof p.content === "string" ? p.content : "",
        embeds: Array.isArray(p.embeds) ? p.embeds : [],
        channel_id: String(BigInt(id) + 1n),
        author: {
          id,
          username: typeof p.username === "string" ? p.username : "pp-fake",
          bot: true,
        },
        timestamp: new Date(ctx.now).toISOString(),
        webhook_id: id,
        mention_everyone: who.includes("all"),
        mentions: who.filter((u) => u !== "all").map((u) => ({ id: u, username: `user${u.slice(-4)}` })),
      };
      return { ...json(200, message, true, headers), pinged: who };
    },
    codeReply: (code, msg, ctx) =>
      json(
        400,
        { message: msg ?? "Invalid Form Body", code },
        false,
        rateHeaders(ctx),
      ),
    rateReply: (s, ctx) => limited(s ?? 1, ctx),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
