import { describe, expect, test } from "bun:test";
import feishu from "../../src/channels/feishu.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "0b7c2e3d-1f2a-4b5c-9d8e-7f6a5b4c3d2e";
const WEBHOOK = `https://open.feishu.cn/open-apis/bot/v2/hook/${TOKEN}`;
const base = opts(feishu, { type: "feishu", webhook: WEBHOOK });

describe("feishu payloads", () => {
  test("text without a title is a text message", () => {
    const { req, json } = send(feishu, base, "build ok");
    expect(req.url).toBe(WEBHOOK);
    expect(req.headers["Content-Type"]).toBe("application/json; charset=utf-8");
    expect(json).toEqual({ msg_type: "text", content: { text: "build ok" } });
  });

  test("text with a title is a post, one paragraph per line", () => {
    const { json } = send(feishu, base, "line one\nline two", { title: "Deploy (1/2)" });
    expect(json).toEqual({
      msg_type: "post",
      content: {
        post: {
          zh_cn: {
            title: "Deploy (1/2)",
            content: [[{ tag: "text", text: "line one" }], [{ tag: "text", text: "line two" }]],
          },
        },
      },
    });
  });

  test("markdown is a JSON 1.0 card with one markdown element", () => {
    const { json } = send(feishu, base, "**bold** text", { format: "markdown", title: "Report" });
    expect(json.msg_type).toBe("interactive");
    expect(json.card.config).toEqual({ wide_screen_mode: true });
    expect(json.card.header).toEqual({ title: { tag: "plain_text", content: "Report" } });
    expect(json.card.elements).toHaveLength(1);
    expect(json.card.elements[0].tag).toBe("markdown");
    expect(json.card.elements[0].content).toContain("**bold** text");
  });

  test("a card without a title has no header", () => {
    expect(send(feishu, base, "x", { format: "markdown" }).json.card.header).toBeUndefined();
  });

  const atAll = opts(feishu, { type: "feishu", webhook: WEBHOOK, at_all: true });
  test.each([
    ["text", (j: any) => j.content.text, '\n<at user_id="all">所有人</at>'],
    ["markdown", (j: any) => j.card.elements[0].content, "\n<at id=all></at>"],
  ] as const)("at_all in %s, on the first part only", (format, pick, suffix) => {
    expect(pick(send(feishu, atAll, "hello", { format }).json)).toEndWith(suffix);
    const later = pick(send(feishu, atAll, "hello", { format, index: 1, total: 2 }).json);
    expect(later).toBe(pick(send(feishu, base, "hello", { format }).json));
    expect(later).not.toContain("<at");
  });

  test("at_all in a post is an at node", () => {
    const content = send(feishu, atAll, "hello", { title: "T" }).json.content.post.zh_cn.content;
    expect(content.at(-1)).toEqual([{ tag: "at", user_id: "all", user_name: "所有人" }]);
  });

  const kw = opts(feishu, { type: "feishu", webhook: WEBHOOK, keyword: "[ops]" });
  test.each([
    ["disk full", {}, "disk full\n[ops]"],
    ["[ops] disk full", {}, "[ops] disk full"],
  ])("keyword: %p", (text, c, expected) => {
    expect(send(feishu, kw, text, c).json.content.text).toBe(expected);
  });

  test("keyword already in the title is not repeated", () => {
    const content = send(feishu, kw, "disk full", { title: "[ops] alert" }).json.content.post.zh_cn.content;
    expect(content).toEqual([[{ tag: "text", text: "disk full" }]]);
  });

  test("signature: timestamp in seconds and sign in the body (test vector)", () => {
    const o = opts(feishu, { type: "feishu", webhook: WEBHOOK, secret: "demo" });
    const { req, json } = send(feishu, o, "hi", { now: 1599360473_999 });
    expect(json.timestamp).toBe("1599360473");
    expect(json.sign).toBe("l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=");
    expect(json.msg_type).toBe("text");
    expect(req.url).toBe(WEBHOOK);
  });
});

