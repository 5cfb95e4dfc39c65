/**
 * What the daemon's hot path asks of the store: taking new work and checking queue_max must cost the rows added
 * since the last look, not the length of the queue. Checked by the statements run and their query plans, never by
 * time.
 */
import type { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { newId } from "../../src/core/id.ts";
import type { Enqueue } from "../../src/core/ports.ts";
import { openQueueStore } from "../../src/store/queue.ts";
import { tempDir } from "../helpers.ts";

let clockAt = Date.now();
const start = (channel: string) => ({ channel, type: "webhook", target: "http://127.0.0.1", parts: 1 });
function req(channels = ["ops"], o: Partial<Enqueue> = {}): Enqueue {
  const now = ++clockAt;
  return { message: { id: newId(now), createdAt: now, text: "disk full", format: "text", source: "api", targets: channels }, deliveries: channels.map(start), ...o };
}

function open() {
  const store = openQueueStore(join(tempDir("pp-queue-cost-"), "pp.db"));
  return { store, q: store.queue };
}

/** Records every SQL text the store prepares (or takes from its cache) until stop() is called. */
function capture(db: Database): { sqls: string[]; stop(): void } {
  const sqls: string[] = [];
  const query = db.query.bind(db);
  const prepare = db.prepare.bind(db);
  db.query = ((sql: string) => (sqls.push(sql), query(sql))) as typeof db.query;
  db.prepare = ((sql: string, ...rest: unknown[]) => (sqls.push(sql), (prepare as (...a: unknown[]) => unknown)(sql, ...rest))) as typeof db.prepare;
  return {
    sqls,
    stop() {
      db.query = query;
      db.prepare = prepare;
    },
  };
}

/** How SQLite runs a SELECT on deliveries: one line per step of its plan. */
function plan(db: Database, sql: string): string[] {
  const params = (sql.match(/\?/g) ?? []).map(() => 1);
  return (db.query(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
}

describe("the queue's hot path", () => {
  test("new queued deliveries are read by id from where the last look ended, not through the whole queue index", async () => {
    const { store, q } = open();
    await Promise.all(Array.from({ length: 300 }, () => q.enqueue(req(["blocked"]))));
    const all = q.queuedAfter(0);
    expect(all).toHaveLength(300);
    await q.enqueue(req(["free"]));
    const seen = capture(store.db);
    const fresh = q.queuedAfter(all.at(-1)!.id);
    seen.stop();
    expect(fresh.map((r) => r.channel)).toEqual(["free"]);
    const sqls = seen.sqls;
    const reads = sqls.filter((s) => /^\s*SELECT/i.test(s) && /FROM deliveries/i.test(s));
    expect(reads.length).toBeGreaterThan(0);
    for (const sql of reads) {
      const steps = plan(store.db, sql).filter((d) => /\b(deliveries|d)\b/.test(d) && !/\bm\b/.test(d));
      // By the rowid (the id range), never by an index on status, which holds every queued delivery.
      expect(steps.join("; ")).toMatch(/USING INTEGER PRIMARY KEY \(rowid>\?\)/);
      expect(steps.join("; ")).not.toMatch(/deliveries_status|deliveries_queued|SCAN/);
    }
    store.close();
  });

  test("queue_max and depth() count the queue once, then keep the count up without asking the store again", async () => {
    const { store, q } = open();
    await Promise.all(Array.from({ length: 50 }, () => q.enqueue(req(["a", "b"]))));
    expect(q.depth()).toBe(100);
    const seen = capture(store.db);
    for (let i = 0; i < 5; i++) {
      expect((await q.enqueue(req(["a"], { queueMax: 1_000 }))).kind).toBe("queued");
      q.depth();
    }
    seen.stop();
    const counts = seen.sqls;
    expect(counts.filter((s) => /count\(/i.test(s))).toEqual([]);
    expect(q.depth()).toBe(105);
    store.close();
  });

  test("a request that cannot be stored fails alone; the rest of its group commit is stored", async () => {
    const { store, q } = open();
    const a = req(["a"]);
    const twin = { ...req(["b"]), message: { ...a.message } };
    const c = req(["c"]);
    const before = q.commits;
    const got = await Promise.allSettled([q.enqueue(a), q.enqueue(twin), q.enqueue(c)]);
    expect(got.map((g) => g.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(q.commits - before).toBe(1);
    expect(store.db.query("SELECT channel FROM deliveries ORDER BY id").all()).toEqual([{ channel: "a" }, { channel: "c" }]);
    expect(q.depth()).toBe(2);
    expect(q.recount()).toBe(2);
    store.close();
  });

  test("the kept count follows enqueue, take, defer, finish, end and recovery, as a count of the store would", async () => {
    const { store, q } = open();
    const check = (n: number) => {
      expect(q.depth()).toBe(n);
      expect(q.recount()).toBe(n);
    };
    expect(q.depth()).toBe(0);
    await Promise.all([q.enqueue(req(["a", "b"])), q.enqueue(req(["a", "b"])), q.enqueue(req(["c"]))]);
    check(5);
    const [one, two, three] = q.queuedAfter(0);
    q.take(one!.id, Date.now() + 60_000);
    check(5);
    q.finish(one!.id, { status: "delivered", attempts: 1, latencyMs: 2, error: null });
    check(4);
    q.take(two!.id, Date.now() + 60_000);
    q.defer(two!.id, Date.now() + 5_000, "waiting");
    check(4);
    expect(q.end([{ id: two!.id, status: "failed", error: "gone" }, { id: one!.id, status: "failed", error: "ended already" }])).toEqual([two!.id]);
    check(3);
    q.take(three!.id, Date.now() + 60_000);
    // As at a restart: what this process held goes back to the queue, and is still open.
    q.recover(Date.now(), true);
    check(3);
    // Refused by queue_max: nothing added.
    expect((await q.enqueue(req(["a"], { queueMax: 3 }))).kind).toBe("full");
    check(3);
    store.close();
  });
});
