import { afterEach, describe, expect, test } from "bun:test";
import wecomApp from "../../src/channels/wecom_app.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q } from "../helpers.ts";
import { deliver, target } from "./_deliver.ts";
import { opts, problems, res, send } from "./_fixtures.ts";

const SECRET = "Qm9zc2VjcmV0LWFwcC1zZWNyZXQtMDEyMzQ1Njc4OQ";
const base = opts(wecomApp, { type: "wecom_app", corp_id: "ww0123456789abcdef", agent_id: 1000002, secret: SECRET });

let fakes: Fake[] = [];
afterEach(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  fakes = [];
});

async function fake(o: Parameters<typeof startFake>[1] = {}) {
  const f = await startFake("wecom_app", o);
  fakes.push(f);
  return f;
}

const section = (f: Fake, extra = "") =>
  `type = "wecom_app"\napi = ${q(new URL(f.webhook).origin)}\ncorp_id = ${q(f.app!.corpId)}\nagent_id = ${f.app!.agentId}\nsecret = ${q(f.app!.secret)}\n${extra}`;

describe("wecom_app config", () => {
  test("corp_id, agent_id and secret are required; agent_id may come from the environment as digits", () => {
    for (const key of ["corp_id", "agent_id", "secret"]) {
      const { [key]: _gone, ...rest } = { type: "wecom_app", corp_id: "ww1", agent_id: 1, secret: SECRET } as Record<string, unknown>;
      expect(problems(wecomApp, rest).some((p) => p.startsWith(`${key}:`))).toBe(true);
    }
    expect(opts(wecomApp, { ...base, agent_id: "1000003" }).agent_id).toBe(1000003);
    expect(problems(wecomApp, { ...base, agent_id: "10x" })).toEqual(["agent_id: must be the application's AgentId, a whole number"]);
    expect(problems(wecomApp, { ...base, to_user: [] }).length).toBeGreaterThan(0);
  });

  test("the secret is the only credential; the destination shows the application and its recipients", () => {
    expect(wecomApp.secrets(base)).toEqual([SECRET]);
    expect(wecomApp.target(base)).toBe("https://qyapi.weixin.qq.com/cgi-bin/message/send (agent 1000002, to @all)");
    expect(wecomApp.target(opts(wecomApp, { ...base, to_party: ["2", "3"], to_tag: "1" }))).toBe(
      "https://qyapi.weixin.qq.com/cgi-bin/message/send (agent 1000002, to party 2|3, tag 1)",
    );
    // A request's URL carries the token: shown without it.
    expect(wecomApp.target(base, "https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=tok123456789")).toBe(
      "https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=***",
    );
  });

  test("one application shares a rate key and a token key; another secret gets its own token", () => {
    const other = opts(wecomApp, { ...base, to_user: "lisi" });
    expect(wecomApp.rateKey(other)).toBe(wecomApp.rateKey(base));
    expect(wecomApp.auth!.key(other)).toBe(wecomApp.auth!.key(base));
    expect(wecomApp.auth!.key(opts(wecomApp, { ...base, secret: "another-secret" }))).not.toBe(wecomApp.auth!.key(base));
    expect(wecomApp.auth!.key(base)).not.toContain(SECRET);
    expect(wecomApp.rate).toEqual(["30/min", "1000/h"]);
  });
});

describe("wecom_app payloads", () => {
  test("text: @all by default, the title first, the token in the query", () => {
    const { req, json } = send(wecomApp, base, "db-1 disk at 95%", { title: "DB alert", token: "tok-1" });
    expect(req.url).toBe("https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=tok-1");
    expect(json).toEqual({ touser: "@all", msgtype: "text", agentid: 1000002, text: { content: "DB alert\ndb-1 disk at 95%" } });
  });

  test("markdown in WeCom's dialect with the title as a heading; lists of ids joined with |", () => {
    const o = opts(wecomApp, { ...base, to_user: ["zhangsan", "lisi"], to_party: "2" });
    const { json } = send(wecomApp, o, "**build #12** failed", { title: "CI", format: "markdown" });
    expect(json).toEqual({ touser: "zhangsan|lisi", toparty: "2", msgtype: "markdown", agentid: 1000002, markdown: { content: "# CI\n**build #12** failed" } });
  });

  test("a party or tag alone does not add @all, which would make WeCom ignore them", () => {
    const { json } = send(wecomApp, opts(wecomApp, { ...base, to_tag: ["1"] }), "x");
    expect(json.touser).toBeUndefined();
    expect(json.totag).toBe("1");
  });

  test("content over 2048 bytes is split by the core into parts that fit", () => {
    expect(wecomApp.limit(base, { format: "text", hasTitle: false })).toEqual({ max: 2048, unit: "bytes", scope: "content" });
    expect(wecomApp.limit(base, { format: "markdown", hasTitle: true }).max).toBe(2048);
  });
});

