import { describe, expect, test } from "bun:test";
import mattermost from "../../src/channels/mattermost.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const HOOK = "x1y2z3a4b5c6d7e8f9g0h1i2j3";
const WEBHOOK = `https://chat.example.com/hooks/${HOOK}`;
const base = opts(mattermost, { type: "mattermost", webhook: WEBHOOK });

describe("mattermost payloads", () => {
  test("text only", () => {
    const { req, json } = send(mattermost, base, "deploy done");
    expect(req.url).toBe(WEBHOOK);
    expect(json).toEqual({ text: "deploy done" });
  });

  test("title as a #### heading, and the overrides", () => {
    const o = opts(mattermost, {
      type: "mattermost",
      webhook: WEBHOOK,
      channel: "town-square",
      username: "ci-bot",
      icon_url: "https://example.com/bot.png",
      icon_emoji: ":robot:",
    });
    expect(send(mattermost, o, "**x**", { format: "markdown", title: "Deploy" }).json).toEqual({
      text: "#### Deploy\n**x**",
      channel: "town-square",
      username: "ci-bot",
      icon_url: "https://example.com/bot.png",
      icon_emoji: ":robot:",
    });
  });
});

describe("mattermost limits", () => {
  test("16383 characters of text, title included", () => {
    expect(mattermost.limit(base, { format: "markdown", hasTitle: false })).toEqual({
      max: 16_383,
      unit: "chars",
      scope: "content",
    });
    expect(mattermost.measure(send(mattermost, base, "abc", { title: "T" }).req, base, { format: "text" })).toBe(
      "#### T\nabc".length,
    );
  });
  test("no default rate", () => {
    expect(mattermost.rate).toEqual([]);
  });
});

describe("mattermost classify", () => {
  test.each([
    [res(200, "ok"), { kind: "ok" }],
    [
      res(400, {
        id: "web.incoming_webhook.text.app_error",
        message: "No text specified",
        detailed_error: "",
        status_code: 400,
      }),
      { kind: "permanent", error: "No text specified", code: "web.incoming_webhook.text.app_error" },
    ],
    [
      res(400, { id: "web.incoming_webhook.invalid.app_error", message: "Invalid webhook", status_code: 400 }),
      { kind: "permanent", error: "Invalid webhook" },
    ],
    [
      res(501, { id: "web.incoming_webhook.disabled.app_error", message: "Incoming webhooks have been disabled" }),
      { kind: "permanent", error: "Incoming webhooks have been disabled" },
    ],
    [res(503, "unavailable"), { kind: "retryable" }],
    [res(429, "slow down", { "Retry-After": "4" }), { kind: "rate_limited", retryAfterMs: 4000 }],
    [res(404, "<html>not found</html>"), { kind: "permanent", error: "HTTP 404: <html>not found</html>" }],
  ])("%j", (r, expected) => {
    expect(mattermost.classify(r, base)).toMatchObject(expected as never);
  });
});

describe("mattermost config and secrets", () => {
  test.each([
    [{ type: "mattermost" }, "webhook"],
    [{ type: "mattermost", webhook: WEBHOOK, icon_url: "bot.png" }, "must be an http(s) URL"],
    [{ type: "mattermost", webhook: WEBHOOK, icon: ":x:" }, "icon"],
    [{ type: "mattermost", webhook: WEBHOOK, channel: "" }, "must not be empty"],
    [{ type: "mattermost", webhook: WEBHOOK, retries: "3" }, "retries"],
  ])("rejects %j", (input, fragment) => {
    expect(problems(mattermost, input).some((p) => p.includes(fragment))).toBe(true);
  });

  test("target hides the hook id", () => {
    expect(mattermost.target(base)).toBe("https://chat.example.com/hooks/***");
    expect(mattermost.secrets(base)).toContain(HOOK);
  });
});
