import * as v from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  merged,
  unsupported,
  words,
  bodyJson,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  parseJson,
  postJson,
  retryAfterMs,
  truncateChars,
  webhookIdentity,
} from "./_common.ts";

// Discord Execute Webhook: https://discord.com/developers/docs/resources/webhook#execute-webhook
// Embed limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits
const DOCS = "https://discord.com/developers/docs/resources/webhook#execute-webhook";
/** Characters (UTF-16 units: Discord does not say, and they never under-count). */
const MAX_CONTENT = 2000;
const MAX_DESCRIPTION = 4096;
const TITLE_MAX = 256;
/** Not documented; a Discord staff comment (discord-api-docs#367) gives 5 per 2 s per webhook. */
const RATE = ["5/2s"];
/** Discord refuses these in webhook usernames (400 USERNAME_INVALID_CONTAINS). */
const FORBIDDEN_NAMES = ["discord", "clyde"];

const schema = v.strictObject({
  type: v.literal("discord"),
  webhook: httpUrl,
  username: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1, "must not be empty"),
      v.maxLength(80, "must be at most 80 characters"),
      v.check(
        (name) => !FORBIDDEN_NAMES.some((word) => name.toLowerCase().includes(word)),
        'must not contain "discord" or "clyde" (Discord rejects such usernames)',
      ),
    ),
  ),
  avatar_url: v.optional(httpUrl),
  /** Which mentions in the text may ping; none by default, since the text may come from anywhere. */
  mentions: v.optional(v.array(v.picklist(["users", "roles", "everyone"])), []),
  ...commonFields,
});
export type DiscordOptions = v.InferOutput<typeof schema>;

/**
 * Without wait=true Discord answers 204 before saving, and a message that is not saved reports no error.
 * Old configs still carry the retired discordapp.com host.
 */
function sendUrl(webhook: string): string {
  const url = new URL(webhook);
  if (url.hostname === "discordapp.com") url.hostname = "discord.com";
  url.searchParams.set("wait", "true");
  return url.href;
}

/**
 * --at: "@everyone" and <@id> in the content, each allowed to ping by allowed_mentions and nothing else the text
 * holds. Discord refuses a `users` list beside "users" in `parse`, which already lets every user mention ping.
 */
function mentionFields(ctx: PartContext, o: DiscordOptions): { tags: string; allowed: Record<string, unknown> } {
  const at = ctx.at;
  const parse = merged(o.mentions, at?.all ? ["everyone"] : []);
  const users = at && !parse.includes("users") ? at.users : [];
  const tags = at ? [...(at.all ? ["@everyone"] : []), ...at.users.map((id) => `<@${id}>`)].join(" ") : "";
  return { tags, allowed: users.length ? { parse, users } : { parse } };
}

function build(part: string, ctx: PartContext, o: DiscordOptions): HttpRequest {
  const { tags, allowed } = mentionFields(ctx, o);
  const payload: Record<string, unknown> = { allowed_mentions: allowed };
  if (o.username !== undefined) payload.username = o.username;
  if (o.avatar_url !== undefined) payload.avatar_url = o.avatar_url;
  if (ctx.title === undefined) payload.content = tags === "" ? part : part === "" ? tags : `${part}\n${tags}`;
  else {
    // A mention inside an embed never pings: it goes in the content.
    if (tags !== "") payload.content = tags;
    payload.embeds = [{ title: truncateChars(ctx.title, TITLE_MAX), ...(part === "" ? {} : { description: part }) }];
  }
  return postJson(sendUrl(o.webhook), payload);
}

/** The first field error of a 50035 body, e.g. "embeds.0.description: Must be 4096 or fewer in length." */
function firstFieldError(errors: unknown, path: string[] = []): string | undefined {
  if (errors === null || typeof errors !== "object") return undefined;
  const list = (errors as { _errors?: { message?: string }[] })._errors;
  if (Array.isArray(list) && list[0]?.message) return `${path.join(".")}: ${list[0].message}`;
  for (const [key, value] of Object.entries(errors)) {
    const found = key === "_errors" ? undefined : firstFieldError(value, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

function classify(res: HttpResponse): Outcome {
  const http = classifyHttp(res);
  if (http.kind === "ok") {
    // Discord announces an exhausted bucket before refusing: wait it out instead of earning a 429.
    // https://discord.com/developers/docs/topics/rate-limits#header-format
    const resetAfter = Number(res.headers.get("x-ratelimit-reset-after"));
    if (res.headers.get("x-ratelimit-remaining") === "0" && resetAfter > 0) return { ...http, retryAfterMs: Math.ceil(resetAfter * 1000) };
    return http;
  }
  const json = parseJson(res.body) as
    { message?: unknown; code?: unknown; retry_after?: unknown; errors?: unknown } | undefined;
  if (res.status === 429) {
    const wait = typeof json?.retry_after === "number" ? Math.ceil(json.retry_after * 1000) : retryAfterMs(res.headers);
    const out: Outcome = { kind: "rate_limited", error: errorText(String(json?.message ?? "rate limited")), code: 429 };
    if (wait !== undefined) out.retryAfterMs = wait;
    return out;
  }
  if (typeof json?.message !== "string") return http;
  const detail = firstFieldError(json.errors);
  const code = typeof json.code === "number" ? json.code : res.status;
  return { ...http, code, error: errorText(`${json.message} (${code})${detail ? `: ${detail}` : ""}`) };
}

const discord: ChannelDef<DiscordOptions> = {
  type: "discord",
  label: "Discord webhook",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: (_o, ctx) => ({ max: ctx.hasTitle ? MAX_DESCRIPTION : MAX_CONTENT, unit: "chars", scope: "content" }),
  measure(req) {
    const body = bodyJson(req.body);
    return body.embeds ? (body.embeds[0].description?.length ?? 0) : body.content.length;
  },
  // Plain text goes as is: backslash-escaping Markdown characters would also break bare URLs.
  render: (text, format) => (format === "markdown" ? markdown().toDiscord(text) : text),
  build,
  mentions: (at) => {
    const left = unsupported(at, { users: true, all: true });
    return left.length ? `Discord cannot mention ${words(left)}; use user ids (17 to 20 digits)` : undefined;
  },
  classify,
  ...webhookIdentity<DiscordOptions>(["api", "v8", "v9", "v10", "webhooks", "slack", "github"]),
};

export default discord;
