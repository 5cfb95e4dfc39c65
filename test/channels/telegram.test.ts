import { describe, expect, test } from "bun:test";
import telegram, { balance, finish, shownLength } from "../../src/channels/telegram.ts";
import { parseConfig } from "../../src/config/load.ts";
import { plan } from "../../src/core/dispatch.ts";
import type { Format } from "../../src/core/types.ts";
import { parseTelegramHtml } from "../fakes/index.ts";
import { NOW, opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const base = opts(telegram, { type: "telegram", token: TOKEN, chat_id: 1001 });

/** The text Telegram shows for a request pp built, failing the test when Telegram's parser would refuse it. */
function shown(html: string): string {
  const r = parseTelegramHtml(html);
  if ("error" in r) throw new Error(`${r.error}\n${html}`);
  return r.text;
}

const textOf = (input: string, format: Format = "text", title?: string) =>
  send(telegram, base, input, { format, ...(title === undefined ? {} : { title }) }).json.text as string;

describe("telegram payloads", () => {
  test("sendMessage with HTML, previews off, on the bot's path", () => {
    const { req, json } = send(telegram, base, "deploy done");
    expect(req.url).toBe(`https://api.telegram.org/bot${TOKEN}/sendMessage`);
    expect(req.headers["Content-Type"]).toBe("application/json; charset=utf-8");
    expect(json).toEqual({
      chat_id: 1001,
      text: "deploy done",
      parse_mode: "HTML",
      link_preview_options: { is_disabled: true },
      disable_web_page_preview: true,
    });
  });

  test("api, thread_id, silent and preview map to the Bot API's fields", () => {
    const o = opts(telegram, {
      type: "telegram",
      token: TOKEN,
      chat_id: "-1001234567890",
      api: "https://tg.example.com/relay/",
      thread_id: 42,
      silent: true,
      preview: true,
    });
    const { req, json } = send(telegram, o, "x");
    expect(req.url).toBe(`https://tg.example.com/relay/bot${TOKEN}/sendMessage`);
    expect(json).toMatchObject({
      chat_id: "-1001234567890",
      message_thread_id: 42,
      disable_notification: true,
      link_preview_options: { is_disabled: false },
      disable_web_page_preview: false,
    });
  });

  test("the title is a bold first line, escaped", () => {
    expect(textOf("body", "text", "A <b> & (1/2)")).toBe("<b>A &lt;b&gt; &amp; (1/2)</b>\nbody");
    expect(textOf("", "text", "only a title")).toBe("<b>only a title</b>");
  });
});

describe("telegram rendering", () => {
  test.each([
    ["<script>alert(1)</script>", "<script>alert(1)</script>"],
    ["a < b && c > d", "a < b && c > d"],
    ["&amp; &lt; &#60; &bogus;", "&amp; &lt; &#60; &bogus;"],
    ['<a href="https://evil.example">x</a>', '<a href="https://evil.example">x</a>'],
    ["**not bold** _nor italic_ `nor code`", "**not bold** _nor italic_ `nor code`"],
    ["```\nnot a code block\n```", "```\nnot a code block\n```"],
    ["~~~\nnor this\n~~~", "~~~\nnor this\n~~~"],
  ])("plain text %p is shown exactly as written", (input, out) => {
    const html = textOf(input);
    expect(html).not.toContain("<pre>");
    expect(shown(html)).toBe(out);
  });

  test("Markdown: bold, italic, strikethrough, links, code spans and blocks, headings, lists", () => {
    const md = "# Deploy\n\n**bold** _it_ ~~gone~~ [docs](https://example.com/a?b=1&c=\"2\") `a<b`\n\n```js\nif (a < b && c) {}\n```\n\n- one\n- two";
    const html = textOf(md, "markdown");
    expect(html).toBe(
      '<b>Deploy</b>\n\n<b>bold</b> <i>it</i> <s>gone</s> <a href="https://example.com/a?b=1&amp;c=&quot;2&quot;">docs</a> <code>a&lt;b</code>\n\n' +
        '<pre><code class="language-js">if (a &lt; b &amp;&amp; c) {}</code></pre>\n\n• one\n• two',
    );
    expect(shown(html)).toContain("if (a < b && c) {}");
  });

  test("hostile Markdown never yields markup Telegram refuses", () => {
    const inputs = [
      "<b>raw html</b> <i>x",
      "**bold with `code` inside** and [a link with `code`](https://x.example)",
      "[**bold link**](https://x.example) [x](javascript:alert(1)) [y](tg://user?id=1)",
      "**multi\nline bold** _and\nitalic_",
      '<a href="x">',
      "```\n</code></pre><b>\n```",
      "````\n```\ninner fence\n```\n````",
      "> quote with **bold**\n> and <tag>",
      "| a | <b> |\n|---|---|\n| 1 | & |",
      "![img](https://x.example/i.png) &copy; &#0; &#x110000;",
      "a\\*b\\_c\\`d \\<e",
      "***",
      "`` ` `` and ``` ```` ```",
    ];
    for (const md of inputs) {
      const html = textOf(md, "markdown", "T <&>");
      expect(() => shown(html)).not.toThrow();
    }
    // Raw HTML in Markdown is text, not markup.
    expect(shown(textOf("<b>raw html</b>", "markdown"))).toBe("<b>raw html</b>");
    // Only http(s) and tg:// links become links.
    expect(textOf("[x](javascript:alert(1))", "markdown")).toBe("x (javascript:alert(1))");
  });

  test("code inside bold: the bold pauses around it, as Telegram requires", () => {
    expect(textOf("**a `b` c**", "markdown")).toBe("<b>a </b><code>b</code><b> c</b>");
  });

  test("balance closes what a cut left open and drops what it left closed", () => {
    expect(balance("</b>tail <b>head")).toBe("tail <b>head</b>");
    expect(balance('<a href="https://x">li')).toBe('<a href="https://x">li</a>');
    expect(balance('ref="https://x">label</a>')).toBe('ref="https://x"&gt;label');
    expect(balance("cut &am")).toBe("cut &amp;am");
    expect(balance("<b>a\nb</b>")).toBe("<b>a</b>\n<b>b</b>");
    expect(balance("<b>\n</b>")).toBe("\n");
    expect(balance("<code><b>x</b></code>")).toBe("<code>x</code>");
  });

  test("finish turns fences into <pre>, also when the part ends inside one", () => {
    expect(finish("x\n```py\na &lt; b\n```\ny")).toBe('x\n<pre><code class="language-py">a &lt; b</code></pre>\ny');
    expect(finish("```\nopen to the end")).toBe("<pre><code>open to the end</code></pre>");
  });
});

describe("telegram limits", () => {
  test("4096 characters as Telegram counts them: tags free, an entity one character", () => {
    expect(telegram.limit(base, { format: "text", hasTitle: false })).toEqual({ max: 4096, unit: "chars", scope: "content" });
    // An emoji counts two: UTF-16 units, never fewer than Telegram counts.
    expect(shownLength("<b>a&amp;b</b>&lt;&#128512;")).toBe(6);
    const req = send(telegram, base, "<<>>&&", { title: "T" }).req;
    expect(telegram.measure(req, base, { format: "text" })).toBe(8);
  });

  const target = (section: string) =>
    parseConfig(`[channels.t]\ntype = "telegram"\ntoken = "${TOKEN}"\nchat_id = 1001\n${section}`, "t.toml").channels.get("t")!;

  test.each(["text", "markdown"] as Format[])("a long %s message splits into parts that each fit and parse", (format) => {
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      lines.push(i % 50 === 0 ? "```\n<code> & stuff " + i + "\n```" : `line ${String(i).padStart(4, "0")} **bold\nacross** <tag> & "q" 数据 🚀`);
    }
    const p = plan(target(""), "Report", lines.join("\n"), format, NOW);
    expect(p.error).toBeUndefined();
    expect(p.parts.length).toBeGreaterThan(1);
    let all = "";
    p.parts.forEach((part, i) => {
      const req = telegram.build(part, { title: p.titles[i], format, index: i, total: p.parts.length, now: NOW }, target("").opts);
      const text = JSON.parse(req.body!).text;
      const visible = shown(text);
      expect(visible.length).toBeLessThanOrEqual(4096);
      all += visible;
    });
    const seen = [...all.matchAll(/line (\d{4})/g)].map((m) => m[1]);
    expect(seen).toEqual(lines.flatMap((l) => /^line (\d{4})/.exec(l)?.[1] ?? []));
  });

  test("one huge line of markup, cut anywhere, still parses in every part", () => {
    const line = Array.from({ length: 3000 }, (_, i) => `**b${i}** [l](https://x.example/${i}) &`).join(" ");
    const p = plan(target(""), undefined, line, "markdown", NOW);
    expect(p.parts.length).toBeGreaterThan(1);
    for (const part of p.parts) {
      const text = JSON.parse(telegram.build(part, { format: "markdown", index: 0, total: 1, now: NOW }, target("").opts).body!).text;
      expect(shown(text).length).toBeLessThanOrEqual(4096);
    }
  });

  test("rate: 1/s in a private chat; 1/s and 20/min in groups and channels; `rate` overrides", () => {
    expect(telegram.rate).toEqual(["1/s"]);
    expect(target("").rateText).toBe("1/s");
    const group = parseConfig(`[channels.g]\ntype = "telegram"\ntoken = "${TOKEN}"\nchat_id = -100123\n[channels.c]\ntype = "telegram"\ntoken = "${TOKEN}"\nchat_id = "@news"\n[channels.o]\ntype = "telegram"\ntoken = "${TOKEN}"\nchat_id = -5\nrate = "10/min"`, "t.toml");
    expect(group.channels.get("g")!.rateText).toBe("1/s, 20/min");
    expect(group.channels.get("c")!.rateText).toBe("1/s, 20/min");
    expect(group.channels.get("o")!.rateText).toBe("10/min");
  });

  test("rateKey is per chat: a thread shares its chat's key", () => {
    const a = opts(telegram, { type: "telegram", token: TOKEN, chat_id: -100123 });
    const b = opts(telegram, { type: "telegram", token: TOKEN, chat_id: -100123, thread_id: 7, silent: true });
    const c = opts(telegram, { type: "telegram", token: TOKEN, chat_id: -100124 });
    expect(telegram.rateKey(a)).toBe(telegram.rateKey(b));
    expect(telegram.rateKey(a)).not.toBe(telegram.rateKey(c));
    expect(telegram.rateKey(a)).not.toContain(TOKEN.split(":")[1]!);
  });
});

