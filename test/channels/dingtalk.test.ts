import { describe, expect, test } from "bun:test";
import dingtalk from "../../src/channels/dingtalk.ts";
import { NOW, opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b";
const WEBHOOK = `https://oapi.dingtalk.com/robot/send?access_token=${TOKEN}`;
const SECRET = "SEC0123456789abcdef";
const base = opts(dingtalk, { type: "dingtalk", webhook: WEBHOOK });

describe("dingtalk payloads", () => {
  test("text, title on the first line", () => {
    const { req, json } = send(dingtalk, base, "build failed", { title: "Deploy" });
    expect(req.url).toBe(WEBHOOK);
    expect(req.headers["User-Agent"]).toBe("pp");
    expect(json).toEqual({ msgtype: "text", text: { content: "Deploy\nbuild failed" } });
  });

  test("markdown repeats the title as a heading", () => {
    const { json } = send(dingtalk, base, "**build** failed", { format: "markdown", title: "Deploy (2/3)" });
    expect(json.msgtype).toBe("markdown");
    expect(json.markdown.title).toBe("Deploy (2/3)");
    expect(json.markdown.text).toStartWith("#### Deploy (2/3)\n\n");
    expect(json.markdown.text).toContain("**build** failed");
  });

  test.each([
    ["# Disk full on db-1\nmore", "Disk full on db-1"],
    ["\n\n  **Heads up** on db_1 \nrest", "Heads up on db_1"],
    ["> _quoted_", "quoted"],
    ["x".repeat(100), `${"x".repeat(63)}…`],
    ["", "pp"],
    ["(2/3)\n# Disk full\nmore", "Disk full (2/3)"],
    [`(1/2)\n${"y".repeat(100)}`, `${"y".repeat(57)}… (1/2)`],
  ])("markdown without a title takes the first line: %p", (text, title) => {
    const { json } = send(dingtalk, base, text, { format: "markdown" });
    expect(json.markdown.title).toBe(title);
  });

  const at = opts(dingtalk, {
    type: "dingtalk",
    webhook: WEBHOOK,
    at_mobiles: ["13800001111"],
    at_user_ids: ["user123"],
    at_all: true,
  });
  test("mentions: at field plus @names in the content, first part only", () => {
    const { json } = send(dingtalk, at, "deploy failed");
    expect(json.text.content).toBe("deploy failed\n@13800001111 @user123");
    expect(json.at).toEqual({ atMobiles: ["13800001111"], atUserIds: ["user123"], isAtAll: true });
    const later = send(dingtalk, at, "more", { index: 1, total: 2 }).json;
    expect(later).toEqual({ msgtype: "text", text: { content: "more" } });
  });

  test("markdown mentions are on a paragraph of their own", () => {
    expect(send(dingtalk, at, "x", { format: "markdown" }).json.markdown.text).toEndWith("x\n\n@13800001111 @user123");
  });

  const kw = opts(dingtalk, { type: "dingtalk", webhook: WEBHOOK, keyword: "告警" });
  test.each([
    ["disk full", "text", "disk full\n告警"],
    ["告警: disk full", "text", "告警: disk full"],
  ] as const)("keyword: %p", (text, format, expected) => {
    expect(send(dingtalk, kw, text, { format }).json.text.content).toBe(expected);
  });

  test("keyword in markdown", () => {
    expect(send(dingtalk, kw, "disk full", { format: "markdown" }).json.markdown.text).toEndWith("disk full\n\n告警");
  });

  test("signature goes in the query (test vector), the body is unchanged", () => {
    const o = opts(dingtalk, { type: "dingtalk", webhook: WEBHOOK, secret: SECRET });
    const { req, json } = send(dingtalk, o, "hi", { now: NOW });
    expect(req.url).toBe(
      `${WEBHOOK}&timestamp=1700000000002&sign=VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D`,
    );
    expect(json).toEqual({ msgtype: "text", text: { content: "hi" } });
  });
});

describe("dingtalk limits", () => {
  test("whole body, 20 000 bytes", () => {
    expect(dingtalk.limit(base, { format: "text", hasTitle: false })).toEqual({
      max: 20_000,
      unit: "bytes",
      scope: "body",
    });
    const { req } = send(dingtalk, base, '钉钉\n"x"');
    expect(dingtalk.measure(req, base, { format: "text" })).toBe(Buffer.byteLength(req.body!));
  });
});

describe("dingtalk classify", () => {
  test.each([
    [{ errcode: 0, errmsg: "ok" }, "ok", undefined],
    [{ errcode: -1, errmsg: "系统繁忙" }, "retryable", undefined],
    [{ errcode: 130101, errmsg: "send too fast, exceed 20 times per minute" }, "rate_limited", 600_000],
    [{ errcode: 410100, errmsg: "发送速度太快而限流" }, "rate_limited", 600_000],
    [{ errcode: 310000, errmsg: "keywords not in content" }, "permanent", undefined],
    [{ errcode: 310000, errmsg: "sign not match" }, "permanent", undefined],
    [{ errcode: 310000, errmsg: "ip 1.2.3.4 not in whitelist" }, "permanent", undefined],
    [{ errcode: 300001, errmsg: "token is not exist" }, "permanent", undefined],
    [{ errcode: 400013, errmsg: "群已被解散" }, "permanent", undefined],
    [{ errcode: 400102, errmsg: "机器人已停用" }, "permanent", undefined],
    [{ errcode: 400106, errmsg: "机器人不存在" }, "permanent", undefined],
    [{ errcode: 460101, errmsg: "message too long, exceed 20000 bytes" }, "permanent", undefined],
    [{ errcode: 101002, errmsg: "message is too long" }, "permanent", undefined],
    [{ errcode: 90030, errmsg: "webhook over limit" }, "permanent", undefined],
  ])("%j", (body, kind, wait) => {
    const out = dingtalk.classify(res(200, body), base);
    expect(out.kind).toBe(kind as never);
    expect(out.retryAfterMs).toBe(wait);
    if (kind !== "ok") {
      expect(out.code).toBe(body.errcode);
      expect(out.error).toContain(body.errmsg);
    }
  });

  test.each([["not json"], ['{"errmsg":"ok"}'], ['{"errcode":"0"}']])(
    "2xx without a numeric errcode is not success: %p",
    (body) => {
      expect(dingtalk.classify(res(200, body), base)).toMatchObject({
        kind: "permanent",
        error: `unexpected response: ${body}`,
      });
    },
  );
});

describe("dingtalk config and secrets", () => {
  test.each([
    [{ type: "dingtalk" }, "webhook"],
    [{ type: "dingtalk", webhook: WEBHOOK, secret: "0123456789abcdef" }, 'must start with "SEC"'],
    [{ type: "dingtalk", webhook: WEBHOOK, at_mobile: ["1"] }, "at_mobile"],
    [{ type: "dingtalk", webhook: WEBHOOK, retries: -2 }, "0 or more"],
    [{ type: "dingtalk", webhook: WEBHOOK, rate: "20/minutely" }, 'invalid rate "20/minutely"'],
  ])("rejects %j", (input, fragment) => {
    const found = problems(dingtalk, input);
    expect(found.some((p) => p.includes(fragment))).toBe(true);
    expect(found.join(" ")).not.toContain("0123456789abcdef");
  });

  test("secrets cover the token and the SEC secret; target and rateKey do not show them", () => {
    const o = opts(dingtalk, { type: "dingtalk", webhook: WEBHOOK, secret: SECRET });
    expect(dingtalk.secrets(o)).toEqual(expect.arrayContaining([TOKEN, SECRET]));
    expect(dingtalk.target(o)).toBe("https://oapi.dingtalk.com/robot/send?access_token=***");
    expect(dingtalk.rateKey(o)).toBe(dingtalk.rateKey(base));
    expect(dingtalk.rateKey(o)).not.toContain(TOKEN);
  });
});
