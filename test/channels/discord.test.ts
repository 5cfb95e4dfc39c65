import { describe, expect, test } from "bun:test";
import discord from "../../src/channels/discord.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "aBcD3fGh1jKlMn0pQrStUvWxYz-_1234567890abcdefGHIJ";
const WEBHOOK = `https://discord.com/api/webhooks/123456789012345678/${TOKEN}`;
const base = opts(discord, { type: "discord", webhook: WEBHOOK });

describe("discord payloads", () => {
  test("no title: content, no pings, wait=true", () => {
    const { req, json } = send(discord, base, "deploy done @everyone");
    expect(req.url).toBe(`${WEBHOOK}?wait=true`);
    expect(json).toEqual({ allowed_mentions: { parse: [] }, content: "deploy done @everyone" });
  });

  test("wait=true keeps existing query parameters", () => {
    const o = opts(discord, { type: "discord", webhook: `${WEBHOOK}?thread_id=42` });
    expect(send(discord, o, "x").req.url).toBe(`${WEBHOOK}?thread_id=42&wait=true`);
  });

  test("the retired discordapp.com host is sent to discord.com", () => {
    const o = opts(discord, { type: "discord", webhook: WEBHOOK.replace("discord.com", "discordapp.com") });
    expect(send(discord, o, "x").req.url).toBe(`${WEBHOOK}?wait=true`);
  });

  test("a title makes an embed with the part as its description", () => {
    const { json } = send(discord, base, "**bold**", { format: "markdown", title: "Deploy (1/2)" });
    expect(json.content).toBeUndefined();
    expect(json.embeds).toEqual([{ title: "Deploy (1/2)", description: "**bold**" }]);
  });

  test("username, avatar and the mention policy", () => {
    const o = opts(discord, {
      type: "discord",
      webhook: WEBHOOK,
      username: "ci-bot",
      avatar_url: "https://example.com/a.png",
      mentions: ["users", "roles"],
    });
    expect(send(discord, o, "x").json).toEqual({
      allowed_mentions: { parse: ["users", "roles"] },
      username: "ci-bot",
      avatar_url: "https://example.com/a.png",
      content: "x",
    });
  });
});

describe("discord limits", () => {
  test.each([
    [false, 2000],
    [true, 4096],
  ])("hasTitle=%p -> %d chars", (hasTitle, max) => {
    expect(discord.limit(base, { format: "text", hasTitle })).toEqual({ max, unit: "chars", scope: "content" });
  });

  test("measure counts the content or the description", () => {
    expect(discord.measure(send(discord, base, "héllo").req, base, { format: "text" })).toBe(5);
    expect(discord.measure(send(discord, base, "😀", { title: "long title" }).req, base, { format: "text" })).toBe(2);
  });
});

describe("discord classify", () => {
  test.each([
    [res(200, { id: "1", content: "x" }), { kind: "ok" }],
    [res(204), { kind: "ok" }],
    [
      res(429, { message: "You are being rate limited.", retry_after: 1.234, global: false }),
      { kind: "rate_limited", retryAfterMs: 1234 },
    ],
    [res(429, "", { "Retry-After": "2" }), { kind: "rate_limited", retryAfterMs: 2000 }],
    [
      res(404, { message: "Unknown Webhook", code: 10015 }),
      { kind: "permanent", code: 10015, error: "Unknown Webhook (10015)" },
    ],
    [res(401, { message: "Invalid Webhook Token", code: 50027 }), { kind: "permanent", code: 50027 }],
    [res(400, { message: "Cannot send an empty message", code: 50006 }), { kind: "permanent", code: 50006 }],
    [res(502, "<html>bad gateway</html>"), { kind: "retryable" }],
    [res(500, { message: "Internal Server Error", code: 0 }), { kind: "retryable" }],
  ])("%j", (r, expected) => {
    expect(discord.classify(r, base)).toMatchObject(expected as never);
  });

  test("an exhausted bucket on a success asks the core to wait before the next request", () => {
    const exhausted = res(200, { id: "1" }, { "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.5" });
    expect(discord.classify(exhausted, base)).toEqual({ kind: "ok", retryAfterMs: 1500 });
    const left = res(200, { id: "1" }, { "X-RateLimit-Remaining": "3", "X-RateLimit-Reset-After": "1.5" });
    expect(discord.classify(left, base)).toEqual({ kind: "ok" });
  });

  test("400 names the first invalid field", () => {
    const body = {
      code: 50035,
      message: "Invalid Form Body",
      errors: {
        embeds: {
          "0": {
            description: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: "Must be 4096 or fewer in length." }] },
          },
        },
      },
    };
    expect(discord.classify(res(400, body), base)).toEqual({
      kind: "permanent",
      code: 50035,
      error: "Invalid Form Body (50035): embeds.0.description: Must be 4096 or fewer in length.",
    });
  });
});

describe("discord config and secrets", () => {
  test.each([
    [{ type: "discord" }, "webhook"],
    [{ type: "discord", webhook: WEBHOOK, username: "Discord Bot" }, 'must not contain "discord"'],
    [{ type: "discord", webhook: WEBHOOK, username: "my-clyde" }, 'must not contain "discord" or "clyde"'],
    [{ type: "discord", webhook: WEBHOOK, username: "x".repeat(81) }, "at most 80"],
    [{ type: "discord", webhook: WEBHOOK, mentions: ["here"] }, "mentions"],
    [{ type: "discord", webhook: WEBHOOK, avatar_url: "data:image/png;base64,AAAA" }, "must be an http(s) URL"],
    [{ type: "discord", webhook: WEBHOOK, avatar: "x" }, "avatar"],
    [{ type: "discord", webhook: WEBHOOK, rate: "5/2" }, 'invalid rate "5/2"'],
  ])("rejects %j", (input, fragment) => {
    expect(problems(discord, input).some((p) => p.includes(fragment))).toBe(true);
  });

  test("target hides the id and the token", () => {
    expect(discord.target(base)).toBe("https://discord.com/api/webhooks/***/***");
    expect(discord.secrets(base)).toContain(TOKEN);
    expect(discord.rate).toEqual(["5/2s"]);
  });
});
