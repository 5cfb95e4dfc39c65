/**
 * Telegram Bot API sendMessage: https://core.telegram.org/bots/api#sendmessage , HTML style
 * https://core.telegram.org/bots/api#html-style , limits https://core.telegram.org/bots/faq (1 message a second per
 * chat, 20 a minute per group). Answers {"ok":true,"result":Message} or {"ok":false,"error_code","description",
 * "parameters"}; a 429 carries parameters.retry_after. `webhook` is the sendMessage URL; `api` is its origin.
 */
import { type Ctx, type FakeOptions, type Platform, SlidingWindow, alnum, isObject, json, serve } from "./_base.ts";

export const TELEGRAM_CHATS = {
  /** A private chat with a user. */
  user: 1001,
  /** A forum supergroup with topic 42. */
  group: -1001234567890,
  /** A group that was upgraded: sending there answers migrate_to_chat_id. */
  upgraded: -4001,
};
const TOPIC = 42;
const MAX_TEXT = 4096;

/** Tags Telegram's HTML parser accepts, and the attribute each may carry. */
const TAGS: Record<string, string | undefined> = {
  b: undefined, strong: undefined, i: undefined, em: undefined, u: undefined, ins: undefined, s: undefined,
  strike: undefined, del: undefined, "tg-spoiler": undefined, span: "class", a: "href", code: "class", pre: undefined,
  blockquote: "expandable", "tg-emoji": "emoji-id",
};
const FORMAT = new Set(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "span"]);

/**
 * Parses Telegram HTML as the Bot API does and returns the text it shows, or the parse error. Nesting follows
 * the documented rules: formatting may nest in anything but code and pre; pre holds only code; nothing else nests.
 */
