import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { join } from "node:path";
import { newId } from "../../src/core/id.ts";
import type { Enqueue, MessageRecord } from "../../src/core/ports.ts";
import { PushLog } from "../../src/store/pushlog.ts";
import { openQueueStore } from "../../src/store/queue.ts";
import { BUSY_TIMEOUT_MS } from "../../src/store/errors.ts";
import { tempDir } from "../helpers.ts";

function open() {
  const path = join(tempDir(), "pp.db");
  const store = openQueueStore(path);
  const db = new Database(path, { strict: true });
  return { path, store, q: store.queue, db };
}

function deadPid(): number {
  return Bun.spawnSync(["true"]).pid;
}

let clockAt = Date.now();
function message(o: Partial<MessageRecord> = {}): MessageRecord {
  // Distinct, increasing creation times, so that paging order is known.
  const now = ++clockAt;
  return { id: newId(now), createdAt: now, text: "disk full", format: "text", source: "api", targets: ["ops"], ...o };
}
const start = (channel: string) => ({ channel, type: "webhook", target: "http://127.0.0.1", parts: 1 });
const req = (o: Partial<Enqueue> = {}, channels = ["ops"]): Enqueue => ({ message: message(), deliveries: channels.map(start), ...o });
const idem = (key: string, fingerprint = "f1", windowMs = 120_000) => ({ key, fingerprint, windowMs });

describe("enqueue", () => {
  test("commits the message and a queued delivery per channel, kept across a reopen", async () => {
    const { path, q, store } = open();
    const e = req({ expiresAt: 1_900_000_000_000, requestId: "r-1", callbackUrl: "http://127.0.0.1:9/cb" }, ["ops", "dev"]);
    const r = await q.enqueue(e);
    expect(r).toEqual({ kind: "queued", id: e.message.id, skipped: [] });
    store.close();
    const db = new Database(path, { readonly: true, strict: true });
    const m = db.query("SELECT source, expires_at, request_id FROM messages WHERE id = ?").get(e.message.id);
    expect(m).toEqual({ source: "api", expires_at: 1_900_000_000_000, request_id: "r-1" });
    const d = db.query("SELECT channel, status, owner, due_at IS NOT NULL AS due FROM deliveries WHERE message_id = ? ORDER BY id").all(e.message.id);
    expect(d).toEqual([{ channel: "ops", status: "queued", owner: null, due: 1 }, { channel: "dev", status: "queued", owner: null, due: 1 }]);
    expect(db.query("SELECT status, url FROM callbacks").all()).toEqual([{ status: "waiting", url: "http://127.0.0.1:9/cb" }]);
  });

  test("concurrent enqueues share one commit; awaited one by one, each has its own", async () => {
    const { q, db } = open();
    const before = q.commits;
    const all = await Promise.all(Array.from({ length: 50 }, () => q.enqueue(req())));
    expect(all.every((r) => r.kind === "queued")).toBe(true);
    expect(q.commits - before).toBe(1);
    expect((db.query("SELECT count(*) AS n FROM deliveries WHERE status = 'queued'").get() as { n: number }).n).toBe(50);
    await q.enqueue(req());
    await q.enqueue(req());
    expect(q.commits - before).toBe(3);
  });

  test("each promise resolves only after its commit is visible to another connection", async () => {
    const { q, db } = open();
    const e = req();
    await q.enqueue(e);
    expect(db.query("SELECT id FROM messages WHERE id = ?").get(e.message.id)).toEqual({ id: e.message.id });
  });
});

