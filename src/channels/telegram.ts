import * as v from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  bodyJson,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  parseJson,
  postJson,
  rateKeyOf,
  retryAfterMs,
} from "./_common.ts";
import { apiSecrets } from "./_api.ts";

// sendMessage: https://core.telegram.org/bots/api#sendmessage
// HTML style: https://core.telegram.org/bots/api#html-style
// Limits: https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
const DOCS = "https://core.telegram.org/bots/api#sendmessage";
const DEFAULT_API = "https://api.telegram.org";
/**
 * "1-4096 characters after entities parsing": tags are not counted, entities count as the character they stand
 * for. The unit is not stated; UTF-16 units never count fewer than Telegram does.
 */
const MAX_CHARS = 4096;
/** Bot FAQ: at most one message a second in a chat, and 20 a minute in a group. */
const CHAT_RATE = ["1/s"];
const GROUP_RATE = ["1/s", "20/min"];

const chatId = v.union(
  [
    v.pipe(v.number(), v.integer("must be a whole number")),
    v.pipe(v.string(), v.regex(/^(-?\d+|@[A-Za-z][A-Za-z0-9_]{3,})$/, 'must be a numeric chat id or "@channelusername"')),
  ],
  'must be a numeric chat id or "@channelusername"',
);

const schema = v.pipe(
  v.strictObject({
    type: v.literal("telegram"),
    /** The bot token from @BotFather, "123456789:AA…". It becomes a path segment, so nothing that would end one. */
    token: v.pipe(v.string(), v.regex(/^[^\s/?#%]+$/, 'must be the bot token from @BotFather ("123456789:AA…"), without spaces or "/"')),
    chat_id: chatId,
    /** A local Bot API server, or a mirror for networks where api.telegram.org is blocked. */
    api: v.optional(httpUrl, DEFAULT_API),
    /** A forum topic's message_thread_id. */
    thread_id: v.optional(v.pipe(v.number(), v.integer("must be a whole number"))),
    silent: v.optional(v.boolean(), false),
    /** Link previews are off unless asked for: a notification's links are rarely worth a card each. */
    preview: v.optional(v.boolean(), false),
    ...commonFields,
  }),
  // Groups, supergroups and channels (negative ids, @usernames) get the tighter group limit unless `rate` says otherwise.
  v.transform((o) => (o.rate === undefined && isGroup(o.chat_id) ? { ...o, rate: GROUP_RATE } : o)),
);
export type TelegramOptions = v.InferOutput<typeof schema>;

function isGroup(chat: number | string): boolean {
  return typeof chat === "number" ? chat < 0 : chat.startsWith("-") || chat.startsWith("@");
}

function base(o: TelegramOptions): string {
  return o.api.replace(/\/+$/, "");
}

function sendUrl(o: TelegramOptions): string {
  return `${base(o)}/bot${o.token}/sendMessage`;
}

// ---------------------------------------------------------------------------
// Telegram HTML, finished part by part

const ESCAPE = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** Plain text as Telegram HTML; a line that would pass for a code fence gets its first character as an entity. */
export function escapeText(s: string): string {
  return s
    .split("\n")
    .map((l) => {
      const e = ESCAPE(l);
      return /^\s*(`{3,}|~{3,})/.test(e) ? e.replace(/[`~]/, (c) => `&#${c.charCodeAt(0)};`) : e;
    })
    .join("\n");
}

/** The only tags pp writes; any other "<" in a part is text. */
const TAG = /<(\/?)(b|i|s|u|code|a)(?: href="([^"<>]*)")?>/y;
const ENTITY = /&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/y;

interface Open {
  name: string;
  /** The opening tag as written, to reopen it on the next line. */
  tag: string;
  /** Left out because Telegram does not allow it here (the text inside stays, unformatted). */
  dropped: boolean;
  /** Written out already; opening tags wait for the first character they hold. */
  written: boolean;
  /** Closed around a code span inside it, to be opened again after it. */
  paused: boolean;
}

/**
 * Makes Telegram HTML that may have been cut anywhere valid on its own, and every line of it self-contained:
 * - a tag open at the end of a line is closed there and opened again on the next line, so a part cut at any line
 *   boundary keeps its formatting and leaves nothing open;
 * - a closing tag with no opening (the other half of a cut) is left out, and so is an opening with no text;
 * - nesting Telegram refuses ("bold, italic, underline, strikethrough can contain and be part of any other
 *   entities, except pre and code; all other entities can't contain each other") loses the inner tag;
 * - a stray "<", ">" or "&" (a tag or entity cut in half) becomes text.
 */
export function balance(html: string): string {
  const stack: Open[] = [];
  let out = "";
  const flush = () => {
    for (const e of stack) {
      if (!e.dropped && !e.written && !e.paused) {
        out += e.tag;
        e.written = true;
      }
    }
  };
  const close = (e: Open) => {
    if (!e.dropped && e.written) out += `</${e.name}>`;
    e.written = false;
  };
  let i = 0;
  while (i < html.length) {
    const c = html[i]!;
    if (c === "<") {
      TAG.lastIndex = i;
      const m = TAG.exec(html);
      const valid = m !== null && (m[1] === "/" ? m[3] === undefined : (m[2] === "a") === (m[3] !== undefined));
      if (valid) {
        const [tag, slash, name] = m! as unknown as [string, string, string];
        i += tag.length;
        if (slash === "") {
          const inside = (n: string) => stack.some((e) => e.name === n && !e.dropped);
          const dropped = inside("code") || (name === "code" && inside("a")) || (name === "a" && inside("a"));
          if (name === "code" && !dropped) {
            // Code cannot be inside bold or italic: those pause around it and resume after it.
            for (let k = stack.length - 1; k >= 0; k--) close(stack[k]!);
            for (const e of stack) e.paused = true;
          }
          stack.push({ name, tag, dropped, written: false, paused: false });
        } else {
          let at = -1;
          for (let k = stack.length - 1; k >= 0; k--) if (stack[k]!.name === name) { at = k; break; }
          if (at < 0) continue;
          // Close what was opened inside it too, then reopen those (only a cut can leave tags crossed).
          const above = stack.splice(at);
          for (let k = above.length - 1; k >= 0; k--) close(above[k]!);
          for (const e of above.slice(1)) stack.push({ ...e, written: false });
          if (name === "code" && !above[0]!.dropped) for (const e of stack) e.paused = false;
        }
        continue;
      }
      flush();
      out += "&lt;";
      i++;
    } else if (c === ">") {
      flush();
      out += "&gt;";
      i++;
    } else if (c === "&") {
      ENTITY.lastIndex = i;
      const m = ENTITY.exec(html);
      flush();
      out += m ? m[0] : "&amp;";
      i += m ? m[0].length : 1;
    } else if (c === "\n") {
      for (let k = stack.length - 1; k >= 0; k--) close(stack[k]!);
      out += "\n";
      i++;
    } else {
      let j = i + 1;
      while (j < html.length && !"<>&\n".includes(html[j]!)) j++;
      flush();
      out += html.slice(i, j);
      i = j;
    }
  }
  for (let k = stack.length - 1; k >= 0; k--) close(stack[k]!);
  return out;
}

/** A fence as pp's renderer writes it: at a line's start, or indented inside a list item. */
const FENCE = /^( *)(`{3,})([\w+#.-]*)\s*$/;

/** A part as Telegram HTML: fenced code blocks (kept as fences so the splitter can repair them) become <pre>. */
export function finish(part: string): string {
  const lines = part.split("\n");
  const out: string[] = [];
  let text: string[] = [];
  const flushText = () => {
    if (text.length > 0) out.push(balance(text.join("\n")));
    text = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      text.push(lines[i]!);
      continue;
    }
    flushText();
    const code: string[] = [];
    let j = i + 1;
    const indent = open[1]!;
    for (; j < lines.length; j++) {
      const close = /^ *(`{3,})\s*$/.exec(lines[j]!);
      if (close && close[1]!.length >= open[2]!.length) break;
      code.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!);
    }
    // The lines inside were escaped when rendered; a cut may still have left a stray "<" or "&".
    const body = code.map((l) => balance(l.replace(/</g, "&lt;").replace(/>/g, "&gt;"))).join("\n");
    const lang = open[3] ? ` class="language-${open[3]}"` : "";
    out.push(`${indent}<pre><code${lang}>${body}</code></pre>`);
    i = j;
  }
  flushText();
  return out.join("\n");
}