export function parseTelegramHtml(html: string): { text: string } | { error: string } {
  const stack: string[] = [];
  let text = "";
  let i = 0;
  const fail = (why: string) => ({ error: `Bad Request: can't parse entities: ${why} at byte offset ${Buffer.byteLength(html.slice(0, i))}` });
  while (i < html.length) {
    const c = html[i]!;
    if (c === "<") {
      const m = /^<(\/?)([a-z-]+)((?:\s+[a-z-]+(?:="[^"]*")?)*)\s*>/.exec(html.slice(i, i + 2000));
      if (!m) return fail("Unexpected end tag or unsupported start tag");
      const [all, slash, name, attrs] = m as unknown as [string, string, string, string];
      if (!(name in TAGS)) return fail(`Unsupported start tag "${name}"`);
      if (slash) {
        if (stack.at(-1) !== name) return fail(`Unmatched end tag "${name}"`);
        stack.pop();
      } else {
        const allowed = TAGS[name];
        for (const a of attrs.matchAll(/([a-z-]+)(?:="([^"]*)")?/g)) {
          if (a[1] !== allowed) return fail(`Unsupported attribute "${a[1]}" in tag "${name}"`);
        }
        if (name === "a" && !/href="/.test(attrs)) return fail("Expected href attribute");
        const inCode = stack.includes("code") || stack.includes("pre");
        if (FORMAT.has(name)) {
          if (inCode) return fail(`Entity "${name}" can't be inside code or pre`);
        } else if (name === "code" && stack.at(-1) === "pre" && stack.length === 1) {
          // <pre><code class="language-x"> is the one allowed pairing.
        } else if (stack.some((t) => !FORMAT.has(t)) || (["code", "pre"].includes(name) && stack.length > 0)) {
          return fail(`Entity "${name}" can't be nested in "${stack.at(-1)}"`);
        }
        stack.push(name);
      }
      i += all.length;
    } else if (c === "&") {
      const m = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/.exec(html.slice(i, i + 12));
      if (!m) return fail("Unsupported entity or unescaped \"&\"");
      const body = m[1]!;
      text += body === "lt" ? "<" : body === "gt" ? ">" : body === "amp" ? "&" : body === "quot" ? '"'
        : String.fromCodePoint(body[1] === "x" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10));
      i += m[0].length;
    } else if (c === ">") {
      return fail('Unescaped ">"');
    } else {
      text += c;
      i++;
    }
  }
  if (stack.length > 0) return fail(`Can't find end tag corresponding to start tag "${stack.at(-1)}"`);
  return { text };
}

export function telegram(opts: FakeOptions = {}) {
  const token = `${100000 + Math.floor(Math.random() * 800000)}:AA${alnum(33)}`;
  const chatRate = opts.rate === false ? undefined : opts.rate ?? { count: 1, windowMs: 1000 };
  const perChat = new Map<string, SlidingWindow[]>();
  const windows = (chat: string): SlidingWindow[] => {
    let w = perChat.get(chat);
    if (!w) {
      w = chatRate === undefined ? [] : [new SlidingWindow(chatRate.count, chatRate.windowMs)];
      if (chatRate !== undefined && opts.rate === undefined && chat.startsWith("-")) w.push(new SlidingWindow(20, 60_000));
      perChat.set(chat, w);
    }
    return w;
  };
  let nextId = 1;
  const error = (status: number, description: string, parameters?: Record<string, unknown>) =>
    json(status, { ok: false, error_code: status, description, ...(parameters ? { parameters } : {}) });
  // Telegram's wait is parameters.retry_after. A Retry-After header is added so this answer reads like every other
  // fake's rate limit; the end-to-end test sends a 429 without one to prove pp needs only the body.
  const limited = (retryAfterSec: number) => ({
    ...error(429, `Too Many Requests: retry after ${retryAfterSec}`, { retry_after: retryAfterSec }),
    headers: { "content-type": "application/json", "retry-after": String(retryAfterSec) },
  });

  const payloadOf = (ctx: Ctx): Record<string, any> | undefined => {
    const type = (ctx.headers["content-type"] ?? "").split(";")[0]!.trim();
    if (type === "application/json") return isObject(ctx.json) ? ctx.json : undefined;
    if (type === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(ctx.raw));
    return Object.keys(ctx.query).length > 0 ? ctx.query : undefined;
  };

  const platform: Platform = {
    type: "telegram",
    token,
    webhook: (base) => `${base}/bot${token}/sendMessage`,
    handle(ctx) {
      const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(ctx.path);
      if (!m) return error(404, "Not Found");
      if (m[1] !== token) return error(401, "Unauthorized");
      if (m[2]!.toLowerCase() !== "sendmessage") return error(404, "Not Found: method not found");
      const p = payloadOf(ctx);
      if (!p || p.chat_id === undefined || p.chat_id === "") return error(400, "Bad Request: chat_id is empty");
      const chat = String(p.chat_id);
      if (chat === String(TELEGRAM_CHATS.upgraded)) {
        return error(400, "Bad Request: group chat was upgraded to a supergroup chat", { migrate_to_chat_id: TELEGRAM_CHATS.group });
      }
      if (chat !== String(TELEGRAM_CHATS.user) && chat !== String(TELEGRAM_CHATS.group)) return error(400, "Bad Request: chat not found");
      if (p.message_thread_id !== undefined && (chat !== String(TELEGRAM_CHATS.group) || Number(p.message_thread_id) !== TOPIC)) {
        return error(400, "Bad Request: message thread not found");
      }
      if (typeof p.text !== "string") return error(400, "Bad Request: message text is empty");
      let shown = p.text;
      if (p.parse_mode === "HTML") {
        const parsed = parseTelegramHtml(p.text);
        if ("error" in parsed) return { ...error(400, parsed.error), json: p };
        shown = parsed.text;
      } else if (p.parse_mode !== undefined) {
        return error(400, `Bad Request: unsupported parse_mode in this fake: ${p.parse_mode}`);
      }
      if (shown.trim() === "") return { ...error(400, "Bad Request: message text is empty"), json: p };
      if (shown.length > MAX_TEXT) return { ...error(400, "Bad Request: message is too long"), json: p };
      const w = windows(chat);
      const wait = Math.max(0, ...w.map((x) => x.waitMs(ctx.now)));
      if (wait > 0) return { ...limited(Math.ceil(wait / 1000)), json: p };
      for (const x of w) x.add(ctx.now);
      const message = {
        message_id: nextId++,
        date: Math.floor(ctx.now / 1000),
        chat: { id: Number(chat), type: chat.startsWith("-") ? "supergroup" : "private" },
        text: shown,
        ...(p.message_thread_id !== undefined ? { message_thread_id: Number(p.message_thread_id) } : {}),
      };
      return { ...json(200, { ok: true, result: message }, true), json: p };
    },
    codeReply: (code, msg) => error(code >= 400 && code < 600 ? code : 400, msg ?? `Bad Request: error ${code}`),
    rateReply: (s) => limited(s ?? 1),
    reset: () => perChat.clear(),
  };
  return serve(platform);
}