describe("idempotency", () => {
  test("a repeat within the window returns the first message and queues nothing", async () => {
    const { q, db } = open();
    const first = await q.enqueue(req({ idempotency: idem("k"), requestId: "r-1" }));
    const again = await q.enqueue(req({ idempotency: idem("k"), requestId: "r-1" }));
    expect(first.kind).toBe("queued");
    expect(again).toEqual({ kind: "repeat", id: (first as { id: string }).id, requestId: "r-1" });
    expect((db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n).toBe(1);
  });

  test("the same key with another request is a conflict naming the first message", async () => {
    const { q } = open();
    const first = await q.enqueue(req({ idempotency: idem("k", "f1") }));
    expect(await q.enqueue(req({ idempotency: idem("k", "f2") }))).toEqual({ kind: "conflict", id: (first as { id: string }).id });
  });

  test("two identical keys in one batch: the second is a repeat of the first", async () => {
    const { q } = open();
    const before = q.commits;
    const [a, b, c] = await Promise.all([q.enqueue(req({ idempotency: idem("k") })), q.enqueue(req({ idempotency: idem("k") })), q.enqueue(req({ idempotency: idem("k", "other") }))]);
    expect(q.commits - before).toBe(1);
    expect(a!.kind).toBe("queued");
    expect(b).toEqual({ kind: "repeat", id: (a as { id: string }).id });
    expect(c).toEqual({ kind: "conflict", id: (a as { id: string }).id });
  });

  test("after the window the key makes a new message", async () => {
    const { q, db } = open();
    const first = await q.enqueue(req({ idempotency: idem("k") }));
    db.run("UPDATE idempotency SET created_at = created_at - 121000");
    const later = await q.enqueue(req({ idempotency: idem("k", "f2") }));
    expect(later.kind).toBe("queued");
    expect((later as { id: string }).id).not.toBe((first as { id: string }).id);
    // And the new message is what the key now answers with.
    expect(await q.enqueue(req({ idempotency: idem("k", "f2") }))).toEqual({ kind: "repeat", id: (later as { id: string }).id });
  });

  test("mentions are kept in the store: a daemon restarted with the message queued still mentions", async () => {
    const { path, q, store } = open();
    const e = req({ message: message({ at: ["all", "13800001111"] }) });
    await q.enqueue(e);
    store.close();
    const again = openQueueStore(path);
    try {
      const [ref] = again.queue.queuedAfter(0);
      expect(again.queue.take(ref!.id, Date.now() + 60_000)!.message.at).toEqual(["all", "13800001111"]);
      expect(again.queue.message(e.message.id)!.at).toEqual(["all", "13800001111"]);
    } finally {
      again.close();
    }
  });

  test("keys are kept across a restart of the daemon", async () => {
    const { path, q, store } = open();
    const first = await q.enqueue(req({ idempotency: idem("k") }));
    store.close();
    const again = openQueueStore(path);
    expect(await again.queue.enqueue(req({ idempotency: idem("k") }))).toEqual({ kind: "repeat", id: (first as { id: string }).id });
    again.close();
  });
});

describe("limits and replays", () => {
  test("queue_max: beyond it enqueue answers full and stores nothing", async () => {
    const { q, db } = open();
    expect((await q.enqueue(req({ queueMax: 2 }, ["a", "b"]))).kind).toBe("queued");
    const r = await q.enqueue(req({ queueMax: 2 }));
    expect(r.kind).toBe("full");
    expect((r as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n).toBe(1);
    expect(q.depth()).toBe(2);
  });

  test("a replay through the queue skips a channel that is queued, and the CLI's replay does too", async () => {
    const { q, store } = open();
    const orig = req({}, ["ops", "dev"]);
    await q.enqueue(orig);
    store.db.run("UPDATE deliveries SET status = 'delivered' WHERE channel = 'dev'");
    const replay = (force = false) => req({ message: message({ replayOf: orig.message.id, source: "replay" }), claim: { force, uncertain: false } }, ["ops", "dev"]);
    const r = await q.enqueue(replay());
    expect(r.kind).toBe("nothing");
    expect((r as { skipped: { channel: string; reason: string }[] }).skipped).toEqual([
      { channel: "ops", reason: `queued in the daemon (message ${orig.message.id})` },
      { channel: "dev", reason: `already delivered (message ${orig.message.id})` },
    ]);
    const cli = store.log.begin(message({ replayOf: orig.message.id, source: "replay" }), [start("ops")], { leaseUntil: Date.now() + 60_000, claim: { force: true, uncertain: false } });
    expect(cli).toEqual([{ id: null, skip: "sending", reason: `queued in the daemon (message ${orig.message.id})` }]);
    // A forced replay still leaves the queued one alone but sends what was delivered.
    const forced = await q.enqueue(replay(true));
    expect(forced).toMatchObject({ kind: "queued", skipped: [{ channel: "ops" }] });
  });
});

describe("reading", () => {
  test("message() shows the new fields; messages() pages newest first without gaps or repeats", async () => {
    const { q, store } = open();
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const e = req({ requestId: `r${i}` }, i % 2 ? ["ops", "dev"] : ["ops"]);
      ids.push(e.message.id);
      await q.enqueue(e);
    }
    const v = q.message(ids[3]!)!;
    expect(v).toMatchObject({ id: ids[3], source: "api", request_id: "r3", expires_at: null, callback: null });
    expect(v.deliveries[0]).toMatchObject({ status: "queued", possible_duplicate: false });
    expect(typeof v.deliveries[0]!.due_at).toBe("string");

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = q.messages({ limit: 10, ...(cursor ? { cursor } : {}) });
      seen.push(...page.messages.map((m) => m.id));
      cursor = page.next ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    // Filtered by channel: the odd ones only, still paged.
    const dev: string[] = [];
    cursor = undefined;
    do {
      const page = q.messages({ limit: 4, channel: "dev", ...(cursor ? { cursor } : {}) });
      dev.push(...page.messages.map((m) => m.id));
      cursor = page.next ?? undefined;
    } while (cursor);
    expect(dev).toEqual(ids.filter((_, i) => i % 2).reverse());

    // By status: one message with two deliveries in that status is listed once.
    store.db.run(`UPDATE deliveries SET status = 'failed' WHERE message_id IN ('${ids[1]}', '${ids[2]}')`);
    const failed = q.messages({ limit: 1, status: "failed" });
    expect(failed.messages.map((m) => m.id)).toEqual([ids[2]]);
    const rest = q.messages({ limit: 5, status: "failed", cursor: failed.next! });
    expect(rest.messages.map((m) => m.id)).toEqual([ids[1]]);
    expect(rest.next).toBeNull();

    const since = q.messages({ limit: 100, since: store.log.get(ids[20]!)!.message.created_at });
    expect(since.messages.map((m) => m.id)).toEqual(ids.slice(20).reverse());
    expect(() => q.messages({ limit: 5, cursor: "nonsense!" })).toThrow("cursor");
  });

  test("depth counts queued and daemon-pending deliveries; the store is writable", async () => {
    const { q, store } = open();
    await q.enqueue(req({}, ["a", "b", "c"]));
    expect(q.depth()).toBe(3);
    const [first] = q.queuedAfter(0);
    q.take(first!.id, Date.now() + 60_000);
    expect(q.depth()).toBe(3);
    q.finish(first!.id, { status: "delivered", attempts: 1, latencyMs: 3, error: null });
    expect(q.depth()).toBe(2);
    // A CLI send in flight is not the daemon's.
    store.log.begin(message({ source: "cli" }), [start("x")], { leaseUntil: Date.now() + 60_000 });
    expect(q.depth()).toBe(2);
    expect(q.writable()).toBe(true);
  });

  // The 5 s bound catches a probe that waits the store's whole busy timeout (10 s), holding up every request.
  test("writable() is false while another process holds the write lock, without waiting out the busy timeout", async () => {
    const { q, store, db } = open();
    db.run("BEGIN IMMEDIATE");
    expect(q.writable()).toBe(false);
    db.run("ROLLBACK");
    expect(q.writable()).toBe(true);
    expect(store.log.busyTimeout()).toBe(BUSY_TIMEOUT_MS);
  }, 5_000);
});

describe("crash recovery", () => {
  test("only deliveries with a request in flight are marked possible_duplicate; live owners and CLI sends are left alone", async () => {
    const { q, store, db } = open();
    const e = req({}, ["inflight", "notsent", "alive"]);
    await q.enqueue(e);
    const refs = q.queuedAfter(0);
    const byChannel = new Map(refs.map((r) => [r.channel, r.id]));
    for (const r of refs) q.take(r.id, Date.now() + 60_000);
    const dead = `${hostname()}:${deadPid()}`;
    db.run(`UPDATE deliveries SET owner = '${dead}' WHERE channel IN ('inflight', 'notsent')`);
    db.run(`UPDATE deliveries SET owner = 'elsewhere:1' WHERE channel = 'alive'`);
    store.log.sending({ deliveryId: byChannel.get("inflight")!, part: 1, parts: 1, attempt: 1, startedAt: Date.now() });
    // A CLI send abandoned the same way keeps the CLI's rule (settled by the claim or log --failed, not resent).
    const [cli] = new PushLog(db, dead).begin(message({ source: "cli" }), [start("cli")], { leaseUntil: Date.now() + 60_000 });

    const back = q.recover();
    expect(back.sort()).toEqual([byChannel.get("inflight")!, byChannel.get("notsent")!].sort());
    const rows = db.query("SELECT channel, status, possible_duplicate, owner FROM deliveries ORDER BY id").all();
    expect(rows).toEqual([
      { channel: "inflight", status: "queued", possible_duplicate: 1, owner: null },
      { channel: "notsent", status: "queued", possible_duplicate: 0, owner: null },
      { channel: "alive", status: "pending", possible_duplicate: 0, owner: "elsewhere:1" },
      { channel: "cli", status: "pending", possible_duplicate: 0, owner: dead },
    ]);
    expect(db.query("SELECT outcome, error FROM attempts").get()).toMatchObject({ outcome: "unknown", error: expect.stringContaining("possible duplicate") });
    expect(cli!.id).toBeGreaterThan(0);
    // The resent one carries its earlier try.
    const taken = q.take(byChannel.get("inflight")!, Date.now() + 60_000)!;
    expect(taken.tried.byPart.get(1)).toBe(1);
  });

  test("at start, deliveries held under this process's own owner string are a predecessor's", async () => {
    const { q } = open();
    await q.enqueue(req());
    const [r] = q.queuedAfter(0);
    q.take(r!.id, Date.now() + 60_000);
    expect(q.recover()).toEqual([]);
    expect(q.recover(Date.now(), true)).toEqual([r!.id]);
  });
});

describe("the push log around the queue", () => {
  test("log --failed leaves queued ones out and lists expired ones; replay --failed skips both; stats count them", async () => {
    const { q, store, db } = open();
    const e = req({}, ["queued", "expired", "failed", "waiting"]);
    await q.enqueue(e);
    const ids = new Map(q.queuedAfter(0).map((r) => [r.channel, r.id]));
    q.end([{ id: ids.get("expired")!, status: "expired", error: "expired" }, { id: ids.get("failed")!, status: "failed", error: "gone" }]);
    // One the daemon had taken when it was killed: it resumes on the next start, it is not failed.
    q.take(ids.get("waiting")!, Date.now() + 60_000);
    db.run(`UPDATE deliveries SET owner = '${hostname()}:${deadPid()}' WHERE channel = 'waiting'`);
    expect(store.log.list({ failed: true }).map((r) => [r.channel, r.status]).sort()).toEqual([["expired", "expired"], ["failed", "failed"]]);
    expect(store.log.unrecovered(0).map((r) => r.channel)).toEqual(["failed"]);
    const s = new Map(store.log.stats().map((r) => [r.channel, r]));
    expect(s.get("queued")).toMatchObject({ queued: 1, pending: 0, deliveries: 1 });
    expect(s.get("expired")).toMatchObject({ expired: 1, deliveries: 1 });
  });

  test("when the last delivery ends, the message's callback becomes due", async () => {
    const { q } = open();
    const e = req({ callbackUrl: "http://127.0.0.1:9/cb" }, ["a", "b"]);
    await q.enqueue(e);
    const [a, b] = q.queuedAfter(0);
    q.take(a!.id, Date.now() + 60_000);
    q.finish(a!.id, { status: "delivered", attempts: 1, latencyMs: 1, error: null });
    expect(q.dueCallbacks(Date.now(), 10)).toEqual([]);
    q.end([{ id: b!.id, status: "expired", error: "expired" }]);
    expect(q.dueCallbacks(Date.now(), 10)).toEqual([{ messageId: e.message.id, url: "http://127.0.0.1:9/cb", attempts: 0 }]);
    expect(q.message(e.message.id)!.callback).toMatchObject({ status: "queued", attempts: 0 });
  });
});

describe("pp log on a daemon's deliveries", () => {
  test("log show names the queued one's due time, a possible duplicate, the expiry and the callback; replay --failed leaves them", async () => {
    const { path, q, store } = open();
    const e = req({ expiresAt: Date.now() + 3_600_000, callbackUrl: "http://127.0.0.1:9/cb" }, ["a", "b"]);
    await q.enqueue(e);
    const [a, b] = q.queuedAfter(0);
    q.take(a!.id, Date.now() + 60_000);
    store.log.sending({ deliveryId: a!.id, part: 1, parts: 1, attempt: 1, startedAt: Date.now() });
    store.db.run(`UPDATE deliveries SET owner = '${hostname()}:${deadPid()}' WHERE id = ${a!.id}`);
    q.recover();
    q.end([{ id: b!.id, status: "expired", error: "expired before it could be delivered" }]);
    store.close();
    const dir = join(path, "..");
    await Bun.write(join(dir, "pp.toml"), `[log]\npath = ${JSON.stringify(path)}\n`);
    const run = (...args: string[]) => {
      const p = Bun.spawnSync(["bun", join(import.meta.dir, "../../src/cli/main.ts"), ...args, "--config", join(dir, "pp.toml")], { env: { ...process.env, NO_COLOR: "1" } });
      return { out: p.stdout.toString(), err: p.stderr.toString(), code: p.exitCode };
    };
    const show = run("log", "show", e.message.id);
    expect(show.out).toMatch(/^a \(webhook, [^)]*\): queued \(due \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)$/m);
    expect(show.out).toContain("possible duplicate: pp stopped during a request for it");
    expect(show.out).toMatch(/^b \(webhook, [^)]*\): expired — expired before it could be delivered$/m);
    expect(show.out).toMatch(/^expires  \d{4}-/m);
    expect(show.out).toMatch(/^callback waiting$/m);
    const failed = run("log", "--failed", "--json");
    expect(JSON.parse(failed.out).map((r: { channel: string; status: string }) => [r.channel, r.status])).toEqual([["b", "expired"]]);
    const replay = run("replay", "--failed", "--json");
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.out)).toMatchObject({ replays: [], replayed: 0 });
  });
});