describe("wecom_app answers", () => {
  test("errcode 0 is delivered; invalid recipients make it a delivery with a warning naming them", () => {
    expect(wecomApp.classify(res(200, { errcode: 0, errmsg: "ok", invaliduser: "", msgid: "m" }), base)).toEqual({ kind: "ok" });
    expect(wecomApp.classify(res(200, { errcode: 0, errmsg: "ok", invaliduser: "u3|u4", invalidparty: "9", invalidtag: "" }), base)).toEqual({
      kind: "ok",
      error: "delivered, but not to users u3|u4, parties 9 (unknown, or outside the application's visible range)",
    });
  });

  test("an invalid or expired token is known as such; other codes are classified", () => {
    for (const code of [40014, 42001, 42009]) {
      const o = wecomApp.classify(res(200, { errcode: code, errmsg: "x" }), base);
      expect(wecomApp.auth!.invalid(o)).toBe(true);
      expect(o.kind).toBe("retryable");
    }
    expect(wecomApp.auth!.invalid(wecomApp.classify(res(200, { errcode: 40058, errmsg: "x" }), base))).toBe(false);
    expect(wecomApp.classify(res(200, { errcode: 45009, errmsg: "api freq out of limit" }), base)).toMatchObject({ kind: "rate_limited", retryAfterMs: 60_000 });
    expect(wecomApp.classify(res(200, { errcode: 60020, errmsg: "not allow to access from your ip" }), base)).toMatchObject({ kind: "permanent", code: 60020 });
    expect(wecomApp.classify(res(200, { errcode: 81013, errmsg: "user & party & tag all invalid" }), base).kind).toBe("permanent");
    expect(wecomApp.classify(res(200, "<html>"), base).kind).toBe("permanent");
  });

  test("gettoken: the request carries corpid and corpsecret; the answer gives the token and its life", () => {
    const req = wecomApp.auth!.request(base);
    expect(req.method).toBe("GET");
    expect(req.url).toBe(`https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww0123456789abcdef&corpsecret=${SECRET}`);
    expect(wecomApp.auth!.parse(res(200, { errcode: 0, errmsg: "ok", access_token: "AT", expires_in: 7200 }), base)).toEqual({ token: "AT", expiresInMs: 7_200_000 });
    expect(wecomApp.auth!.parse(res(200, { errcode: 40001, errmsg: "invalid credential" }), base)).toMatchObject({ kind: "permanent", code: 40001 });
    expect(wecomApp.auth!.parse(res(200, { errcode: 0, errmsg: "ok" }), base)).toMatchObject({ kind: "permanent" });
  });
});

describe("wecom_app through the dispatch core and its fake", () => {
  test("gets a token, sends with it, and the platform receives the payload", async () => {
    const f = await fake();
    const s = await deliver(target(section(f, 'to_user = ["zhangsan", "lisi"]')), "disk full", { title: "DB" });
    try {
      expect(s.result.deliveries[0]).toMatchObject({ status: "delivered", attempts: 1, error: null });
      expect(f.requests.map((r) => r.path)).toEqual(["/cgi-bin/gettoken", "/cgi-bin/message/send"]);
      expect(f.accepted()[0]!.json).toEqual({ touser: "zhangsan|lisi", msgtype: "text", agentid: f.app!.agentId, text: { content: "DB\ndisk full" } });
      expect(f.accepted()[0]!.query.access_token).toBe(f.token);
    } finally {
      s.store.close();
    }
  });

  test("some recipients unknown: delivered (not retried), the warning recorded with the delivery", async () => {
    const f = await fake();
    const s = await deliver(target(section(f, 'to_user = ["zhangsan", "ghost"]')), "hello");
    try {
      const d = s.result.deliveries[0]!;
      expect(d).toMatchObject({ status: "delivered", attempts: 1 });
      expect(d.error).toContain("not to users ghost");
      expect(f.accepted()).toHaveLength(1);
      const stored = s.store.log.get(s.result.id)!.deliveries[0]!;
      expect(stored.status).toBe("delivered");
      expect(stored.error).toContain("ghost");
    } finally {
      s.store.close();
    }
  });

  test("no recipient valid: failed at once (81013)", async () => {
    const f = await fake();
    const s = await deliver(target(section(f, 'to_user = "ghost"')), "hello");
    try {
      expect(s.result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
      expect(s.result.deliveries[0]!.error).toContain("81013");
    } finally {
      s.store.close();
    }
  });

  test("a wrong secret fails without retries and names the cause; neither secret nor token is recorded", async () => {
    const f = await fake();
    const s = await deliver(target(section(f).replace(f.app!.secret, "wrong-secret-0123456789")), "hello");
    try {
      expect(s.result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
      expect(s.result.deliveries[0]!.error).toContain("cannot get an access token: 40001 invalid credential");
      expect(s.logText()).not.toContain("wrong-secret-0123456789");
      expect(f.accepted()).toHaveLength(0);
    } finally {
      s.store.close();
    }
  });

  test("a long text is split at 2048 bytes and every part sent with the one token", async () => {
    const f = await fake({ rate: false });
    const text = Array.from({ length: 120 }, (_, i) => `第 ${i} 行 数据库告警 line`).join("\n");
    const s = await deliver(target(section(f, 'rate = "1000/s"')), text);
    try {
      const d = s.result.deliveries[0]!;
      expect(d.status).toBe("delivered");
      expect(d.parts).toBeGreaterThan(1);
      expect(f.accepted()).toHaveLength(d.parts);
      expect(f.requests.filter((r) => r.path === "/cgi-bin/gettoken")).toHaveLength(1);
      for (const r of f.accepted()) expect(Buffer.byteLength(r.json.text.content)).toBeLessThanOrEqual(2048);
    } finally {
      s.store.close();
    }
  });
});
