import { afterEach, describe, expect, test } from "bun:test";
import serverchan from "../../src/channels/serverchan.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q } from "../helpers.ts";
import { deliver, target } from "./_deliver.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const TURBO = "SCT123456TabcdefGHIJKLmnopqrstuvwx";
const SC3 = "sctp4242tAbCdEf0123456789xyz";
const turbo = opts(serverchan, { type: "serverchan", sendkey: TURBO });
const sc3 = opts(serverchan, { type: "serverchan", sendkey: SC3 });

let fakes: Fake[] = [];
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  fakes = [];
});

async function fake(o: Parameters<typeof startFake>[1] = {}) {
  const f = await startFake("serverchan", { rate: false, ...o });
  fakes.push(f);
  return { f, api: new URL(f.webhook).origin };
}

describe("serverchan config and destination", () => {
  test("either kind of SendKey; a retired or malformed one is refused without repeating it", () => {
    expect(problems(serverchan, { type: "serverchan", sendkey: TURBO })).toEqual([]);
    expect(problems(serverchan, { type: "serverchan", sendkey: SC3 })).toEqual([]);
    expect(problems(serverchan, { type: "serverchan", sendkey: "SCU9999secretsecret" })).toEqual([
      "sendkey: is an SCU… key of the retired Server酱: get a Turbo SendKey (SCT…) at https://sct.ftqq.com",
    ]);
    expect(problems(serverchan, { type: "serverchan", sendkey: "SCT99/../secret" })).toEqual([
      "sendkey: must be a SendKey: SCT… (Turbo) or sctp<number>t… (Server酱³), letters and digits only",
    ]);
    expect(problems(serverchan, { type: "serverchan" }).some((p) => p.startsWith("sendkey:"))).toBe(true);
  });

  test("Turbo keys post to sctapi.ftqq.com, sctp keys to their own push.ft07.com host", () => {
    expect(send(serverchan, turbo, "x").req.url).toBe(`https://sctapi.ftqq.com/${TURBO}.send`);
    expect(send(serverchan, sc3, "x").req.url).toBe(`https://4242.push.ft07.com/send/${SC3}.send`);
  });

  test("the key is hidden wherever the destination is shown, and is a secret", () => {
    expect(serverchan.target(turbo)).toBe("https://sctapi.ftqq.com/***.send");
    expect(serverchan.target(sc3)).toBe("https://4242.push.ft07.com/send/***.send");
    expect(serverchan.secrets(turbo)).toContain(TURBO);
    expect(serverchan.rateKey(turbo)).toMatch(/^serverchan:[0-9a-f]{64}$/);
  });
});

describe("serverchan payloads", () => {
  test("the required title is made from the first line when none is given", () => {
    expect(send(serverchan, turbo, "\n  disk full on db-1\nmore").json.title).toBe("disk full on db-1");
    expect(send(serverchan, turbo, "*prod* db-1: 1. check\nmore").json.title).toBe("*prod* db-1: 1. check");
  });

  test("plain text keeps its line breaks and shows its Markdown characters as written", () => {
    const text = "disk full\nhost: db-1 *prod* <b>\n- not a list\n1. not a list\n# not a heading\na\\b [x](y)";
    expect(send(serverchan, turbo, text).json.desp).toBe(
      "disk full  \nhost: db-1 \\*prod\\* \\<b\\>  \n\\- not a list  \n1\\. not a list  \n\\# not a heading  \na\\\\b \\[x\\](y)",
    );
  });

  test("a Markdown first line gives its text, not its markup", () => {
    expect(send(serverchan, turbo, "## **Deploy** [v2](https://e.com)\nok", { format: "markdown" }).json.title).toBe("Deploy v2 (https://e.com)");
  });

  test("titles are cut to 32 characters; the text goes on as Markdown in desp", () => {
    const { json } = send(serverchan, turbo, "**x**", { format: "markdown", title: "一".repeat(40) });
    expect(json).toEqual({ title: `${"一".repeat(31)}…`, desp: "**x**" });
    expect(send(serverchan, turbo, "y".repeat(100)).json.title).toHaveLength(32);
  });
});

