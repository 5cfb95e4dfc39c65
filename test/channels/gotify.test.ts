import { describe, expect, test } from "bun:test";
import gotify from "../../src/channels/gotify.ts";
import { parseConfig } from "../../src/config/load.ts";
import { plan } from "../../src/core/dispatch.ts";
import { NOW, opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "AbcDEF123ghiJKL";
const base = opts(gotify, { type: "gotify", server: "https://push.example.com/gotify/", token: TOKEN });

describe("gotify payloads", () => {
  test("POST /message with the token in X-Gotify-Key, never in the URL", () => {
    const { req, json } = send(gotify, base, "disk full");
    expect(req.url).toBe("https://push.example.com/gotify/message");
    expect(req.url).not.toContain(TOKEN);
    expect(req.headers["X-Gotify-Key"]).toBe(TOKEN);
    expect(json).toEqual({ message: "disk full" });
  });

  test("title and priority; Markdown is marked for the clients through extras", () => {
    const o = opts(gotify, { type: "gotify", server: "https://push.example.com", token: TOKEN, priority: 8 });
    expect(send(gotify, o, "**x**", { format: "markdown", title: "T" }).json).toEqual({
      message: "**x**",
      title: "T",
      priority: 8,
      extras: { "client::display": { contentType: "text/markdown" } },
    });
    expect(send(gotify, o, "**x**", { format: "text" }).json.extras).toBeUndefined();
  });

  test("config: priority 0-10, token required", () => {
    expect(problems(gotify, { type: "gotify", server: "https://x.example", token: TOKEN, priority: 11 }).length).toBe(1);
    expect(problems(gotify, { type: "gotify", server: "https://x.example" })[0]).toStartWith("token:");
  });

  test("no documented limit: never split, no default rate", () => {
    expect(gotify.rate).toEqual([]);
    expect(gotify.limit(base, { format: "text", hasTitle: false }).max).toBe(Infinity);
    const t = parseConfig(`[channels.g]\ntype = "gotify"\nserver = "https://x.example"\ntoken = "${TOKEN}"`, "g.toml").channels.get("g")!;
    expect(plan(t, undefined, "x\n".repeat(100_000), "text", NOW).parts).toHaveLength(1);
  });
});

describe("gotify answers", () => {
  const err = (status: number, error: string, description: string) => res(status, { error, errorCode: status, errorDescription: description });

  test("ok is a stored message", () => {
    expect(gotify.classify(res(200, { id: 7, appid: 1, message: "x", date: "2025-01-01T00:00:00Z" }), base)).toEqual({ kind: "ok" });
    expect(gotify.classify(res(200, "<html>login</html>"), base).kind).toBe("permanent");
  });

  test.each([
    [401, "Unauthorized", "you need to provide a valid access token or user credentials to access this api", "permanent", "application token"],
    [403, "Forbidden", "you are not allowed to access this api", "permanent", "application token"],
    [400, "Bad Request", "Field 'message' is required", "permanent", "message"],
    [500, "Internal Server Error", "database locked", "retryable", "database"],
  ] as const)("%d -> %s", (status, error, description, kind, hint) => {
    const out = gotify.classify(err(status, error, description), base);
    expect(out).toMatchObject({ kind, code: status });
    expect(out.error).toContain(hint);
  });
});

describe("gotify secrets", () => {
  test("the token is a secret; the target is the server's /message URL, a relay's path hidden", () => {
    expect(gotify.secrets(base)).toContain(TOKEN);
    expect(gotify.target(base)).toBe("https://push.example.com/***/message");
    expect(gotify.target(base, `https://push.example.com/message?token=${TOKEN}`)).toBe("https://push.example.com/message?token=***");
    const o = opts(gotify, { type: "gotify", server: "https://admin:pa55word-x@push.example.com", token: TOKEN });
    expect(gotify.target(o)).toBe("https://push.example.com/message");
    expect(gotify.secrets(o)).toContain("pa55word-x");
  });

  test("an answer quoting the token never shows it once redacted by the core", () => {
    const out = gotify.classify(res(401, { error: "Unauthorized", errorCode: 401, errorDescription: `bad token https://push.example.com/message?token=${TOKEN}` }), base);
    expect(out.error).not.toContain(TOKEN);
  });
});
