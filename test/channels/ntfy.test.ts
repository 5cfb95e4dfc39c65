import { describe, expect, test } from "bun:test";
import ntfy from "../../src/channels/ntfy.ts";
import { parseConfig } from "../../src/config/load.ts";
import { plan } from "../../src/core/dispatch.ts";
import { NOW, opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2";
const open = opts(ntfy, { type: "ntfy", topic: "pp_alerts_7f3k2" });
const withToken = opts(ntfy, { type: "ntfy", topic: "alerts", token: TOKEN, server: "https://ntfy.example.com/" });
const withLogin = opts(ntfy, { type: "ntfy", topic: "alerts", user: "ops", password: "hunter2-long" });

describe("ntfy payloads", () => {
  test("JSON publishing to the server's root URL, no auth by default", () => {
    const { req, json } = send(ntfy, open, "disk full");
    expect(req.url).toBe("https://ntfy.sh/");
    expect(req.headers.Authorization).toBeUndefined();
    expect(json).toEqual({ topic: "pp_alerts_7f3k2", message: "disk full" });
  });

  test("title, priority by name or number, tags, and the markdown flag only for Markdown", () => {
    const o = opts(ntfy, { type: "ntfy", topic: "a", priority: "urgent", tags: ["warning", "rocket"] });
    expect(send(ntfy, o, "**x**", { format: "markdown", title: "Déploiement 🚀 (1/2)" }).json).toEqual({
      topic: "a",
      message: "**x**",
      title: "Déploiement 🚀 (1/2)",
      priority: 5,
      tags: ["warning", "rocket"],
      markdown: true,
    });
    expect(send(ntfy, opts(ntfy, { type: "ntfy", topic: "a", priority: 2 }), "x").json).toEqual({ topic: "a", message: "x", priority: 2 });
    // Text is sent as written: ntfy shows it as such unless the message says Markdown.
    expect(send(ntfy, open, "**x** <b>", { format: "text" }).json.message).toBe("**x** <b>");
  });

  test("a non-ASCII title travels in the JSON body, never in a header", () => {
    const { req } = send(ntfy, open, "x", { title: "数据库告警" });
    for (const v of Object.values(req.headers)) expect(v).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(req.body!).title).toBe("数据库告警");
  });

  test("Bearer token, or Basic user:password", () => {
    const t = send(ntfy, withToken, "x").req;
    expect(t.url).toBe("https://ntfy.example.com/");
    expect(t.headers.Authorization).toBe(`Bearer ${TOKEN}`);
    expect(send(ntfy, withLogin, "x").req.headers.Authorization).toBe(`Basic ${Buffer.from("ops:hunter2-long").toString("base64")}`);
  });

  test("config: topic shape, priority range, user and password together, token or login", () => {
    expect(problems(ntfy, { type: "ntfy", topic: "bad topic!" })[0]).toStartWith("topic:");
    expect(problems(ntfy, { type: "ntfy", topic: "a", priority: 6 }).length).toBe(1);
    expect(problems(ntfy, { type: "ntfy", topic: "a", priority: "loud" }).length).toBe(1);
    expect(problems(ntfy, { type: "ntfy", topic: "a", user: "ops" })).toEqual(["password: user and password go together: set both or neither"]);
    expect(problems(ntfy, { type: "ntfy", topic: "a", user: "u", password: "p", token: TOKEN })).toEqual(["token: set token or user and password, not both"]);
  });
});

