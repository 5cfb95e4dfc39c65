/**
 * One suite, every channel type: each runs through the dispatch core against its platform fake, with the same
 * cases (delivery, retries on 5xx / dropped connections / timeouts, the platform's rate-limit answer, permanent
 * errors, splitting, redaction). A new channel type gets all of this by adding one row to CASES.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dispatch, type Target } from "../src/core/dispatch.ts";
import { newId } from "../src/core/id.ts";
import type { Format } from "../src/core/types.ts";
import { parseConfig } from "../src/config/load.ts";
import { openStore, type Store } from "../src/store/index.ts";
import { startFake, type Fake, type FakeOptions, type FakeType, type Fault } from "./fakes/index.ts";
import { q, tempDir, virtualClock } from "./helpers.ts";

interface Case {
  type: FakeType;
  /** Extra config lines for the channel section. */
  extra?: string;
  /** The section's destination and credential lines, when they are not `webhook = <the fake's URL>`. */
  section?: (f: Fake) => string;
  fake?: FakeOptions;
  /** A fault the platform answers for a broken configuration, and must not be retried. */
  permanent: Fault;
  /** The wait the platform's rate-limit answer implies, at least. */
  rateWaitMs: number;
  /** How long a text is needed to force a split into several parts. */
  longText: number;
}

const CASES: Case[] = [
  { type: "wecom", permanent: { kind: "code", code: 93000, msg: "invalid webhook url" }, rateWaitMs: 60_000, longText: 5000 },
  { type: "feishu", extra: `secret = "s3cr3t-feishu-signing"\nkeyword = "alert"`, fake: { secret: "s3cr3t-feishu-signing", keyword: "alert" },
    permanent: { kind: "code", code: 19024, msg: "Key Words Not Found" }, rateWaitMs: 1, longText: 45_000 },
  { type: "dingtalk", extra: `secret = "SECdingtalk0123456789"\nkeyword = "alert"`, fake: { secret: "SECdingtalk0123456789", keyword: "alert" },
    permanent: { kind: "code", code: 310000, msg: "keywords not in content" }, rateWaitMs: 60_000, longText: 45_000 },
  { type: "slack", permanent: { kind: "status", status: 404, body: "no_service" }, rateWaitMs: 1000, longText: 7000 },
  { type: "discord", permanent: { kind: "status", status: 404, body: '{"message":"Unknown Webhook","code":10015}' }, rateWaitMs: 1000, longText: 4500 },
  { type: "mattermost", permanent: { kind: "status", status: 400, body: '{"id":"web.incoming_webhook.invalid.app_error","message":"Invalid webhook","status_code":400}' }, rateWaitMs: 1000, longText: 40_000 },
  { type: "webhook", permanent: { kind: "status", status: 401, body: "unauthorized" }, rateWaitMs: 1000, longText: 100 },
  { type: "telegram", section: (f) => `api = ${q(new URL(f.webhook).origin)}\ntoken = ${q(f.token)}\nchat_id = 1001`,
    permanent: { kind: "status", status: 403, body: '{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}' }, rateWaitMs: 1000, longText: 9000 },
  { type: "ntfy", section: (f) => `server = ${q(new URL(f.webhook).origin)}\ntopic = ${q(f.token)}`,
    permanent: { kind: "code", code: 40301, msg: "forbidden" }, rateWaitMs: 5000, longText: 9000 },
  { type: "gotify", section: (f) => `server = ${q(new URL(f.webhook).origin)}\ntoken = ${q(f.token)}`,
    permanent: { kind: "code", code: 401, msg: "you need to provide a valid access token or user credentials to access this api" }, rateWaitMs: 1000, longText: 100 },
  { type: "bark", section: (f) => `server = ${q(new URL(f.webhook).origin)}\nkey = ${q(f.token)}`,
    permanent: { kind: "code", code: 400, msg: "failed to get device token" }, rateWaitMs: 1000, longText: 7000 },
  { type: "teams", permanent: { kind: "status", status: 404, body: '{"error":{"code":"WorkflowNotFound","message":"The workflow could not be found."}}' }, rateWaitMs: 1000, longText: 60_000 },
  // No store shares a token here, so each case's first request is gettoken's: the faults meet it.
  { type: "wecom_app", section: (f) => `api = ${q(new URL(f.webhook).origin)}\ncorp_id = ${q(f.app!.corpId)}\nagent_id = ${f.app!.agentId}\nsecret = ${q(f.app!.secret)}`,
    permanent: { kind: "code", code: 40001, msg: "invalid credential" }, rateWaitMs: 60_000, longText: 5000 },
];

let fake: Fake | undefined;
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await fake?.stop();
  fake = undefined;
});

async function setup(c: Case, extra = "", fakeOpts: FakeOptions = {}) {
  fake = await startFake(c.type, { ...c.fake, ...fakeOpts });
  const urlKey = c.type === "webhook" ? "url" : "webhook";
  const cfg = parseConfig(
    `[defaults]\nretries = 3\ntimeout = "2s"\n[channels.x]\ntype = ${q(c.type)}\n${c.section ? c.section(fake) : `${urlKey} = ${q(fake.webhook)}`}\n${c.extra ?? ""}\n${extra}\n`,
    "contract.toml",
  );
  store = openStore(join(tempDir(), "pp.db"));
  return { target: cfg.channels.get("x")!, fake, store };
}