/** What Telegram counts of a text: the characters shown, tags left out and entities as one character. */
export function shownLength(html: string): number {
  const text = html.replace(/<[^>]*>/g, "");
  let n = text.length;
  for (const m of text.matchAll(/&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g)) {
    const body = m[0].slice(1, -1);
    const cp = body[0] !== "#" ? 1 : body[1] === "x" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    n -= m[0].length - (cp > 0xffff ? 2 : 1);
  }
  return n;
}

function render(text: string, format: "text" | "markdown"): string {
  return format === "markdown" ? balance(markdown().toTelegram(text)) : escapeText(text);
}

function build(part: string, ctx: PartContext, o: TelegramOptions): HttpRequest {
  const head = ctx.title === undefined ? "" : `<b>${ESCAPE(ctx.title)}</b>${part === "" ? "" : "\n"}`;
  const payload: Record<string, unknown> = {
    chat_id: o.chat_id,
    text: head + finish(part),
    parse_mode: "HTML",
    link_preview_options: { is_disabled: !o.preview },
    // Bot API 7.0 replaced it with link_preview_options; older local Bot API servers only know this one.
    disable_web_page_preview: !o.preview,
  };
  if (o.thread_id !== undefined) payload.message_thread_id = o.thread_id;
  if (o.silent) payload.disable_notification = true;
  return postJson(sendUrl(o), payload);
}

