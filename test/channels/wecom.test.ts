import { describe, expect, test } from "bun:test";
import wecom from "../../src/channels/wecom.ts";
import { ctx, opts, problems, res, send } from "./_fixtures.ts";

const KEY = "693a91f6-7f2e-4bc4-97a0-0ec2fa5aaa11";
const WEBHOOK = `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}`;
const base = opts(wecom, { type: "wecom", webhook: WEBHOOK });

describe("wecom payloads", () => {
  test("text without a title", () => {
    const { req, json } = send(wecom, base, "disk 95% on db-1");
    expect(req).toMatchObject({ method: "POST", url: WEBHOOK });
    expect(req.headers).toEqual({ "Content-Type": "application/json; charset=utf-8", "User-Agent": "pp" });
    expect(json).toEqual({ msgtype: "text", text: { content: "disk 95% on db-1" } });
  });

  test("text with a title puts it on the first line", () => {
    expect(send(wecom, base, "body", { title: "Deploy (1/2)" }).json.text.content).toBe("Deploy (1/2)\nbody");
  });

  test("markdown v1 with a title", () => {
    const { json } = send(wecom, base, "**build** failed", { format: "markdown", title: "Deploy" });
    expect(json.msgtype).toBe("markdown");
    expect(json.markdown.content).toStartWith("# Deploy\n");
    expect(json.markdown.content).toContain("**build** failed");
  });

  test("markdown v2 uses msgtype markdown_v2", () => {
    const o = opts(wecom, { type: "wecom", webhook: WEBHOOK, markdown: "v2" });
    const { json } = send(wecom, o, "*it* works", { format: "markdown" });
    expect(Object.keys(json)).toEqual(["msgtype", "markdown_v2"]);
    expect(json.msgtype).toBe("markdown_v2");
    expect(json.markdown_v2.content).toContain("works");
  });

  const mentions = opts(wecom, {
    type: "wecom",
    webhook: WEBHOOK,
    mentioned_list: ["wangqing", "@all"],
    mentioned_mobile_list: ["13800001111"],
  });

  test("text mentions use the mention arrays, on the first part only", () => {
    expect(send(wecom, mentions, "hi").json.text).toEqual({
      content: "hi",
      mentioned_list: ["wangqing", "@all"],
      mentioned_mobile_list: ["13800001111"],
    });
    expect(send(wecom, mentions, "hi", { index: 1, total: 2 }).json.text).toEqual({ content: "hi" });
  });

  test("markdown v1 names userids inline; @all and phones cannot be expressed", () => {
    const content: string = send(wecom, mentions, "hi", { format: "markdown" }).json.markdown.content;
    expect(content).toEndWith("\n<@wangqing>");
    expect(content).not.toContain("@all");
    expect(content).not.toContain("13800001111");
  });

  test("markdown v2 carries no mentions", () => {
    const o = opts(wecom, { type: "wecom", webhook: WEBHOOK, markdown: "v2", mentioned_list: ["wangqing"] });
    expect(send(wecom, o, "hi", { format: "markdown" }).json.markdown_v2.content).not.toContain("wangqing");
  });
});

describe("wecom limits", () => {
  test.each([
    ["text", 2048],
    ["markdown", 4096],
  ] as const)("%s: %d bytes of content", (format, max) => {
    expect(wecom.limit(base, { format, hasTitle: false })).toEqual({ max, unit: "bytes", scope: "content" });
  });

  test("measure counts UTF-8 bytes of the content, title included", () => {
    const req = wecom.build("磁盘", ctx({ title: "T" }), base);
    expect(wecom.measure(req, base, { format: "text" })).toBe(2 + 6);
    const md = wecom.build("é", ctx({ format: "markdown" }), base);
    expect(wecom.measure(md, base, { format: "markdown" })).toBe(2);
  });
});

describe("wecom classify", () => {
  test.each([
    [{ errcode: 0, errmsg: "ok" }, "ok", undefined],
    [{ errcode: -1, errmsg: "system busy" }, "retryable", undefined],
    [{ errcode: 45009, errmsg: "api freq out of limit" }, "rate_limited", 60_000],
    [{ errcode: 45033, errmsg: "api concurrent out of limit" }, "retryable", undefined],
    [{ errcode: 93000, errmsg: "invalid webhook url, hint: [1653], from ip: 1.2.3.4" }, "permanent", undefined],
    [{ errcode: 93004, errmsg: "disabled" }, "permanent", undefined],
    [{ errcode: 93008, errmsg: "not in group" }, "permanent", undefined],
    [{ errcode: 40058, errmsg: "markdown.content exceed max length 4096" }, "permanent", undefined],
    [{ errcode: 44004, errmsg: "empty content" }, "permanent", undefined],
    [{ errcode: 40008, errmsg: "invalid message type" }, "permanent", undefined],
    [{ errcode: 45002, errmsg: "content size out of limit" }, "permanent", undefined],
    [{ errcode: 99999, errmsg: "something new" }, "permanent", undefined],
  ])("%j", (body, kind, wait) => {
    const out = wecom.classify(res(200, body), base);
    expect(out.kind).toBe(kind as never);
    expect(out.retryAfterMs).toBe(wait);
    if (kind !== "ok") {
      expect(out.code).toBe(body.errcode);
      expect(out.error).toContain(body.errmsg);
    }
  });

  test("the errmsg link is kept readable but never carries a key", () => {
    const out = wecom.classify(
      res(200, {
        errcode: 93000,
        errmsg: `invalid webhook url, more info at https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}`,
      }),
      base,
    );
    expect(out.error).toContain("invalid webhook url");
    expect(out.error).not.toContain(KEY);
  });

  test.each([["not json"], [""], ['{"errmsg":"ok"}']])("2xx without an errcode is not success: %p", (body) => {
    const out = wecom.classify(res(200, body), base);
    expect(out.kind).toBe("permanent");
    expect(out.error).toStartWith("unexpected response: ");
  });

  test("5xx is retryable", () => {
    expect(wecom.classify(res(503, "busy"), base).kind).toBe("retryable");
  });
});

describe("wecom config", () => {
  test("defaults", () => {
    expect(base.markdown).toBe("v1");
    expect(wecom.rate).toEqual(["20/min"]);
  });

  test.each([
    [{ type: "wecom" }, "webhook"],
    [{ type: "wecom", webhook: KEY }, "webhook: must be an http(s) URL"],
    [{ type: "wecom", webhook: WEBHOOK, mentioned: ["x"] }, "mentioned"],
    [{ type: "wecom", webhook: WEBHOOK, markdown: "v3" }, "markdown"],
    [{ type: "wecom", webhook: WEBHOOK, mentioned_list: "wangqing" }, "mentioned_list"],
    [{ type: "wecom", webhook: WEBHOOK, rate: "lots" }, 'invalid rate "lots"'],
  ])("rejects %j", (input, fragment) => {
    const found = problems(wecom, input);
    expect(found.some((p) => p.includes(fragment))).toBe(true);
    expect(found.join(" ")).not.toContain(KEY.slice(0, 8) + "-7f2e");
  });
});

describe("wecom secrets", () => {
  test("target and rateKey never show the key; secrets lists it", () => {
    expect(wecom.target(base)).toBe("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***");
    expect(wecom.rateKey(base)).toMatch(/^wecom:[0-9a-f]{64}$/);
    expect(wecom.secrets(base)).toContain(KEY);
  });
});
