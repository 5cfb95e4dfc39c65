import { afterEach, describe, expect, test } from "bun:test";
import pushover from "../../src/channels/pushover.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q } from "../helpers.ts";
import { deliver, target } from "./_deliver.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const TOKEN = "azgdvybyw5ryvjm6t1hq1y2kh9xq1z";
const USER = "uqhgtyu7rfwq4jq9j2k2n1de8b4nex";
const base = opts(pushover, { type: "pushover", token: TOKEN, user: USER });

let fakes: Fake[] = [];
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  fakes = [];
});

async function fake(o: Parameters<typeof startFake>[1] = {}) {
  const f = await startFake("pushover", { token: TOKEN, user: USER, ...o });
  fakes.push(f);
  return { f, api: new URL(f.webhook).origin };
}

const section = (api: string, extra = "") => `type = "pushover"\ntoken = ${q(TOKEN)}\nuser = ${q(USER)}\napi = ${q(api)}\n${extra}`;

describe("pushover config", () => {
  test("token and user are required; priority is -2..2", () => {
    expect(problems(pushover, { type: "pushover", token: TOKEN }).some((p) => p.startsWith("user:"))).toBe(true);
    expect(problems(pushover, { type: "pushover", user: USER }).some((p) => p.startsWith("token:"))).toBe(true);
    expect(problems(pushover, { ...base, priority: 3 })).toEqual(["priority: must be -2 to 2"]);
    expect(problems(pushover, { ...base, priority: 1, device: "phone,tablet", sound: "siren" })).toEqual([]);
  });

  test("token and user key are secrets; the destination shows neither", () => {
    expect(pushover.secrets(base)).toEqual([TOKEN, USER]);
    expect(pushover.target(base)).toBe("https://api.pushover.net/1/messages.json (user ***)");
    expect(pushover.target(opts(pushover, { ...base, device: "phone" }))).toBe("https://api.pushover.net/1/messages.json (user ***, device phone)");
  });
});

describe("pushover payloads", () => {
  test("plain text: token, user, message; the title is cut to 250", () => {
    const { req, json } = send(pushover, base, "disk <b>full</b>", { title: "t".repeat(300) });
    expect(req.url).toBe("https://api.pushover.net/1/messages.json");
    expect(json).toEqual({ token: TOKEN, user: USER, message: "disk <b>full</b>", title: `${"t".repeat(249)}…` });
  });

  test("Markdown is rendered to Pushover's HTML subset with html=1; raw HTML and unsafe links stay text", () => {
    const { json } = send(pushover, base, "## Deploy\n**api** is *up*, see [the log](https://ci.example.com/1) <img src=x> [js](javascript:alert(1))", { format: "markdown" });
    expect(json.html).toBe(1);
    expect(json.message).toBe(
      '<b>Deploy</b>\n\n<b>api</b> is <i>up</i>, see <a href="https://ci.example.com/1">the log</a> &lt;img src=x&gt; js (javascript:alert(1))',
    );
  });

  test("bold or italic across a line break is closed on each line, so a split never leaves a tag open", () => {
    expect(send(pushover, base, "**db-1\ndb-2** and _x\ny_", { format: "markdown" }).json.message).toBe("<b>db-1</b>\n<b>db-2</b> and <i>x</i>\n<i>y</i>");
  });

  test("device, sound and priority; emergency priority carries retry and expire", () => {
    const o = opts(pushover, { ...base, device: "phone", sound: "siren", priority: 2 });
    expect(send(pushover, o, "x").json).toEqual({ token: TOKEN, user: USER, message: "x", device: "phone", sound: "siren", priority: 2, retry: 60, expire: 3600 });
    expect(send(pushover, opts(pushover, { ...base, priority: -1 }), "x").json.priority).toBe(-1);
  });

  test("the limit is 1024 characters of message", () => {
    expect(pushover.limit(base, { format: "text", hasTitle: false })).toEqual({ max: 1024, unit: "chars", scope: "content" });
  });
});

