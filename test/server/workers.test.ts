import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config/load.ts";
import { newId } from "../../src/core/id.ts";
import type { Enqueue } from "../../src/core/ports.ts";
import { secretsOf } from "../../src/core/redact.ts";
import type { DeliveryEvents, ServeSettings } from "../../src/server/context.ts";
import { serveSettings } from "../../src/server/settings.ts";
import { Workers } from "../../src/server/workers.ts";
import { openQueueStore, type QueueStore } from "../../src/store/queue.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function recordingEvents(): DeliveryEvents & { seen: string[] } {
  const seen: string[] = [];
  const note = (kind: string) => (channel: string) => void seen.push(`${kind}:${channel}`);
  return { seen, accepted: note("accepted"), delivered: note("delivered"), failed: note("failed"), retried: note("retried"), expired: note("expired"), rateWait: (c) => void seen.push(`rateWait:${c}`) };
}

interface Rig {
  cfg: Config;
  settings: ServeSettings;
  store: QueueStore;
  events: ReturnType<typeof recordingEvents>;
  workers: Workers;
  /** Queues a message to these channels; returns its id. */
  send(channels: string[], o?: Partial<Enqueue> & { text?: string }): Promise<string>;
  /** A new store and workers on the same file, as after a restart of the daemon. */
  restart(): Promise<Rig>;
  rows(): { channel: string; status: string; due_at: number | null; error: string | null; owner: string | null; possible_duplicate: number; attempts: number }[];
}