async function send(target: Target, text: string, opts: { title?: string; format?: Format; clock?: ReturnType<typeof virtualClock> } = {}) {
  const now = Date.now();
  const res = await dispatch(
    { id: newId(now), createdAt: now, title: opts.title, text, format: opts.format ?? "text", source: "cli", targets: [target.name] },
    [target],
    { recorder: store!.log, limiter: store!.limiter, deadline: now + 3_600_000, clock: opts.clock ?? virtualClock(), random: () => 0.5 },
  );
  return { ...res.deliveries[0]!, id: res.id };
}

const rawOf = (f: Fake) => f.accepted().map((r) => r.raw).join("\n");

for (const c of CASES) {
  describe(`${c.type} contract`, () => {
    test("delivers a plain text message the platform accepts", async () => {
      const { target, fake } = await setup(c);
      const d = await send(target, "disk 95% on db-1 alert");
      expect(d.status).toBe("delivered");
      expect(d.attempts).toBe(1);
      expect(fake.accepted()).toHaveLength(1);
      expect(rawOf(fake)).toContain("disk 95% on db-1");
    });

    test("delivers markdown with a title", async () => {
      const { target, fake } = await setup(c);
      const d = await send(target, "**build #12** failed alert\n\n- step one\n- step two", { title: "Deploy report", format: "markdown" });
      expect(d.status).toBe("delivered");
      expect(rawOf(fake)).toContain("Deploy report");
      expect(rawOf(fake)).toContain("build #12");
    });

    test("retries a 5xx and then delivers", async () => {
      const { target, fake } = await setup(c);
      fake.fault({ kind: "status", status: 502, body: "bad gateway" }, 2);
      const d = await send(target, "retry me alert");
      expect(d.status).toBe("delivered");
      expect(d.attempts).toBe(3);
      expect(fake.accepted()).toHaveLength(1);
      const attempts = store!.log.get(d.id)!.deliveries[0]!.attempts_log;
      expect(attempts.map((a) => a.outcome)).toEqual(["retryable", "retryable", "ok"]);
      expect(attempts[0]!.http_status).toBe(502);
    });

    test("retries a dropped connection and a timeout", async () => {
      const { target, fake } = await setup(c, 'timeout = "300ms"');
      fake.fault({ kind: "drop" });
      fake.fault({ kind: "timeout", ms: 1500 });
      const d = await send(target, "flaky network alert");
      expect(d.status).toBe("delivered");
      expect(d.attempts).toBe(3);
      const attempts = store!.log.get(d.id)!.deliveries[0]!.attempts_log;
      expect(attempts[0]!.http_status).toBeNull();
      expect(attempts[1]!.error).toContain("300 ms");
    });

    test("gives up after the configured retries and records why", async () => {
      const { target, fake } = await setup(c, "retries = 1");
      fake.fault({ kind: "status", status: 503, body: "unavailable" }, 5);
      const d = await send(target, "never arrives alert");
      expect(d.status).toBe("failed");
      expect(d.attempts).toBe(2);
      expect(d.error).toContain("gave up after 2 attempts");
      expect(store!.log.list({ failed: true })[0]!.id).toBe(d.id);
    });

    test("does not retry a permanent error", async () => {
      const { target, fake } = await setup(c);
      fake.fault(c.permanent, 5);
      const d = await send(target, "wrong key alert");
      expect(d.status).toBe("failed");
      expect(d.attempts).toBe(1);
      expect(fake.requests).toHaveLength(1);
    });

    test("honours the platform's rate-limit answer before retrying", async () => {
      const { target, fake } = await setup(c);
      fake.fault({ kind: "rate_limited", retryAfterSec: 7 });
      const clock = virtualClock();
      const d = await send(target, "slow down alert", { clock });
      expect(d.status).toBe("delivered");
      expect(d.attempts).toBe(2);
      const waited = clock.slept.reduce((a, b) => a + b, 0);
      expect(waited).toBeGreaterThanOrEqual(Math.min(c.rateWaitMs, 7000));
      expect(store!.log.get(d.id)!.deliveries[0]!.attempts_log[0]!.outcome).toBe("rate_limited");
    });

    test("splits a long message into parts the platform accepts, in order", async () => {
      const { target, fake } = await setup(c, 'rate = "1000/s"', { rate: false });
      const lines = Array.from({ length: Math.ceil(c.longText / 40) }, (_, i) => `line ${String(i).padStart(5, "0")} 数据库 🚀 alert`);
      const d = await send(target, lines.join("\n"));
      expect(d.status).toBe("delivered");
      const accepted = fake.accepted();
      expect(accepted.length).toBe(d.parts);
      // The generic webhook and Gotify have no size limit: they never split.
      if (c.type !== "webhook" && c.type !== "gotify") expect(d.parts).toBeGreaterThan(1);
      // Every line arrives exactly once, in order.
      const seen = [...rawOf(fake).matchAll(/line \d{5}/g)].map((m) => m[0]);
      expect(seen).toEqual(lines.map((l) => l.slice(0, 10)));
    });

    test("never records or reports the webhook token", async () => {
      const { target, fake } = await setup(c, "retries = 0");
      fake.fault({ kind: "drop" });
      const d = await send(target, "secret check alert");
      const detail = JSON.stringify(store!.log.get(d.id));
      expect(detail).not.toContain(fake.token);
      expect(d.error ?? "").not.toContain(fake.token);
      expect(target.def.target(target.opts)).not.toContain(fake.token);
    });
  });
}
