/**
 * A platform that is down (or failing with 5xx / 429) only delays what the daemon accepted: queued deliveries are
 * retried with a growing wait until their deadline, waiting in the queue once the wait is long; permanent errors
 * still fail at once. And a daemon that stops does not sit out its grace period for deliveries that are only
 * waiting.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import { loadConfig } from "../../src/config/load.ts";
import type { Clock } from "../../src/core/dispatch.ts";
import { newId } from "../../src/core/id.ts";
import { secretsOf } from "../../src/core/redact.ts";
import type { DeliveryEvents } from "../../src/server/context.ts";
import { serveSettings } from "../../src/server/settings.ts";
import { QUEUE_BACKOFF_MAX_MS, Workers } from "../../src/server/workers.ts";
import { openQueueStore } from "../../src/store/queue.ts";
import { q, tempDir } from "../helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A platform answering every request with `status` (and its headers); counts what it got. */
function platform(status: number, headers: Record<string, string> = {}): { url: string; hits: () => number } {
  let hits = 0;
  const s: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      await req.text();
      hits++;
      return new Response(status >= 400 ? `error ${status}` : "ok", { status, headers });
    },
  });
  cleanup.push(() => s.stop(true));
  return { url: `http://127.0.0.1:${s.port}/hook`, hits: () => hits };
}

/** A port nothing listens on. */
function closedUrl(): string {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port;
  s.stop(true);
  return `http://127.0.0.1:${port}/hook`;
}

