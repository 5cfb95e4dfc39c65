import { describe, expect, test } from "bun:test";
import slack from "../../src/channels/slack.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const SECRET = "Xk9aB3dE5fG7hJ1kL2mN4pQ6";
const WEBHOOK = `https://hooks.slack.com/services/T0123ABCD/B0123ABCD/${SECRET}`;
const base = opts(slack, { type: "slack", webhook: WEBHOOK });

describe("slack payloads", () => {
  test("text without a title is just {text}", () => {
    const { req, json } = send(slack, base, "deploy done");
    expect(req).toMatchObject({ method: "POST", url: WEBHOOK });
    expect(json).toEqual({ text: "deploy done" });
  });

  test("plain text escapes only & < > (so <!channel> cannot ping)", () => {
    expect(send(slack, base, "a & b <!channel> *not bold* _x_ > q").json.text).toBe(
      "a &amp; b &lt;!channel&gt; *not bold* _x_ &gt; q",
    );
  });

  test("a title becomes a header block, the part a mrkdwn section, and text the fallback", () => {
    const { json } = send(slack, base, "*bold* part", { title: "Deploy <prod> (1/2)" });
    expect(json.blocks).toEqual([
      { type: "header", text: { type: "plain_text", text: "Deploy <prod> (1/2)" } },
      { type: "section", text: { type: "mrkdwn", text: "*bold* part" } },
    ]);
    expect(json.text).toBe("Deploy &lt;prod&gt; (1/2)\n*bold* part");
  });

  test("the header is cut to 150 characters", () => {
    const header: string = send(slack, base, "x", { title: "t".repeat(300) }).json.blocks[0].text.text;
    expect(Array.from(header)).toHaveLength(150);
  });

  test("an empty part sends no empty section", () => {
    expect(send(slack, base, "", { title: "only a title" }).json.blocks).toHaveLength(1);
  });

  test("markdown is converted to mrkdwn", () => {
    const text: string = send(slack, base, "**bold** and [link](https://example.com)", { format: "markdown" }).json
      .text;
    expect(text).toContain("*bold*");
    expect(text).not.toContain("**bold**");
    expect(text).toContain("<https://example.com|link>");
  });
});

describe("slack limits", () => {
  test("3000 characters of section text", () => {
    expect(slack.limit(base, { format: "text", hasTitle: true })).toEqual({
      max: 3000,
      unit: "chars",
      scope: "content",
    });
    const titled = send(slack, base, "12345", { title: "a much longer title" }).req;
    expect(slack.measure(titled, base, { format: "text" })).toBe(5);
    expect(slack.measure(send(slack, base, "a<b").req, base, { format: "text" })).toBe("a&lt;b".length);
  });
});

describe("slack classify", () => {
  test.each([
    [200, "ok", "ok"],
    [400, "invalid_payload", "permanent"],
    [400, "user_not_found", "permanent"],
    [400, "no_text", "permanent"],
    [400, "too_many_attachments", "permanent"],
    [403, "action_prohibited", "permanent"],
    [403, "invalid_token", "permanent"],
    [404, "channel_not_found", "permanent"],
    [404, "no_service", "permanent"],
    [404, "no_active_hooks", "permanent"],
    [410, "channel_is_archived", "permanent"],
    [410, "team_disabled", "permanent"],
    [400, "posting_to_general_channel_denied", "permanent"],
    [500, "rollup_error", "retryable"],
    [503, "", "retryable"],
    [418, "teapot", "permanent"],
  ])("%d %s -> %s", (status, body, kind) => {
    const out = slack.classify(res(status, body), base);
    expect(out.kind).toBe(kind as never);
    if (kind !== "ok" && body) expect(out.error).toBe(body);
  });

  test("the error string is the code", () => {
    expect(slack.classify(res(404, "no_service\n"), base)).toEqual({
      kind: "permanent",
      error: "no_service",
      code: "no_service",
    });
  });

  test("429 honours Retry-After", () => {
    expect(slack.classify(res(429, "rate limited", { "Retry-After": "3" }), base)).toMatchObject({
      kind: "rate_limited",
      retryAfterMs: 3000,
    });
  });
});

describe("slack config and secrets", () => {
  test.each([
    [{ type: "slack" }, "webhook"],
    [{ type: "slack", webhook: "hooks.slack.com/services/x" }, "must be an http(s) URL"],
    [{ type: "slack", webhook: WEBHOOK, channel: "#general" }, "channel"],
    [{ type: "slack", webhook: WEBHOOK, rate: "1/jiffy" }, 'invalid rate "1/jiffy"'],
  ])("rejects %j", (input, fragment) => {
    expect(problems(slack, input).some((p) => p.includes(fragment))).toBe(true);
  });

  test("target hides every path token", () => {
    expect(slack.target(base)).toBe("https://hooks.slack.com/services/***/***/***");
    expect(slack.secrets(base)).toContain(SECRET);
    expect(slack.rate).toEqual(["1/s"]);
  });
});