describe("ntfy limits", () => {
  test("4096 bytes of message; the title is not counted", () => {
    expect(ntfy.limit(open, { format: "text", hasTitle: true })).toEqual({ max: 4096, unit: "bytes", scope: "content" });
    expect(ntfy.measure(send(ntfy, open, "数据", { title: "long title" }).req, open, { format: "text" })).toBe(6);
  });

  test("a long message splits into parts of at most 4096 bytes", () => {
    const t = parseConfig('[channels.n]\ntype = "ntfy"\ntopic = "a"', "n.toml").channels.get("n")!;
    const text = Array.from({ length: 300 }, (_, i) => `line ${i} 数据库 🚀`).join("\n");
    const p = plan(t, "T", text, "text", NOW);
    expect(p.parts.length).toBeGreaterThan(1);
    for (const part of p.parts) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(4096);
    expect(p.parts.join("\n")).toBe(text);
  });

  test("rate 12/min (a bucket of 60 refilled one per 5 s); the key is the visitor, not the topic", () => {
    expect(ntfy.rate).toEqual(["12/min"]);
    const other = opts(ntfy, { type: "ntfy", topic: "other" });
    expect(ntfy.rateKey(open)).toBe(ntfy.rateKey(other));
    expect(ntfy.rateKey(open)).not.toBe(ntfy.rateKey(withToken));
  });
});

describe("ntfy answers", () => {
  const err = (code: number, error: string, headers: Record<string, string> = {}) =>
    res(Math.floor(code / 100), { code, http: Math.floor(code / 100), error, link: "https://ntfy.sh/docs/publish/#limitations" }, headers);

  test("ok is a stored message with an id", () => {
    expect(ntfy.classify(res(200, { id: "a1", time: 1, event: "message", topic: "a" }), open)).toEqual({ kind: "ok" });
    expect(ntfy.classify(res(200, "<html>captive portal</html>"), open).kind).toBe("permanent");
  });

  test.each([
    [40101, "unauthorized", "permanent", "check token"],
    [40301, "forbidden", "permanent", "may not publish"],
    [41301, "invalid request: message too large", "permanent", "too large"],
    [50001, "internal server error", "retryable", "internal"],
  ] as const)("%d -> %s", (code, error, kind, hint) => {
    const out = ntfy.classify(err(code, error), open);
    expect(out).toMatchObject({ kind, code });
    expect(out.error).toContain(hint);
  });

  test("the topic limit (42904) and the daily quota (42908) are not retried: waiting seconds does not lift them", () => {
    expect(ntfy.classify(err(42904, "limit reached: the total number of topics on the server has been reached, please contact the admin"), open)).toMatchObject({ kind: "permanent", code: 42904 });
    expect(ntfy.classify(err(42908, "limit reached: too many messages, please be nice"), open)).toMatchObject({ kind: "permanent", code: 42908 });
  });

  test("42901 waits a bucket refill (5 s) unless Retry-After says otherwise", () => {
    expect(ntfy.classify(err(42901, "limit reached: too many requests"), open)).toMatchObject({ kind: "rate_limited", code: 42901, retryAfterMs: 5000 });
    expect(ntfy.classify(err(42901, "limit reached", { "Retry-After": "30" }), open)).toMatchObject({ retryAfterMs: 30_000 });
  });
});

describe("ntfy secrets", () => {
  test("without a login the topic is the secret: hidden in target, listed in secrets", () => {
    expect(ntfy.target(open)).toBe("https://ntfy.sh/***");
    expect(ntfy.target(open, send(ntfy, open, "x").req.url)).toBe("https://ntfy.sh/");
    expect(ntfy.secrets(open)).toContain("pp_alerts_7f3k2");
  });

  test("with a token or login the topic shows, and the credentials are secrets", () => {
    expect(ntfy.target(withToken)).toBe("https://ntfy.example.com/alerts");
    expect(ntfy.secrets(withToken)).toEqual([TOKEN]);
    expect(ntfy.secrets(withLogin)).toEqual(["hunter2-long", Buffer.from("ops:hunter2-long").toString("base64")]);
  });

  test("a server URL with a login: the login is a secret and never shown", () => {
    const o = opts(ntfy, { type: "ntfy", topic: "a", token: TOKEN, server: "https://me:s3cret-pass@ntfy.example.com" });
    expect(ntfy.target(o)).toBe("https://ntfy.example.com/a");
    expect(ntfy.secrets(o)).toContain("s3cret-pass");
  });
});
