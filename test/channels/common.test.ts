import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import {
  classifyByCode,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  parseDuration,
  parseRate,
  rateKeyOf,
  redactUrl,
  retryAfterMs,
  truncateChars,
  urlSecrets,
  withKeyword,
  type CodeTable,
} from "../../src/channels/_common.ts";
import { dingtalkSign, feishuSign } from "../../src/channels/_sign.ts";
import { res } from "./_fixtures.ts";

describe("parseRate", () => {
  test.each([
    ["20/min", 20, 60_000],
    ["5/2s", 5, 2_000],
    ["1/s", 1, 1_000],
    ["100/h", 100, 3_600_000],
    [" 30 / 1.5m ", 30, 90_000],
    ["10/500ms", 10, 500],
    ["1000/day", 1000, 86_400_000],
  ])("%p", (s, count, windowMs) => {
    expect(parseRate(s)).toEqual({ count, windowMs });
  });

  test.each(["20", "20/", "/min", "x/min", "20/fortnight", "0/min", "20/0s", "-1/s", "20 per min"])(
    "rejects %p",
    (s) => {
      expect(() => parseRate(s)).toThrow(`invalid rate "${s}"`);
    },
  );
});

describe("parseDuration", () => {
  test.each([
    ["10s", 10_000],
    ["500ms", 500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1m 30s", 90_000],
    ["1.5s", 1_500],
    ["2min", 120_000],
  ])("%p", (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
  });

  test.each(["10", "", "s", "10 parsecs", "1m x", "-5s", "ten seconds"])("rejects %p", (s) => {
    expect(() => parseDuration(s)).toThrow(/invalid duration .*"10s"/);
  });
});

describe("schema pieces", () => {
  const section = v.strictObject({ url: v.optional(httpUrl), ...commonFields });
  const messages = (input: unknown) => {
    const r = v.safeParse(section, input);
    return r.success ? [] : r.issues.map((i) => i.message);
  };

  test.each([
    [{ rate: "20/min", timeout: "10s", retries: 3 }],
    [{ rate: ["5/s", "100/min"] }],
    [{ rate: [] }],
    [{ url: "http://127.0.0.1:8080/hook" }],
    [{}],
  ])("accepts %j", (input) => {
    expect(messages(input)).toEqual([]);
  });

  test.each([
    [{ rate: "20 a minute" }, /invalid rate "20 a minute"/],
    [{ rate: ["5/s", "often"] }, /invalid rate "often"/],
    [{ timeout: "10" }, /invalid duration "10"/],
    [{ timeout: "0s" }, /longer than 0/],
    [{ retries: -1 }, /0 or more/],
    [{ retries: 1.5 }, /whole number/],
    [{ url: "ftp://example.com/x" }, /must be an http\(s\) URL/],
    [{ url: "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc" }, /must be an http\(s\) URL/],
  ])("rejects %j", (input, message) => {
    const found = messages(input);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((m) => message.test(m))).toBe(true);
  });

  test("a bad URL is not repeated in the message", () => {
    const r = v.safeParse(httpUrl, "not a url key=s3cr3t-value");
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.issues?.map((i) => i.message))).not.toContain("s3cr3t");
  });
});

describe("retryAfterMs", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  test.each([
    [{ "Retry-After": "30" }, 30_000],
    [{ "Retry-After": "0.5" }, 500],
    [{ "Retry-After": "Wed, 01 Jan 2025 00:01:00 GMT" }, 60_000],
    [{ "Retry-After": "Tue, 31 Dec 2024 23:00:00 GMT" }, 0],
    [{ "Retry-After": "soon" }, undefined],
    [{}, undefined],
  ])("%j", (headers, ms) => {
    expect(retryAfterMs(new Headers(headers), now)).toBe(ms);
  });
});

describe("classifyHttp", () => {
  test.each([
    [200, "ok", undefined],
    [204, "ok", undefined],
    [408, "retryable", undefined],
    [425, "retryable", undefined],
    [500, "retryable", undefined],
    [503, "retryable", undefined],
    [501, "permanent", undefined],
    [400, "permanent", undefined],
    [401, "permanent", undefined],
    [404, "permanent", undefined],
    [429, "rate_limited", 7_000],
  ])("%d -> %s", (status, kind, wait) => {
    const out = classifyHttp(res(status, status >= 400 ? "nope" : "", { "Retry-After": "7" }));
    expect(out.kind).toBe(kind as never);
    expect(out.retryAfterMs).toBe(wait);
    if (kind !== "ok") expect(out.error).toBe(`HTTP ${status}: nope`);
  });

  test("429 without Retry-After has no wait", () => {
    expect(classifyHttp(res(429))).toEqual({ kind: "rate_limited", error: "HTTP 429", code: 429 });
  });
});