describe("telegram answers", () => {
  const err = (status: number, description: string, parameters?: object) =>
    res(status, { ok: false, error_code: status, description, ...(parameters ? { parameters } : {}) });

  test("ok only with ok:true", () => {
    expect(telegram.classify(res(200, { ok: true, result: { message_id: 1 } }), base)).toEqual({ kind: "ok" });
    expect(telegram.classify(res(200, "<html>portal</html>"), base).kind).toBe("permanent");
    expect(telegram.classify(res(200, { ok: false, description: "odd" }), base).kind).toBe("permanent");
  });

  test("429 waits parameters.retry_after, without any header", () => {
    expect(telegram.classify(err(429, "Too Many Requests: retry after 35", { retry_after: 35 }), base)).toEqual({
      kind: "rate_limited",
      code: 429,
      error: "Too Many Requests: retry after 35",
      retryAfterMs: 35_000,
    });
    expect(telegram.classify(res(429, "", { "Retry-After": "3" }), base)).toMatchObject({ kind: "rate_limited", retryAfterMs: 3000 });
  });

  test.each([
    [400, "Bad Request: chat not found", "permanent", "check chat_id"],
    [400, "Bad Request: message thread not found", "permanent", "check thread_id"],
    [400, "Bad Request: can't parse entities: Unsupported start tag", "permanent", "please report it"],
    [400, "Bad Request: message is too long", "permanent", "too long"],
    [401, "Unauthorized", "permanent", "check the bot token"],
    [403, "Forbidden: bot was blocked by the user", "permanent", "blocked the bot"],
    [403, "Forbidden: bot was kicked from the supergroup chat", "permanent", "add the bot"],
    [403, "Forbidden: bot can't initiate conversation with a user", "permanent", "start a chat"],
    [404, "Not Found", "permanent", "api URL"],
    [500, "Internal Server Error", "retryable", "Internal"],
    [502, "Bad Gateway", "retryable", "Bad Gateway"],
  ] as const)("%d %s -> %s", (status, description, kind, hint) => {
    const out = telegram.classify(err(status, description), base);
    expect(out.kind).toBe(kind);
    expect(out.code).toBe(status);
    expect(out.error).toContain(hint);
  });

  test("a group upgraded to a supergroup names the chat_id to set", () => {
    const out = telegram.classify(err(400, "Bad Request: group chat was upgraded to a supergroup chat", { migrate_to_chat_id: -1009876 }), base);
    expect(out).toMatchObject({ kind: "permanent", code: 400 });
    expect(out.error).toContain("set chat_id = -1009876");
  });
});

