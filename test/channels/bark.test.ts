import { describe, expect, test } from "bun:test";
import bark from "../../src/channels/bark.ts";
import { parseConfig } from "../../src/config/load.ts";
import { plan } from "../../src/core/dispatch.ts";
import { NOW, opts, problems, res, send } from "./_fixtures.ts";

const KEY = "ynJ5Ft4atkMkWeo2PAvFhF";
const KEY2 = "Zx9Ft4atkMkWeo2PAvFhQ";
const base = opts(bark, { type: "bark", key: KEY });

describe("bark payloads", () => {
  test("POST /push on api.day.app with the key in the body", () => {
    const { req, json } = send(bark, base, "disk full", { title: "DB" });
    expect(req.url).toBe("https://api.day.app/push");
    expect(req.url).not.toContain(KEY);
    expect(json).toEqual({ device_key: KEY, title: "DB", body: "disk full" });
  });

  test("options pass through; several keys go in one batch request", () => {
    const o = opts(bark, {
      type: "bark",
      keys: [KEY, KEY2],
      server: "https://bark.example.com/",
      group: "ops",
      level: "critical",
      sound: "alarm",
      icon: "https://example.com/i.png",
      url: "myapp://open/12",
    });
    const { req, json } = send(bark, o, "x");
    expect(req.url).toBe("https://bark.example.com/push");
    expect(json).toEqual({ device_keys: [KEY, KEY2], body: "x", group: "ops", level: "critical", sound: "alarm", icon: "https://example.com/i.png", url: "myapp://open/12" });
  });

  test("Markdown is reduced to plain text; text is sent as written", () => {
    expect(send(bark, base, "**db-1** [down](https://x.example)", { format: "markdown" }).json.body).toBe("db-1 down (https://x.example)");
    expect(send(bark, base, "**as is** <b>", { format: "text" }).json.body).toBe("**as is** <b>");
  });

  test("config: key or keys, not both, not neither; level is one of four", () => {
    expect(problems(bark, { type: "bark" })).toEqual(["key: is required (or keys, for several devices)"]);
    expect(problems(bark, { type: "bark", key: KEY, keys: [KEY2] })).toEqual(["keys: set key or keys, not both"]);
    expect(problems(bark, { type: "bark", keys: [] }).length).toBe(1);
    expect(problems(bark, { type: "bark", key: KEY, level: "loud" })[0]).toStartWith("level:");
    expect(problems(bark, { type: "bark", key: "a/b" })[0]).toStartWith("key:");
  });

  test("config: several keys need a server of one's own, since api.day.app takes no batch; one key in a list is fine", () => {
    expect(problems(bark, { type: "bark", keys: [KEY, KEY2] })).toEqual([
      "keys: several keys go in one batch request, which api.day.app does not accept; set server to your own bark-server (2.1.9 or later), or make one bark channel per key and put them in a group",
    ]);
    expect(problems(bark, { type: "bark", keys: [KEY, KEY2], server: "https://api.day.app/" }).length).toBe(1);
    expect(problems(bark, { type: "bark", keys: [KEY] })).toEqual([]);
    expect(problems(bark, { type: "bark", keys: [KEY, KEY2], server: "https://bark.example.com" })).toEqual([]);
  });
});

describe("bark limits", () => {
  test("3000 bytes of title and body, split beyond", () => {
    expect(bark.limit(base, { format: "text", hasTitle: true })).toEqual({ max: 3000, unit: "bytes", scope: "content" });
    expect(bark.measure(send(bark, base, "数据", { title: "ab" }).req, base, { format: "text" })).toBe(8);
    const t = parseConfig(`[channels.b]\ntype = "bark"\nkey = "${KEY}"`, "b.toml").channels.get("b")!;
    const text = Array.from({ length: 200 }, (_, i) => `line ${i} 数据库`).join("\n");
    const p = plan(t, "Title", text, "text", NOW);
    expect(p.parts.length).toBeGreaterThan(1);
    p.parts.forEach((part, i) => expect(Buffer.byteLength(part) + Buffer.byteLength(p.titles[i]!)).toBeLessThanOrEqual(3000));
  });
});

describe("bark answers", () => {
  test("ok is code 200; a batch with a failed device is reported", () => {
    expect(bark.classify(res(200, { code: 200, message: "success", timestamp: 1 }), base)).toEqual({ kind: "ok" });
    expect(bark.classify(res(200, "ok"), base).kind).toBe("permanent");
    const batch = res(200, { code: 200, message: "success", data: [{ code: 200, device_key: KEY }, { code: 400, device_key: KEY2, message: "failed to get device token" }] });
    expect(bark.classify(batch, base)).toMatchObject({ kind: "permanent", code: 400 });
  });

  test.each([
    [400, "device key is empty", "permanent", "check key"],
    [400, `failed to get device token: failed to get [${KEY}] device token from database`, "permanent", "check key"],
    [400, "request bind failed: invalid level", "permanent", "bind"],
    [500, "push failed: PayloadTooLarge", "retryable", "push failed"],
  ] as const)("%d %s -> %s", (status, message, kind, hint) => {
    const out = bark.classify(res(status, { code: status, message, timestamp: 1 }), base);
    expect(out).toMatchObject({ kind, code: status });
    expect(out.error).toContain(hint);
  });
});

describe("bark secrets", () => {
  test("the keys are secrets and never in the target", () => {
    const o = opts(bark, { type: "bark", keys: [KEY, KEY2], server: "https://bark.example.com" });
    expect(bark.secrets(o)).toEqual([KEY, KEY2]);
    expect(bark.target(o)).toBe("https://bark.example.com/push");
    expect(bark.target(o, `https://bark.example.com/${KEY}`)).not.toContain(KEY);
    expect(bark.rateKey(o)).not.toBe(bark.rateKey(base));
  });
});