describe("serverchan answers", () => {
  test.each([
    [{ code: 0, message: "", data: { pushid: "1", error: "SUCCESS" } }, "ok"],
    [{ code: 40001, message: "[AUTH]超过当天的发送次数限制[5]，请稍后再试" }, "permanent"],
    [{ code: 40001, message: "[AUTH]错误的Key" }, "permanent"],
    [{ data: null }, "permanent"],
  ] as const)("HTTP 200 with %j is %s", (body, kind) => {
    expect(serverchan.classify(res(200, body), turbo).kind).toBe(kind);
  });

  test("the daily quota's refusal says what to check", () => {
    expect(serverchan.classify(res(200, { code: 40001, message: "[AUTH]超过当天的发送次数限制[5]" }), turbo).error).toContain("quota");
  });

  test("HTTP 500 with a null body (seen when over quota) is retried", () => {
    expect(serverchan.classify(res(500, "null"), turbo).kind).toBe("retryable");
  });
});

describe("serverchan through the core and the fake", () => {
  test("a Turbo key delivers; the fake checks the path, title and desp", async () => {
    const { f, api } = await fake({ token: TURBO });
    const t = target(`type = "serverchan"\nsendkey = ${q(TURBO)}\napi = ${q(api)}`);
    const { result, store } = await deliver(t, "**db-1** at 95%", { format: "markdown" });
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "delivered", attempts: 1 });
    expect(f.accepted().map((r) => [r.path, r.json])).toEqual([[`/${TURBO}.send`, { title: "db-1 at 95%", desp: "**db-1** at 95%" }]]);
  });

  test("an sctp key posts to /send/<key>.send", async () => {
    const { f, api } = await fake({ token: SC3 });
    const t = target(`type = "serverchan"\nsendkey = ${q(SC3)}\napi = ${q(api)}`);
    const { result, store } = await deliver(t, "hello", { title: "Hi" });
    store.close();
    expect(result.deliveries[0]!.status).toBe("delivered");
    expect(f.accepted().map((r) => r.path)).toEqual([`/send/${SC3}.send`]);
  });

  test("over the daily quota: failed at once, the key in no error or log", async () => {
    const { f, api } = await fake({ token: TURBO, rate: { count: 1, windowMs: 86_400_000 } });
    const t = target(`type = "serverchan"\nsendkey = ${q(TURBO)}\napi = ${q(api)}\nretries = 3`);
    const first = await deliver(t, "one");
    const second = await deliver(t, "two", { store: first });
    const log = second.logText();
    first.store.close();
    expect(first.result.deliveries[0]!.status).toBe("delivered");
    expect(second.result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(second.result.deliveries[0]!.error).toContain("超过当天的发送次数限制");
    expect(f.requests).toHaveLength(2);
    expect(JSON.stringify(second.result) + log).not.toContain(TURBO);
  });

  test("desp over 32 KB is split into parts the fake accepts", async () => {
    const { f, api } = await fake({ token: TURBO });
    const t = target(`type = "serverchan"\nsendkey = ${q(TURBO)}\napi = ${q(api)}`);
    const text = Array.from({ length: 3000 }, (_, i) => `第 ${i} 行 状态正常`).join("\n");
    const { result, store } = await deliver(t, text, { title: "Nightly", format: "markdown" });
    store.close();
    expect(result.deliveries[0]!.status).toBe("delivered");
    const got = f.accepted().map((r) => r.json);
    expect(got.length).toBeGreaterThan(1);
    expect(got.map((j) => j.desp).join("\n")).toBe(text);
    expect(got[0].title).toBe(`Nightly (1/${got.length})`);
  });
});