describe("telegram secrets", () => {
  const withApi = opts(telegram, { type: "telegram", token: TOKEN, chat_id: 1, api: "https://user:pw0rd-long@tg.example.com/relay" });

  test("target shows the bot path as bot***, never the token or the api's login", () => {
    expect(telegram.target(base)).toBe("https://api.telegram.org/bot***/sendMessage");
    // A relay's path may itself be a secret.
    expect(telegram.target(withApi)).toBe("https://tg.example.com/***/bot***/sendMessage");
    const built = send(telegram, withApi, "x").req.url;
    expect(telegram.target(withApi, built)).not.toContain(TOKEN.split(":")[1]!);
    expect(telegram.target(withApi, built)).not.toContain("pw0rd");
  });

  test("secrets hold the token, its secret half, the request URL and the api's password", () => {
    const s = telegram.secrets(withApi);
    expect(s).toContain(TOKEN);
    expect(s).toContain(TOKEN.split(":")[1]!);
    expect(s).toContain(send(telegram, withApi, "x").req.url);
    expect(s).toContain("pw0rd-long");
  });

  test("an error quoting the request URL does not carry the token", () => {
    const url = `https://api.telegram.org/bot${TOKEN}/sendMessage`;
    const out = telegram.classify(res(400, { ok: false, error_code: 400, description: `Bad Request: no route to ${url}` }), base);
    expect(out.error).not.toContain(TOKEN.split(":")[1]!);
  });

  test("config errors never repeat the token", () => {
    const bad = problems(telegram, { type: "telegram", token: `${TOKEN}/x`, chat_id: "not-a-chat" });
    expect(bad.join("\n")).toContain("token:");
    expect(bad.join("\n")).not.toContain(TOKEN);
    expect(problems(telegram, { type: "telegram", token: TOKEN, chat_id: "nope" })).toEqual([
      'chat_id: must be a numeric chat id or "@channelusername"',
    ]);
    expect(problems(telegram, { type: "telegram", token: TOKEN, chat_id: 1, thread_id: 1.5 }).length).toBe(1);
  });
});

describe("telegram code blocks in lists", () => {
  test("a fenced block inside a list item becomes <pre>, its indentation taken off", () => {
    const html = textOf("- step one\n\n  ```sh\n  make <all>\n  ```\n- step two", "markdown");
    expect(html).toContain('<pre><code class="language-sh">make &lt;all&gt;</code></pre>');
    expect(html).not.toContain("```");
    expect(() => shown(html)).not.toThrow();
  });
});