describe("pushover answers", () => {
  test("status 1 is delivered; status 0 or an unreadable 2xx is not", () => {
    expect(pushover.classify(res(200, { status: 1, request: "r" }), base)).toEqual({ kind: "ok" });
    expect(pushover.classify(res(200, { status: 0, errors: ["x"] }), base).kind).toBe("permanent");
    expect(pushover.classify(res(200, "<html>"), base).kind).toBe("permanent");
  });

  test("a 4xx names the field Pushover refused and is not retried", () => {
    const out = pushover.classify(res(400, { user: "invalid", errors: ["user identifier is invalid"], status: 0 }), base);
    expect(out).toMatchObject({ kind: "permanent", code: 400, error: "user identifier is invalid" });
  });

  test("429 (monthly quota) waits until the quota resets; 5xx waits at least 5 s", () => {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    const out = pushover.classify(res(429, { errors: ["application has exceeded its monthly message limit"], status: 0 }, { "X-Limit-App-Reset": String(reset) }), base);
    expect(out.kind).toBe("rate_limited");
    expect(out.retryAfterMs).toBeGreaterThan(3_500_000);
    expect(pushover.classify(res(503, ""), base)).toMatchObject({ kind: "retryable", retryAfterMs: 5000 });
  });

  test("a success that used the last of the quota announces the wait until it resets", () => {
    const reset = Math.floor(Date.now() / 1000) + 600;
    const out = pushover.classify(res(200, { status: 1 }, { "X-Limit-App-Remaining": "0", "X-Limit-App-Reset": String(reset) }), base);
    expect(out.kind).toBe("ok");
    expect(out.retryAfterMs).toBeGreaterThan(590_000);
    expect(pushover.classify(res(200, { status: 1 }, { "X-Limit-App-Remaining": "7", "X-Limit-App-Reset": String(reset) }), base)).toEqual({ kind: "ok" });
  });
});

describe("pushover through the core and the fake", () => {
  test("delivered as JSON fields the fake checks, with html=1 for Markdown", async () => {
    const { f, api } = await fake();
    const { result, store } = await deliver(target(section(api, "priority = 1")), "**db-1** is back", { title: "DB", format: "markdown" });
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "delivered", attempts: 1 });
    expect(f.accepted().map((r) => r.json)).toEqual([{ token: TOKEN, user: USER, message: "<b>db-1</b> is back", title: "DB", html: 1, priority: 1 }]);
  });

  test("a long message is split into parts of at most 1024 characters, all accepted", async () => {
    const { f, api } = await fake();
    const text = Array.from({ length: 200 }, (_, i) => `check ${i}: ok`).join("\n");
    const { result, store } = await deliver(target(section(api)), text);
    store.close();
    expect(result.deliveries[0]!.status).toBe("delivered");
    const got = f.accepted().map((r) => r.json.message as string);
    expect(got.length).toBeGreaterThan(2);
    for (const m of got) expect(m.length).toBeLessThanOrEqual(1024);
  });

  test("a wrong user key fails at once with Pushover's reason; neither key shows anywhere", async () => {
    const { f, api } = await fake({ user: "someoneelse0000000000000000000" });
    const { result, store, logText } = await deliver(target(section(api, "retries = 3")), "x");
    const log = logText();
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1, error: "400 user identifier is invalid" });
    expect(f.requests).toHaveLength(1);
    expect(JSON.stringify(result) + log).not.toContain(TOKEN);
    expect(JSON.stringify(result) + log).not.toContain(USER);
  });

  test("when the quota runs out, the next send waits for the reset instead of asking in vain", async () => {
    const { f, api } = await fake({ rate: { count: 1, windowMs: 86_400_000 } });
    const t = target(section(api, "retries = 2"));
    const first = await deliver(t, "one");
    expect(first.result.deliveries[0]!.status).toBe("delivered");
    const second = await deliver(t, "two", { store: first });
    first.store.close();
    expect(second.result.deliveries[0]).toMatchObject({ status: "failed", attempts: 0 });
    expect(second.result.deliveries[0]!.error).toContain("rate-limit slot");
    expect(f.requests).toHaveLength(1);
  });

  test("a 429 is retried no sooner than the platform allows, then succeeds", async () => {
    const { f, api } = await fake({ rate: false });
    f.fault({ kind: "rate_limited", retryAfterSec: 2 });
    const { result, store } = await deliver(target(section(api, "retries = 2")), "x");
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "delivered", attempts: 2 });
    expect(f.accepted()).toHaveLength(1);
  });
});