/** Time that moves only when the dispatch core sleeps: hours of backoff pass at once. */
function virtualClock(): Clock & { at: () => number } {
  let t = Date.now();
  return {
    now: () => t,
    at: () => t,
    sleep: async (ms, signal) => {
      if (signal.aborted) return;
      t += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
}

const counting = (): DeliveryEvents & { retried: () => void; count: Map<string, number> } => {
  const count = new Map<string, number>();
  const note = (k: string) => () => void count.set(k, (count.get(k) ?? 0) + 1);
  return { count, accepted: note("accepted"), delivered: note("delivered"), failed: note("failed"), retried: note("retried"), expired: note("expired"), rateWait: () => {} };
};

async function rig(url: string, o: { retries?: number; deadlineMs?: number; deferAfterMs?: number; clock?: Clock; rate?: string } = {}) {
  const dir = tempDir("pp-workers-retry-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[log]\npath = ${q(join(dir, "pp.db"))}\n[channels.down]\ntype = "webhook"\nurl = ${q(url)}\nretries = ${o.retries ?? 1}\ntimeout = "2s"\nrate = ${q(o.rate ?? "100000/s")}\n`,
  );
  const cfg = loadConfig(join(dir, "pp.toml"));
  const settings = { ...serveSettings(cfg, { token: "t0ken-for-tests" }, {}), workers: 2, deadlineMs: o.deadlineMs ?? 86_400_000 };
  const store = openQueueStore(cfg.dbPath);
  const events = counting();
  const workers = new Workers({
    queue: store.queue, limiter: store.limiter, config: () => cfg, settings: () => settings, events, secrets: () => secretsOf(cfg.channels.values()),
    random: () => 1, ...(o.clock ? { clock: o.clock } : {}), ...(o.deferAfterMs !== undefined ? { deferAfterMs: o.deferAfterMs } : {}),
  });
  cleanup.push(async () => {
    await workers.stop(0);
    store.close();
  });
  workers.start();
  const t = cfg.channels.get("down")!;
  const send = async () => {
    const now = Date.now();
    const id = newId(now);
    const r = await store.queue.enqueue({
      message: { id, createdAt: now, text: `hello ${id}`, format: "text", source: "api", targets: ["down"] },
      deliveries: [{ channel: "down", type: t.def.type, target: t.def.target(t.opts), parts: 1 }],
    });
    expect(r.kind).toBe("queued");
    workers.wake();
    return id;
  };
  const row = () => store.db.query("SELECT id, status, error, due_at, owner FROM deliveries").get() as { id: number; status: string; error: string | null; due_at: number | null; owner: string | null };
  const attempts = () => store.db.query("SELECT started_at, outcome FROM attempts ORDER BY id").all() as { started_at: number; outcome: string }[];
  return { store, workers, events, send, row, attempts };
}

async function until(cond: () => boolean, what: string, ms = 8_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

describe("queued deliveries and a platform that is down", () => {
  test("an unreachable platform is tried until the deadline, not `retries` times, the wait doubling up to 5 minutes", async () => {
    const clock = virtualClock();
    const r = await rig(closedUrl(), { retries: 1, deadlineMs: 20 * 60_000, deferAfterMs: 24 * 3_600_000, clock });
    await r.send();
    await until(() => r.row().status === "failed", "the delivery to end");
    const tries = r.attempts();
    // 0.5 s, 1 s, 2 s ... 256 s, then 300 s twice: 13 tries fit in 20 minutes (with `retries = 1` pp send makes 2).
    expect(tries).toHaveLength(13);
    expect(tries.every((a) => a.outcome === "retryable")).toBe(true);
    const gaps = tries.slice(1).map((a, i) => a.started_at - tries[i]!.started_at);
    expect(gaps.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(Math.max(...gaps)).toBe(QUEUE_BACKOFF_MAX_MS);
    expect(r.row().error).toMatch(/deadline reached before retry 13/);
    expect(r.events.count.get("retried")).toBe(12);
  });

  test("a 5xx is retried; once the wait is longer than the defer threshold the delivery waits in the queue, its next try shown", async () => {
    const clock = virtualClock();
    const p = platform(503);
    // Short waits are slept by the worker on the virtual clock; longer ones (over 2 s) go back to the queue.
    const r = await rig(p.url, { retries: 3, clock, deferAfterMs: 2000 });
    const id = await r.send();
    await until(() => r.row().status === "queued" && r.attempts().length === 4, "the delivery to go back to the queue");
    const row = r.row();
    // Waits of 0.5, 1 and 2 s were slept by the worker; the next, 4 s, is longer than the 2 s threshold.
    expect(p.hits()).toBe(4);
    expect(row.owner).toBeNull();
    expect(row.due_at).toBe(clock.at() + 4000);
    expect(row.error).toMatch(/503.*\(attempt 5 in 4\.0s\)/);
    expect(r.workers.inFlight).toBe(0);
    expect(r.store.queue.message(id)!.deliveries[0]!.status).toBe("queued");
  });

  test("when the platform is back, a delivery waiting out a long backoff goes at the channel's next success", async () => {
    let up = false;
    const s: Server<undefined> = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await req.text();
        return up ? new Response("ok") : new Response("down", { status: 503 });
      },
    });
    cleanup.push(() => s.stop(true));
    const r = await rig(`http://127.0.0.1:${s.port}/hook`);
    const first = await r.send();
    const id = (r.store.db.query("SELECT id FROM deliveries WHERE message_id = ?").get(first) as { id: number }).id;
    // As after a long outage: eleven tries made already, so the next wait is the longest, five minutes.
    const ins = r.store.db.query("INSERT INTO attempts (delivery_id, part, attempt, started_at, latency_ms, outcome, error) VALUES (?, 1, ?, ?, 1, 'retryable', 'HTTP 503')");
    for (let a = 1; a <= 11; a++) ins.run(id, a, Date.now() - 3_600_000);
    await until(() => r.attempts().length === 12 && r.row().status === "queued", "the twelfth try to fail");
    expect(r.row().error).toMatch(/\(attempt 13 in 5m0s\)$/);
    up = true;
    await r.send();
    // Bounded by the test's timeout, not by the five minutes.
    await until(() => (r.store.db.query("SELECT count(*) AS n FROM deliveries WHERE status = 'delivered'").get() as { n: number }).n === 2, "both to be delivered");
  }, 10_000);

  test("a permanent error still fails at once", async () => {
    const p = platform(400);
    const r = await rig(p.url, { retries: 3, clock: virtualClock() });
    await r.send();
    await until(() => r.row().status === "failed", "the delivery to fail");
    expect(p.hits()).toBe(1);
    expect(r.attempts().map((a) => a.outcome)).toEqual(["permanent"]);
  });

  test("stop() does not wait out the grace period for a delivery that is only waiting to try again", async () => {
    // The platform asks for a second's pause each time: the worker keeps the delivery and sleeps, try after try.
    const p = platform(429, { "Retry-After": "1" });
    const r = await rig(p.url, { retries: 20 });
    await r.send();
    await until(() => p.hits() >= 2, "the second try");
    // The test's own timeout (10 s) bounds this: with a grace of 60 s it would hang if stop() sat out the grace.
    await r.workers.stop(60_000);
    const row = r.row();
    expect(row.status).toBe("queued");
    expect(row.owner).toBeNull();
  }, 10_000);
});

