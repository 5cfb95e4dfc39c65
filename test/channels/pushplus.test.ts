import { afterEach, describe, expect, test } from "bun:test";
import pushplus from "../../src/channels/pushplus.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q } from "../helpers.ts";
import { deliver, target } from "./_deliver.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "0123456789abcdef0123456789abcdef";
const base = opts(pushplus, { type: "pushplus", token: TOKEN });

let fakes: Fake[] = [];
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  fakes = [];
});

async function fake(o: Parameters<typeof startFake>[1] = {}) {
  const f = await startFake("pushplus", { rate: false, ...o });
  fakes.push(f);
  return { f, api: new URL(f.webhook).origin };
}

describe("pushplus config", () => {
  test("token is required; channel and template are the platform's own values", () => {
    expect(problems(pushplus, { type: "pushplus" }).some((p) => p.startsWith("token:"))).toBe(true);
    expect(problems(pushplus, { type: "pushplus", token: TOKEN, channel: "sms" })).toEqual(['channel: must be "wechat", "webhook", "cp" or "mail"']);
    expect(problems(pushplus, { type: "pushplus", token: TOKEN, template: "xml" })[0]).toStartWith("template: must be one of html, txt, json, markdown");
    expect(problems(pushplus, { type: "pushplus", token: TOKEN, topic: "ops", channel: "mail", template: "html", option: "x" })).toEqual([]);
    expect(problems(pushplus, { type: "pushplus", token: TOKEN, tokn: "x" }).some((p) => p.startsWith("tokn:"))).toBe(true);
  });

  test("the token is a secret, kept out of target and rate key", () => {
    expect(pushplus.secrets(base)).toContain(TOKEN);
    expect(pushplus.target(base)).toBe("https://www.pushplus.plus/send (token ***)");
    expect(pushplus.target(opts(pushplus, { type: "pushplus", token: TOKEN, topic: "ops" }))).toBe("https://www.pushplus.plus/send (token ***, topic ops)");
    expect(pushplus.rateKey(base)).toMatch(/^pushplus:[0-9a-f]{64}$/);
    expect(pushplus.rateKey(base)).not.toContain(TOKEN);
  });
});

describe("pushplus payloads", () => {
  test("plain text goes as template txt, without a title unless given", () => {
    const { req, json } = send(pushplus, base, "disk <full> & more");
    expect(req.url).toBe("https://www.pushplus.plus/send");
    expect(json).toEqual({ token: TOKEN, content: "disk <full> & more", template: "txt" });
    expect(send(pushplus, base, "x", { title: "T".repeat(150) }).json.title).toHaveLength(100);
  });

  test("Markdown goes as written with template markdown; topic, channel and option ride along", () => {
    const o = opts(pushplus, { type: "pushplus", token: TOKEN, topic: "ops", channel: "webhook", option: "hook1" });
    const { json } = send(pushplus, o, "**bold** [x](https://e.com)", { format: "markdown", title: "Deploy" });
    expect(json).toEqual({ token: TOKEN, title: "Deploy", content: "**bold** [x](https://e.com)", template: "markdown", topic: "ops", channel: "webhook", option: "hook1" });
  });

  test("template html: Markdown becomes HTML with raw HTML escaped; plain text is escaped", () => {
    const o = opts(pushplus, { type: "pushplus", token: TOKEN, template: "html" });
    expect(send(pushplus, o, "**hi** <script>x</script>", { format: "markdown" }).json.content).toBe("<b>hi</b> &lt;script&gt;x&lt;/script&gt;");
    expect(send(pushplus, o, "a<b>").json).toMatchObject({ content: "a&lt;b&gt;", template: "html" });
  });

  test("template txt with Markdown input sends readable plain text", () => {
    const o = opts(pushplus, { type: "pushplus", token: TOKEN, template: "txt" });
    expect(send(pushplus, o, "# Head\n**bold** [x](https://e.com)", { format: "markdown" }).json.content).toBe("Head\n\nbold x (https://e.com)");
  });
});