describe("feishu limits", () => {
  test("whole body, 20 000 bytes", () => {
    expect(feishu.limit(base, { format: "markdown", hasTitle: true })).toEqual({
      max: 20_000,
      unit: "bytes",
      scope: "body",
    });
    const { req } = send(feishu, base, '飞书 "q"');
    expect(feishu.measure(req, base, { format: "text" })).toBe(Buffer.byteLength(req.body!));
  });
});

describe("feishu classify", () => {
  test.each([
    [{ StatusCode: 0, StatusMessage: "success", code: 0, data: {}, msg: "success" }, "ok"],
    [{ Extra: null, StatusCode: 0, StatusMessage: "success" }, "ok"],
    [{ code: 11232, msg: "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]" }, "rate_limited"],
    [{ code: 9499, msg: "Bad Request" }, "permanent"],
    [{ code: 19001, msg: "param invalid: incoming webhook access token invalid" }, "permanent"],
    [{ code: 19021, msg: "sign match fail or timestamp is not within one hour from current time" }, "permanent"],
    [{ code: 19022, msg: "Ip Not Allowed" }, "permanent"],
    [{ code: 19024, msg: "Key Words Not Found" }, "permanent"],
    [{ code: 4242, msg: "new" }, "permanent"],
  ] as [{ code?: number; msg?: string }, string][])("%j", (body, kind) => {
    const out = feishu.classify(res(200, body), base);
    expect(out.kind).toBe(kind as never);
    if (kind !== "ok") {
      expect(out.code).toBe(body.code!);
      expect(out.error).toContain(body.msg!);
    }
  });

  test("19021 hints at clock skew", () => {
    expect(feishu.classify(res(200, { code: 19021, msg: "sign match fail" }), base).error).toMatch(/clock/);
  });

  test.each([["<html>"], ["{}"], [""]])("2xx without a code is not success: %p", (body) => {
    expect(feishu.classify(res(200, body), base)).toMatchObject({
      kind: "permanent",
      error: `unexpected response: ${body}`,
    });
  });

  test("HTTP errors", () => {
    expect(feishu.classify(res(500, "oops"), base).kind).toBe("retryable");
    expect(feishu.classify(res(429, "", { "Retry-After": "2" }), base)).toMatchObject({
      kind: "rate_limited",
      retryAfterMs: 2000,
    });
    expect(feishu.classify(res(400, { code: 9499, msg: "Bad Request" }), base)).toMatchObject({
      kind: "permanent",
      code: 9499,
    });
  });
});

describe("feishu config and secrets", () => {
  test("defaults", () => {
    expect(feishu.rate).toEqual(["5/s", "100/min"]);
    expect(base.at_all).toBe(false);
  });

  test.each([
    [{ type: "feishu" }, "webhook"],
    [{ type: "feishu", webhook: "open.feishu.cn/hook/x" }, "must be an http(s) URL"],
    [{ type: "feishu", webhook: WEBHOOK, secrets: "x" }, "secrets"],
    [{ type: "feishu", webhook: WEBHOOK, at_all: "yes" }, "at_all"],
    [{ type: "feishu", webhook: WEBHOOK, rate: ["5/s", "5 per s"] }, 'invalid rate "5 per s"'],
    [{ type: "feishu", webhook: WEBHOOK, timeout: "10" }, 'invalid duration "10"'],
  ])("rejects %j", (input, fragment) => {
    expect(problems(feishu, input).some((p) => p.includes(fragment))).toBe(true);
  });

  test("the token and the secret are secrets; target hides the token", () => {
    const o = opts(feishu, { type: "feishu", webhook: WEBHOOK, secret: "s3cr3t-sign" });
    expect(feishu.secrets(o)).toEqual(expect.arrayContaining([TOKEN, "s3cr3t-sign", WEBHOOK]));
    expect(feishu.target(o)).toBe("https://open.feishu.cn/open-apis/bot/v2/hook/***");
    expect(feishu.rateKey(o)).not.toContain(TOKEN);
  });
});
