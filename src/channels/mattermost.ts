import * as v from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  unsupported,
  words,
  bodyJson,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  parseJson,
  postJson,
  webhookIdentity,
} from "./_common.ts";

// Mattermost incoming webhooks: https://developers.mattermost.com/integrate/webhooks/incoming/
const DOCS = "https://developers.mattermost.com/integrate/webhooks/incoming/";
/** PostMessageMaxRunesV2; UTF-16 units over-count runes, which only errs on the safe side. */
const MAX_CHARS = 16_383;
/** Rate limiting is off unless the server admin enables it; a 429 is still honoured. */
const RATE: string[] = [];

const schema = v.strictObject({
  type: v.literal("mattermost"),
  webhook: httpUrl,
  /** Channel name, or @username for a direct message (refused when the hook is locked to its channel). */
  channel: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  // The overrides below take effect only if the admin allows integrations to override them.
  username: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  icon_url: v.optional(httpUrl),
  icon_emoji: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  ...commonFields,
});
export type MattermostOptions = v.InferOutput<typeof schema>;

function build(part: string, ctx: PartContext, o: MattermostOptions): HttpRequest {
  let text = ctx.title === undefined ? part : `#### ${ctx.title}\n${part}`;
  // --at: Mattermost mentions by username, and @all for everyone in the channel.
  const at = ctx.at;
  const tags = at ? [...(at.all ? ["@all"] : []), ...at.users.map((name) => `@${name}`)] : [];
  if (tags.length) text = text === "" ? tags.join(" ") : `${text}\n${tags.join(" ")}`;
  const payload: Record<string, string> = { text };
  for (const key of ["channel", "username", "icon_url", "icon_emoji"] as const) {
    const value = o[key];
    if (value !== undefined) payload[key] = value;
  }
  return postJson(o.webhook, payload);
}

/** Failures are JSON AppErrors: {id, message, status_code}; the message is the useful part. */
function classify(res: HttpResponse): Outcome {
  const http = classifyHttp(res);
  if (http.kind === "ok") return http;
  const json = parseJson(res.body) as { id?: unknown; message?: unknown } | undefined;
  if (typeof json?.message !== "string") return http;
  return { ...http, error: errorText(json.message), code: typeof json.id === "string" ? json.id : res.status };
}

const mattermost: ChannelDef<MattermostOptions> = {
  type: "mattermost",
  label: "Mattermost incoming webhook",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_CHARS, unit: "chars", scope: "content" }),
  measure: (req) => bodyJson(req.body).text.length,
  // Plain text goes as is: backslash-escaping Markdown characters would also break bare URLs.
  render: (text, format) => (format === "markdown" ? markdown().toMattermost(text) : text),
  build,
  mentions: (at) => {
    const left = unsupported(at, { users: true, all: true });
    return left.length ? `Mattermost cannot mention ${words(left)}; use usernames` : undefined;
  },
  classify,
  ...webhookIdentity<MattermostOptions>(["hooks"]),
};

export default mattermost;