describe("classifyByCode", () => {
  const table: CodeTable = {
    codeFields: ["code", "StatusCode"],
    messageFields: ["msg", "StatusMessage"],
    rows: {
      [-1]: { kind: "retryable" },
      7: { kind: "rate_limited", retryAfterMs: 60_000 },
      9: { kind: "permanent", hint: "fix it" },
    },
  };
  test.each([
    [res(200, { code: 0, msg: "success" }), { kind: "ok" }],
    [res(200, { StatusCode: 0, StatusMessage: "success" }), { kind: "ok" }],
    [res(200, { code: -1, msg: "busy" }), { kind: "retryable", code: -1, error: "busy" }],
    [
      res(200, { code: 7, msg: "slow down" }),
      { kind: "rate_limited", code: 7, error: "slow down", retryAfterMs: 60_000 },
    ],
    [res(200, { code: 9, msg: "bad" }), { kind: "permanent", code: 9, error: "bad (fix it)" }],
    [res(200, { code: 12345 }), { kind: "permanent", code: 12345, error: "error 12345" }],
    [res(400, { code: 9, msg: "bad" }), { kind: "permanent", code: 9, error: "bad (fix it)" }],
    [
      res(200, "<html>gateway</html>"),
      { kind: "permanent", code: 200, error: "unexpected response: <html>gateway</html>" },
    ],
    [res(200, { data: {} }), { kind: "permanent", code: 200, error: 'unexpected response: {"data":{}}' }],
    [res(200, ""), { kind: "permanent", code: 200, error: "unexpected response: " }],
    [res(502, "bad gateway"), { kind: "retryable", code: 502, error: "HTTP 502: bad gateway" }],
    [res(404, "not found"), { kind: "permanent", code: 404, error: "HTTP 404: not found" }],
  ])("%j", (r, expected) => {
    expect(classifyByCode(r, table)).toEqual(expected as never);
  });

  test("an unparseable body is kept whole: the core redacts every secret first, then cuts", () => {
    const out = classifyByCode(res(200, "x".repeat(1000)), table);
    expect(out.error).toBe(`unexpected response: ${"x".repeat(1000)}`);
  });
});

describe("urlSecrets and redactUrl", () => {
  test.each([
    [
      "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7f2e-4bc4-97a0-0ec2fa5aaa11",
      ["693a91f6-7f2e-4bc4-97a0-0ec2fa5aaa11"],
      "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
    ],
    [
      "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx",
      ["T0123ABCD", "B0123ABCD", "abcdefghijklmnopqrstuvwx"],
      "https://hooks.slack.com/services/***/***/***",
    ],
    [
      "https://example.com/hook?a=1&b=two%20words",
      ["1", "two%20words", "two words"],
      "https://example.com/hook?a=***&b=***",
    ],
    ["https://user:p4ssw0rd@example.com/x", ["p4ssw0rd"], "https://example.com/x"],
  ])("%s", (url, secrets, redacted) => {
    const found = urlSecrets(url);
    expect(found).toContain(url);
    for (const s of secrets) expect(found).toContain(s);
    expect(found).not.toContain("services");
    expect(redactUrl(url)).toBe(redacted);
    for (const s of secrets) expect(redactUrl(url)).not.toContain(s);
  });

  test("an unparseable URL is fully hidden", () => {
    expect(redactUrl("key=abc")).toBe("***");
    expect(urlSecrets("key=abc")).toEqual(["key=abc"]);
  });

  test("rateKeyOf is stable, hides the URL and ignores the listed params", () => {
    const a = rateKeyOf("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t0k3n");
    expect(a).toMatch(/^dingtalk:[0-9a-f]{64}$/);
    expect(a).not.toContain("t0k3n");
    expect(
      rateKeyOf("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t0k3n&timestamp=1&sign=x", [
        "timestamp",
        "sign",
      ]),
    ).toBe(rateKeyOf("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t0k3n", ["timestamp", "sign"]));
    expect(rateKeyOf("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=other")).not.toBe(a);
  });
});

describe("text helpers", () => {
  test("errorText redacts URLs and collapses whitespace, and leaves the cut to the core", () => {
    const out = errorText(
      "bad hook https://hooks.example.com/services/abcdefghijklmnopqrstuvwxyz?key=s3cret\n\n  retry",
    );
    expect(out).toBe("bad hook https://hooks.example.com/services/***?key=*** retry");
    expect(errorText("é".repeat(400)).length).toBe(400);
  });

  test("truncateChars never splits a surrogate pair", () => {
    expect(truncateChars("😀😀😀", 2)).toBe("😀…");
    expect(truncateChars("abc", 3)).toBe("abc");
  });

  test.each([
    ["hello", undefined, "", "hello"],
    ["hello", "alert", "", "hello\nalert"],
    ["alert: disk full", "alert", "", "alert: disk full"],
    ["disk full", "alert", "alert title", "disk full"],
  ])("withKeyword(%p, %p)", (text, keyword, also, expected) => {
    expect(withKeyword(text, keyword, also)).toBe(expected);
  });
});

describe("signatures (platform test vectors)", () => {
  test("Feishu: key = timestamp + \\n + secret, empty message", () => {
    expect(feishuSign("demo", 1599360473)).toBe("l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=");
  });
  test("DingTalk: key = secret, URL-encoded", () => {
    expect(dingtalkSign("SEC0123456789abcdef", 1700000000002)).toBe(
      "VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D",
    );
  });
});