describe("pushplus answers", () => {
  test.each([
    [{ code: 200, msg: "请求成功", data: "abc" }, "ok", undefined],
    [{ code: 903, msg: "无效的用户token" }, "permanent", "the token is invalid"],
    [{ code: 905, msg: "账户未进行实名认证" }, "permanent", "real-name"],
    [{ code: 888, msg: "积分不足" }, "permanent", "credits"],
    [{ code: 999, msg: "服务端验证错误" }, "permanent", "服务端验证错误"],
    [{ code: 500, msg: "系统错误" }, "retryable", "系统错误"],
    [{ code: 900, msg: "用户账号使用受限" }, "rate_limited", "over 200 a day"],
  ] as const)("HTTP 200 with %j is %s", (body, kind, text) => {
    const out = pushplus.classify(res(200, body), base);
    expect(out.kind).toBe(kind);
    if (text) expect(out.error).toContain(text);
    if (kind !== "ok") expect(out.code).toBe(body.code);
  });

  test("code 900 asks every pp process to hold off", () => {
    expect(pushplus.classify(res(200, { code: 900, msg: "x" }), base).retryAfterMs).toBe(15 * 60_000);
  });

  test("a 2xx without a code is not a success; HTTP errors classify by status", () => {
    expect(pushplus.classify(res(200, "<html>gateway</html>"), base).kind).toBe("permanent");
    expect(pushplus.classify(res(200, { msg: "no code" }), base).kind).toBe("permanent");
    expect(pushplus.classify(res(502, "bad gateway"), base).kind).toBe("retryable");
    expect(pushplus.classify(res(429, "", { "Retry-After": "3" }), base)).toMatchObject({ kind: "rate_limited", retryAfterMs: 3000 });
  });
});

describe("pushplus through the core and the fake", () => {
  test("delivered: the fake gets the token, title and content", async () => {
    const { f, api } = await fake({ token: TOKEN });
    const t = target(`type = "pushplus"\ntoken = ${q(TOKEN)}\napi = ${q(api)}\ntopic = "ops"`);
    const { result, store } = await deliver(t, "**disk** full", { title: "DB", format: "markdown" });
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "delivered", attempts: 1 });
    expect(f.accepted().map((r) => r.json)).toEqual([{ token: TOKEN, title: "DB", content: "**disk** full", template: "markdown", topic: "ops" }]);
  });

  test("a wrong token fails at once with PushPlus's reason, and the token never shows", async () => {
    const { f, api } = await fake();
    const t = target(`type = "pushplus"\ntoken = ${q(TOKEN)}\napi = ${q(api)}\nretries = 3`);
    f.fault({ kind: "code", code: 903, msg: `无效的用户token ${TOKEN}` });
    const { result, store, logText } = await deliver(t, "x");
    const log = logText();
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(result.deliveries[0]!.error).toContain("the token is invalid");
    expect(log).toContain("无效的用户token");
    expect(JSON.stringify(result) + log).not.toContain(TOKEN);
  });

  test("over the daily limit (900): not retried within the send, and the block is shared through the store", async () => {
    const { f, api } = await fake({ token: TOKEN, rate: { count: 1, windowMs: 86_400_000 } });
    const t = target(`type = "pushplus"\ntoken = ${q(TOKEN)}\napi = ${q(api)}\nretries = 3`);
    const first = await deliver(t, "one");
    expect(first.result.deliveries[0]!.status).toBe("delivered");
    const second = await deliver(t, "two", { store: first, deadlineMs: 60_000 });
    expect(second.result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(second.result.deliveries[0]!.error).toContain("900");
    const third = await deliver(t, "three", { store: first, deadlineMs: 60_000 });
    first.store.close();
    expect(third.result.deliveries[0]).toMatchObject({ status: "failed", attempts: 0 });
    expect(f.requests).toHaveLength(2);
  });

  test("a message longer than the content limit is split; every part arrives in order", async () => {
    const { f, api } = await fake({ token: TOKEN });
    const t = target(`type = "pushplus"\ntoken = ${q(TOKEN)}\napi = ${q(api)}`);
    const text = Array.from({ length: 1500 }, (_, i) => `line ${i} of a long report`).join("\n");
    const { result, store } = await deliver(t, text, { title: "Report" });
    store.close();
    expect(result.deliveries[0]!.status).toBe("delivered");
    const got = f.accepted().map((r) => r.json);
    expect(got.length).toBeGreaterThan(1);
    for (const j of got) expect(j.content.length).toBeLessThanOrEqual(20_000);
    expect(got.map((j) => j.title)).toEqual(got.map((_, i) => `Report (${i + 1}/${got.length})`));
    expect(got.map((j) => j.content).join("\n")).toBe(text);
  });
});