// ---------------------------------------------------------------------------
// Answers: {"ok":false,"error_code":400,"description":"Bad Request: …","parameters":{…}}. The docs say
// error_code may change, so the description is what is matched.

const HINTS: readonly [RegExp, string][] = [
  [/chat not found/i, "check chat_id, and that the bot was added to the chat"],
  [/message thread not found/i, "check thread_id"],
  [/bot was blocked by the user/i, "the user blocked the bot"],
  [/bot was kicked|bot is not a member|have no rights to send/i, "add the bot to the chat and let it post"],
  [/can't initiate conversation/i, "the user must start a chat with the bot first"],
  [/can't parse entities/i, "Telegram could not read pp's HTML; please report it"],
  [/^Unauthorized/i, "check the bot token"],
  [/^Not Found/i, "check the bot token and the api URL"],
];

function classify(res: HttpResponse): Outcome {
  const json = parseJson(res.body) as
    | { ok?: unknown; error_code?: unknown; description?: unknown; parameters?: { retry_after?: unknown; migrate_to_chat_id?: unknown } }
    | undefined;
  if (res.status >= 200 && res.status < 300) {
    if (json?.ok === true) return { kind: "ok" };
    if (typeof json?.description !== "string") return { kind: "permanent", error: `unexpected response: ${errorText(res.body)}`, code: res.status };
  }
  const http = classifyHttp(res);
  if (typeof json?.description !== "string") return http;
  const code = typeof json.error_code === "number" ? json.error_code : res.status;
  const description = errorText(json.description);
  const retry = json.parameters?.retry_after;
  if (res.status === 429 || code === 429 || typeof retry === "number") {
    const wait = typeof retry === "number" && retry >= 0 ? Math.ceil(retry * 1000) : retryAfterMs(res.headers);
    return { kind: "rate_limited", error: description, code, ...(wait === undefined ? {} : { retryAfterMs: wait }) };
  }
  const migrate = json.parameters?.migrate_to_chat_id;
  const hint =
    typeof migrate === "number" || typeof migrate === "string"
      ? `the group is now a supergroup: set chat_id = ${String(migrate)}`
      : HINTS.find(([re]) => re.test(json.description as string))?.[1];
  const kind = http.kind === "ok" ? "permanent" : http.kind;
  return { kind, code, error: hint ? `${description} (${hint})` : description };
}

// ---------------------------------------------------------------------------
// Identity: the token is in the URL path.

/**
 * A request URL as shown: the bot's path segment becomes "bot***"; any path of `api` (a relay's may be secret),
 * credentials and query values are hidden.
 */
function target(o: TelegramOptions, url: string = sendUrl(o)): string {
  if (!URL.canParse(url)) return "***";
  const u = new URL(url);
  const path = u.pathname
    .split("/")
    .map((seg) => (seg === "" || seg === "sendMessage" ? seg : /^bot./.test(seg) ? "bot***" : "***"))
    .join("/");
  const query = [...u.searchParams.keys()].map((k) => `${k}=***`).join("&");
  return `${u.origin}${path}${query ? `?${query}` : ""}`;
}

function secrets(o: TelegramOptions): string[] {
  const out = [o.token, sendUrl(o)];
  // The part after the colon is the secret; the bot id before it is public.
  const key = o.token.slice(o.token.indexOf(":") + 1);
  if (key.length >= 8) out.push(key);
  out.push(...apiSecrets(o.api));
  return out;
}

const telegram: ChannelDef<TelegramOptions> = {
  type: "telegram",
  label: "Telegram bot (sendMessage)",
  schema,
  rate: CHAT_RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_CHARS, unit: "chars", scope: "content" }),
  measure: (req) => shownLength(bodyJson(req.body).text),
  render: (text, format) => render(text, format),
  build,
  classify,
  secrets,
  target,
  // Telegram limits each chat: two sections on one chat share a limit, a thread does not get its own.
  rateKey: (o) => rateKeyOf("telegram", `${base(o)}/bot${o.token}\n${String(o.chat_id)}`),
};

export default telegram;