async function rig(channels: string, o: { workers?: number; start?: boolean; leaseMs?: number } = {}, dir = tempDir("pp-workers-")): Promise<Rig> {
  writeFileSync(join(dir, "pp.toml"), `[log]\npath = ${q(join(dir, "pp.db"))}\n${channels}`);
  const cfg = loadConfig(join(dir, "pp.toml"));
  const settings = { ...serveSettings(cfg, { token: "t0ken-for-tests" }, {}), workers: o.workers ?? 4 };
  const store = openQueueStore(cfg.dbPath);
  const events = recordingEvents();
  const workers = new Workers({
    queue: store.queue, limiter: store.limiter, config: () => cfg, settings: () => settings, events,
    secrets: () => secretsOf(cfg.channels.values()), callbackBackoff: () => 50, ...(o.leaseMs ? { leaseMs: o.leaseMs } : {}),
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await workers.stop(200);
    store.close();
  };
  cleanup.push(stop);
  if (o.start !== false) workers.start();
  const r: Rig = {
    cfg, settings, store, events, workers,
    async send(names, e = {}) {
      const now = Date.now();
      const id = newId(now);
      const deliveries = names.map((n) => {
        const t = cfg.channels.get(n)!;
        return { channel: n, type: t.def.type, target: t.def.target(t.opts), parts: 1 };
      });
      const res = await store.queue.enqueue({ message: { id, createdAt: now, text: e.text ?? `hello ${id}`, format: "text", source: "api", targets: names }, deliveries, ...e });
      expect(res.kind).toBe("queued");
      workers.wake();
      return id;
    },
    async restart() {
      await stop();
      return rig(channels, { ...o, start: true }, dir);
    },
    rows: () => store.db.query("SELECT channel, status, due_at, error, owner, possible_duplicate, attempts FROM deliveries ORDER BY id").all() as any,
  };
  return r;
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

async function fake(opts: Parameters<typeof startFake>[1] = { rate: false }): Promise<Fake> {
  const f = await startFake("webhook", opts);
  cleanup.push(() => f.stop());
  return f;
}

const channel = (name: string, f: Fake, extra = "") => `[channels.${name}]\ntype = "webhook"\nurl = ${q(f.webhook)}\n${extra}\n`;

describe("Workers", () => {
  test("deliver queued messages in order, one channel at a time", async () => {
    const a = await fake();
    const r = await rig(channel("a", a));
    for (let i = 0; i < 3; i++) await r.send(["a"], { text: `m${i}` });
    await until(() => r.rows().every((x) => x.status === "delivered"), "three deliveries");
    expect(a.accepted().map((x) => x.json?.message ?? x.json?.text ?? x.raw).map((s: string) => /m\d/.exec(s)?.[0])).toEqual(["m0", "m1", "m2"]);
    expect(r.events.seen.filter((s) => s.startsWith("delivered"))).toEqual(["delivered:a", "delivered:a", "delivered:a"]);
    expect(r.rows().map((x) => x.owner)).toEqual([null, null, null]);
    expect(r.store.queue.depth()).toBe(0);
  });

  test("at most `workers` deliveries run at once, and at most one per channel", async () => {
    let active = 0;
    let most = 0;
    const perPath = new Map<string, number>();
    let mostPerPath = 0;
    let done = 0;
    const slow = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        active++;
        perPath.set(path, (perPath.get(path) ?? 0) + 1);
        most = Math.max(most, active);
        mostPerPath = Math.max(mostPerPath, perPath.get(path)!);
        await Bun.sleep(60);
        active--;
        perPath.set(path, perPath.get(path)! - 1);
        done++;
        return new Response("ok");
      },
    });
    cleanup.push(() => slow.stop(true));
    const base = `http://127.0.0.1:${slow.port}`;
    const r = await rig(["a", "b", "c"].map((n) => `[channels.${n}]\ntype = "webhook"\nurl = ${q(`${base}/${n}`)}\n`).join(""), { workers: 2 });
    for (let i = 0; i < 3; i++) await r.send(["a", "b", "c"]);
    await until(() => done === 9 && r.rows().every((x) => x.status === "delivered"), "nine deliveries");
    expect(most).toBe(2);
    expect(mostPerPath).toBe(1);
  });

  test("taking new work reads only what was queued since, not the whole queue", async () => {
    const f = await fake();
    const r = await rig(channel("blocked", f, `rate = "1/min"`) + channel("free", f), { start: false });
    for (let i = 0; i < 200; i++) await r.send(["blocked"]);
    const read: number[] = [];
    const queuedSince = r.store.queue.queuedSince.bind(r.store.queue);
    r.store.queue.queuedSince = (after) => {
      const got = queuedSince(after);
      read.push(got.refs.length);
      return got;
    };
    r.workers.start();
    expect(read).toEqual([200]);
    for (let i = 0; i < 3; i++) await r.send(["free"]);
    await until(() => r.rows().filter((x) => x.channel === "free").every((x) => x.status === "delivered"), "the free channel");
    expect(read.slice(1).reduce((a, b) => a + b, 0)).toBe(3);
  });

  test("the lease of a delivery in flight is renewed while its request takes longer than the lease", async () => {
    const f = await fake();
    f.fault({ kind: "timeout", ms: 900 });
    const r = await rig(channel("s", f), { leaseMs: 200 });
    await r.send(["s"]);
    await until(() => f.requests.length === 1 || r.rows()[0]!.status === "pending", "the request to go out");
    const lease = () => r.store.db.query("SELECT lease_until FROM deliveries").get() as { lease_until: number | null };
    const first = lease().lease_until!;
    await until(() => (lease().lease_until ?? 0) > first, "a renewed lease", 5_000);
    // Its lease kept it this process's: the heartbeat's own look for abandoned ones did not take it back.
    await until(() => r.rows()[0]!.status === "delivered", "the delivery");
    expect(r.rows()[0]).toMatchObject({ possible_duplicate: 0, attempts: 1 });
  });

  test("a rate-limited channel goes back to the queue and does not hold up another, even with one worker", async () => {
    const slow = await fake();
    const fast = await fake();
    const r = await rig(channel("slow", slow, `rate = "1/min"`) + channel("fast", fast), { workers: 1 });
    await r.send(["slow"]);
    await r.send(["slow"]);
    for (let i = 0; i < 3; i++) await r.send(["fast"]);
    await until(() => fast.accepted().length === 3 && slow.accepted().length === 1, "the fast channel's deliveries");
    await until(() => r.rows()[1]!.status === "queued" && r.rows()[1]!.error !== null, "the slow one to be deferred");
    const waiting = r.rows()[1]!;
    expect(waiting.due_at!).toBeGreaterThan(Date.now() + 30_000);
    expect(waiting.error).toContain("rate-limit slot");
    expect(waiting.owner).toBeNull();
    expect(r.events.seen).toContain("rateWait:slow");
  });

  test("a long wait the platform asks for is kept with its due time across a restart, and tries count on", async () => {
    const f = await fake();
    f.fault({ kind: "rate_limited", retryAfterSec: 600 });
    let r = await rig(channel("dt", f));
    const before = Date.now();
    await r.send(["dt"]);
    await until(() => r.rows()[0]!.status === "queued" && r.rows()[0]!.attempts === 1, "the delivery to be deferred");
    const due = r.rows()[0]!.due_at!;
    expect(due).toBeGreaterThanOrEqual(before + 600_000);

    // Restarted: still waiting, with the same due time, and nothing sent meanwhile.
    r = await r.restart();
    await Bun.sleep(300);
    expect(r.rows()[0]).toMatchObject({ status: "queued", due_at: due, attempts: 1 });
    expect(f.requests.length).toBe(1);

    // Ten minutes later (the store says so), the next start sends it: as its second try.
    r.store.db.run("UPDATE deliveries SET due_at = 0");
    r.store.db.run("DELETE FROM rate_blocks");
    r = await r.restart();
    await until(() => r.rows()[0]!.status === "delivered", "the resumed delivery");
    const tries = r.store.db.query("SELECT attempt, outcome FROM attempts ORDER BY id").all();
    expect(tries).toEqual([{ attempt: 1, outcome: "rate_limited" }, { attempt: 2, outcome: "ok" }]);
    expect(f.accepted().length).toBe(1);
    expect(r.events.seen).toEqual(["retried:dt", "delivered:dt"]);
  });

  test("a message past its expires_at is expired without a request; one whose wait outlasts it expires too", async () => {
    const f = await fake();
    const r = await rig(channel("x", f, `rate = "1/min"`));
    await r.send(["x"], { expiresAt: Date.now() - 1 });
    await until(() => r.rows()[0]!.status === "expired", "the expired delivery");
    expect(f.requests.length).toBe(0);
    await r.send(["x"]);
    await r.send(["x"], { expiresAt: Date.now() + 5_000 });
    await until(() => r.rows()[2]!.status === "expired", "the second one to expire behind the rate limit");
    expect(r.rows().map((x) => x.status)).toEqual(["expired", "delivered", "expired"]);
    expect(r.rows()[2]!.error).toContain("deadline reached");
    expect(r.events.seen.filter((s) => s.startsWith("expired"))).toEqual(["expired:x", "expired:x"]);
    expect(f.requests.length).toBe(1);
  });

  test("a callback is POSTed once the message ended, retried after a 500, and recorded", async () => {
    const f = await fake();
    const bodies: any[] = [];
    let answers = [500, 200];
    const hook = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      async fetch(req) {
        bodies.push(await req.json());
        return new Response("", { status: answers.shift() ?? 200 });
      },
    });
    cleanup.push(() => hook.stop(true));
    const r = await rig(channel("ok", f) + channel("no", await fake({ rate: false, requireHeaders: { "x-never": "1" } }), "retries = 0"));
    const id = await r.send(["ok"], { callbackUrl: `http://127.0.0.1:${hook.port}/cb?k=1` });
    await until(() => r.store.queue.message(id)!.callback?.status === "sent", "the callback");
    await Bun.sleep(200);
    expect(bodies.length).toBe(2);
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[1]).toMatchObject({ id, status: "delivered", shortCode: id, sendStatus: 2, message: "", deliveries: [{ id, channel: "ok", status: "delivered" }] });
    expect(r.store.queue.message(id)!.callback).toMatchObject({ status: "sent", attempts: 2, http_status: 200, error: null });
    expect(f.accepted().length).toBe(1);

    answers = [200];
    const bad = await r.send(["ok", "no"], { callbackUrl: `http://127.0.0.1:${hook.port}/cb` });
    await until(() => r.store.queue.message(bad)!.callback?.status === "sent", "the second callback");
    expect(bodies[2]).toMatchObject({ id: bad, status: "failed", sendStatus: 3, message: expect.stringContaining("401") });
  });

  test("stop(grace) puts a waiting delivery back in the queue, unowned, and leaves the rest queued", async () => {
    const f = await fake();
    const r = await rig(channel("s", f, `rate = "1/1500ms"`), { workers: 1 });
    await r.send(["s"]);
    await r.send(["s"]);
    await r.send(["s"]);
    await until(() => f.accepted().length === 1 && r.rows()[1]!.status === "pending", "the second one to wait for its slot");
    await r.workers.stop(20);
    const rows = r.rows();
    expect(rows.map((x) => [x.status, x.owner, x.possible_duplicate])).toEqual([["delivered", null, 0], ["queued", null, 0], ["queued", null, 0]]);
    expect(rows[1]!.error).toContain("pp serve stopped");
    expect(f.requests.length).toBe(1);
  });

  test("after a crash during a request, the next start sends it again, marked possible_duplicate", async () => {
    const f = await fake();
    let r = await rig(channel("c", f), { start: false });
    await r.send(["c"]);
    // What a kill -9 leaves: taken, a request recorded as going out, no answer.
    const [ref] = r.store.queue.queuedAfter(0);
    r.store.queue.take(ref!.id, Date.now() + 60_000);
    r.store.log.sending({ deliveryId: ref!.id, part: 1, parts: 1, attempt: 1, startedAt: Date.now() });
    r = await r.restart();
    await until(() => r.rows()[0]!.status === "delivered", "the resent delivery");
    expect(r.rows()[0]).toMatchObject({ possible_duplicate: 1, attempts: 2 });
    expect(r.store.db.query("SELECT attempt, outcome FROM attempts ORDER BY id").all()).toEqual([{ attempt: 1, outcome: "unknown" }, { attempt: 2, outcome: "ok" }]);
    expect(r.store.queue.message(r.store.queue.messages({ limit: 1 }).messages[0]!.id)!.deliveries[0]!.possible_duplicate).toBe(true);
  });
});
