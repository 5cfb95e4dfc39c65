import { describe, expect, test } from "bun:test";
import webhook, { validateTemplate } from "../../src/channels/webhook.ts";
import { NOW, ctx, opts, problems, res } from "./_fixtures.ts";

const URL_ = "https://hooks.example.com/notify?token=t0k3n-abc";
const base = opts(webhook, { type: "webhook", url: URL_ });
const TIMESTAMP = new Date(NOW).toISOString();

describe("webhook default request", () => {
  test("POST JSON with title, text, format and timestamp", () => {
    const req = webhook.build('say "hi"\n', ctx({ title: "T" }), base);
    expect(req).toMatchObject({ method: "POST", url: URL_ });
    expect(req.headers).toEqual({ "User-Agent": "pp", "Content-Type": "application/json; charset=utf-8" });
    expect(JSON.parse(req.body!)).toEqual({ title: "T", text: 'say "hi"\n', format: "text", timestamp: TIMESTAMP });
  });

  test("no title is null", () => {
    expect(JSON.parse(webhook.build("x", ctx(), base).body!).title).toBeNull();
  });

  test("a non-JSON content type without a template sends the text itself", () => {
    const o = opts(webhook, { type: "webhook", url: URL_, content_type: "text/plain; charset=utf-8" });
    expect(webhook.build("hello", ctx(), o)).toMatchObject({
      body: "hello",
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  });

  test("GET has no body and no content type; URL substitutions are percent-encoded", () => {
    const o = opts(webhook, {
      type: "webhook",
      method: "GET",
      url: "https://example.com/push?msg={{ text }}&t={{ title | url }}",
    });
    const req = webhook.build("a b&c=d", ctx({ title: "x/y" }), o);
    expect(req).toEqual({
      method: "GET",
      url: "https://example.com/push?msg=a%20b%26c%3Dd&t=x%2Fy",
      headers: { "User-Agent": "pp" },
    });
  });

  test("user headers are added and override defaults, whatever their case", () => {
    const o = opts(webhook, {
      type: "webhook",
      url: URL_,
      method: "PUT",
      headers: { Authorization: "Bearer abc123xyz", "user-agent": "mine" },
    });
    const req = webhook.build("x", ctx(), o);
    expect(req.method).toBe("PUT");
    expect(req.headers).toEqual({
      "Content-Type": "application/json; charset=utf-8",
      Authorization: "Bearer abc123xyz",
      "user-agent": "mine",
    });
  });
});

describe("webhook templates", () => {
  const withBody = (body: string) => opts(webhook, { type: "webhook", url: URL_, body });
  const render = (body: string, text: string, title?: string, format: "text" | "markdown" = "markdown") =>
    webhook.build(text, ctx({ title, format }), withBody(body)).body!;

  test("json filter: a complete JSON value, escaping quotes, backslashes, newlines and U+2028/2029", () => {
    const text = 'He said "hi" \\ bye\nnext\u2028line\u2029end\ttab';
    const out = render('{"msg": {{ text | json }}}', text);
    expect(out).toContain("\\u2028");
    expect(out).toContain("\\u2029");
    expect(out).not.toMatch(/[\u2028\u2029\n]/);
    expect(JSON.parse(out)).toEqual({ msg: text });
  });

  test("json_escape: the inside of a string", () => {
    const out = render('{"msg": "[pp] {{ title | json_escape }}: {{text|json_escape}}"}', 'a "b"\nc', 'T "1"');
    expect(JSON.parse(out)).toEqual({ msg: '[pp] T "1": a "b"\nc' });
  });

  test("plain variables insert raw text; a missing title is null through json", () => {
    expect(render('{"f": "{{ format }}", "at": "{{timestamp}}", "t": {{ title | json }}}', "x")).toBe(
      `{"f": "markdown", "at": "${TIMESTAMP}", "t": null}`,
    );
  });

  test("outside JSON, a raw title is the text as is, or empty", () => {
    const o = opts(webhook, {
      type: "webhook",
      url: URL_,
      content_type: "text/plain",
      body: "[{{ title }}] {{ text }}",
    });
    expect(webhook.build('a "b"', ctx({ title: 'T "1"' }), o).body).toBe('[T "1"] a "b"');
    expect(webhook.build("a", ctx(), o).body).toBe("[] a");
  });

  test("url filter and chains", () => {
    const o = opts(webhook, {
      type: "webhook",
      url: URL_,
      content_type: "application/x-www-form-urlencoded",
      body: "text={{ text | url }}&q={{ text | json | url }}",
    });
    expect(webhook.build('a&b "c"', ctx(), o).body).toBe("text=a%26b%20%22c%22&q=%22a%26b%20%5C%22c%5C%22%22");
  });

  test.each([
    ['{"msg": {{ text | json }}}', undefined],
    ['{"msg": "{{ text | json_escape }}", "n": 1}', undefined],
    ["text={{ text }}", /valid JSON/],
    ['{"msg": "{{ text }}"}', /valid JSON.*\{\{ text \}\} inserts raw text; write \{\{ text \| json \}\}/],
    ['{"t": "{{ title }}", "m": {{ text | json }}}', /\{\{ title \}\} inserts raw text/],
    [
      '{"n": {{ format }}, "key": "s3cr3t"}',
      /^body does not render to valid JSON for a sample message \(JSON Parse error: [^)]+\)$/,
    ],
    ['{"msg": {{ message | json }}}', /unknown variable "message".*known: text, title, format, timestamp/],
    ['{"msg": {{ text | upper }}}', /unknown filter "upper".*known: json, json_escape, url/],
    ['{"msg": {{ text | toString }}}', /unknown filter "toString"/],
    ['{"msg": {{ constructor | json }}}', /unknown variable "constructor"/],
    ['{"msg": {{ text | json }}', /valid JSON/],
    ['{"msg": {{ text | json }', /no matching/],
  ])("validateTemplate(%p)", (body, problem) => {
    const found = validateTemplate(body);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  test("only JSON content types require JSON", () => {
    expect(validateTemplate("text={{ text | url }}", "application/x-www-form-urlencoded")).toBeUndefined();
    expect(validateTemplate("{{ nope }}", "text/plain")).toMatch(/unknown variable "nope"/);
    expect(validateTemplate("not json", "application/vnd.api+json")).toMatch(/valid JSON/);
  });
});

describe("webhook classify", () => {
  const strict = opts(webhook, { type: "webhook", url: URL_, success: { path: "errcode", equals: 0 } });
  const nested = opts(webhook, { type: "webhook", url: URL_, success: { path: "data.status", equals: "sent" } });
  test.each([
    [base, res(200, "anything"), { kind: "ok" }],
    [base, res(204), { kind: "ok" }],
    [base, res(500, "boom"), { kind: "retryable", error: "HTTP 500: boom" }],
    [base, res(429, "", { "Retry-After": "5" }), { kind: "rate_limited", retryAfterMs: 5000 }],
    [base, res(403, "forbidden"), { kind: "permanent" }],
    [strict, res(200, { errcode: 0, errmsg: "ok" }), { kind: "ok" }],
    [strict, res(200, { errcode: 40001, errmsg: "bad token" }), { kind: "permanent", code: 40001 }],
    [strict, res(200, { errmsg: "?" }), { kind: "permanent", error: 'errcode is missing, expected 0: {"errmsg":"?"}' }],
    [strict, res(200, "<html>"), { kind: "permanent", error: "unexpected response: <html>" }],
    [strict, res(502, "bad gateway"), { kind: "retryable" }],
    [nested, res(200, { data: { status: "sent" } }), { kind: "ok" }],
    [nested, res(200, { data: { status: "queued" } }), { kind: "permanent", code: "queued" }],
  ])("%#", (o, r, expected) => {
    expect(webhook.classify(r, o)).toMatchObject(expected as never);
  });

  test("a failed success check quotes the answer", () => {
    expect(webhook.classify(res(200, { errcode: 40001, errmsg: "bad token" }), strict).error).toBe(
      'errcode is 40001, expected 0: {"errcode":40001,"errmsg":"bad token"}',
    );
  });
});

describe("webhook config", () => {
  test("defaults", () => {
    expect(base.method).toBe("POST");
    expect(base.content_type).toBe("application/json; charset=utf-8");
    expect(webhook.rate).toEqual([]);
    expect(webhook.limit(base, { format: "text", hasTitle: false }).max).toBe(Infinity);
  });

  test.each([
    [{ type: "webhook" }, "url"],
    [{ type: "webhook", url: "mailto:a@example.com" }, "url: must be an http(s) URL"],
    [{ type: "webhook", url: URL_, methd: "POST" }, "methd"],
    [{ type: "webhook", url: URL_, method: "DELETE" }, "method"],
    [{ type: "webhook", url: URL_, headers: { "X-A": "1\r\nX-Injected: 2" } }, "must not contain line breaks"],
    [{ type: "webhook", url: URL_, headers: { "Bad Name": "1" } }, "header names"],
    [{ type: "webhook", url: URL_, headers: { "X-N": 1 } }, "headers"],
    [{ type: "webhook", url: URL_, body: '{"m": "{{ text }}"}' }, "body: body does not render to valid JSON"],
    [{ type: "webhook", url: URL_, body: "{{ txt | json }}" }, 'body: unknown variable "txt"'],
    [{ type: "webhook", url: "https://x.example/{{ msg }}" }, 'url: unknown variable "msg"'],
    [{ type: "webhook", url: URL_, method: "GET", body: "{}" }, "method: a GET request has no body"],
    [{ type: "webhook", url: URL_, success: { path: "errcode" } }, "success.equals"],
    [{ type: "webhook", url: URL_, success: { path: "errcode", equals: 0, extra: 1 } }, "success.extra"],
    [{ type: "webhook", url: URL_, rate: "3/fortnight" }, 'invalid rate "3/fortnight"'],
  ])("rejects %j", (input, fragment) => {
    expect(problems(webhook, input).some((p) => p.includes(fragment))).toBe(true);
  });
});

describe("webhook secrets", () => {
  const o = opts(webhook, {
    type: "webhook",
    url: URL_,
    headers: {
      Authorization: "Bearer s3cr3t-bearer",
      "X-Api-Key": "k3y",
      Accept: "application/json",
      "Content-Type": "application/json",
    },
  });

  test("URL tokens and non-descriptive header values are secrets", () => {
    const s = webhook.secrets(o);
    expect(s).toEqual(expect.arrayContaining([URL_, "t0k3n-abc", "Bearer s3cr3t-bearer", "s3cr3t-bearer", "k3y"]));
    expect(s).not.toContain("application/json");
  });

  test("target shows scheme, host and port only; rateKey hides the token", () => {
    expect(webhook.target(o)).toBe("https://hooks.example.com/***");
    expect(webhook.rateKey(o)).toMatch(/^webhook:[0-9a-f]{64}$/);
  });
});
