import { Database } from "bun:sqlite";
import { PpError } from "../core/errors.ts";
import type { DeliveryEnd, Enqueue, EnqueueResult, Inbox, MessageQuery, MessageRecord, Recorder } from "../core/ports.ts";
import { closeDb, openDb } from "./db.ts";
import { BUSY_TIMEOUT_MS, storeError } from "./errors.ts";
import { abandoned, mentionsColumn, PushLog } from "./pushlog.ts";
import { SqliteLimiter } from "./ratelimit.ts";
import { SqliteTokens } from "./tokens.ts";
import { jsonRow, messageJson, type MessageView, type RowView } from "./view.ts";

/** The daemon's store: the push log, the shared rate limiter and the queue, on one connection. */
export interface QueueStore {
  db: Database;
  log: PushLog;
  limiter: SqliteLimiter;
  tokens: SqliteTokens;
  queue: SqliteQueue;
  /** Closes without checkpointing the WAL (closeDb). */
  close(): void;
}

export function openQueueStore(path: string, o: { owner?: string } = {}): QueueStore {
  // bun:sqlite keeps the 20 statements used last: the daemon's path through a request and a delivery uses more,
  // and a statement prepared again for every use cost more than the rest of the request.
  if (Database.MAX_QUERY_CACHE_SIZE < QUERY_CACHE) Database.MAX_QUERY_CACHE_SIZE = QUERY_CACHE;
  const db = openDb(path);
  // The daemon writes several small transactions per delivery: checkpointing at SQLite's default of 1000 pages
  // rather than the CLI's 100 (openDb) halves what each costs. CLI processes opening the store meanwhile index
  // a WAL of a few MiB at most.
  db.run("PRAGMA wal_autocheckpoint = 1000");
  const log = new PushLog(db, o.owner);
  return { db, log, limiter: new SqliteLimiter(db), tokens: new SqliteTokens(db), queue: new SqliteQueue(db, log, path), close: () => closeDb(db, path) };
}

/** A queued delivery as the scheduler indexes it. */
export interface QueuedRef {
  id: number;
  messageId: string;
  channel: string;
  dueAt: number;
  createdAt: number;
  expiresAt: number | null;
  /** It waits to be tried again after a failure (not for a rate limit): due at once when its channel works again. */
  retrying?: boolean;
  /** Made due early once already (Workers): it is not again. */
  revived?: boolean;
}

/** A delivery a worker took from the queue: what it needs to run it through the dispatch core. */
export interface Taken {
  deliveryId: number;
  channel: string;
  message: MessageRecord;
  expiresAt: number | null;
  /** Parts already accepted, by how many parts the message was split into: this delivery's own, and for a replay its family's. */
  accepted: Map<number, Set<number>>;
  /** Tries already made, by part, for the number of parts last recorded. */
  tried: { parts: number; byPart: Map<number, number> };
}

export interface DueCallback { messageId: string; url: string; attempts: number }

/** The deliveries a worker holds count as abandoned when their lease runs out without a heartbeat. */
export const LEASE_MS = 120_000;
/** How long GET /healthz waits for another process's write lock before it calls the store unwritable. */
export const HEALTH_WAIT_MS = 250;

/** Deliveries that have not ended. */
const OPEN = "('queued', 'pending')";

/**
 * The daemon's queue over the push log. An API message is a push-log message (source "api") whose deliveries start
 * `queued` with a due time; a worker takes one (pending, owned, with a short lease), runs it, and either finishes
 * it or puts it back with a later due time. Deliveries that went through the queue keep their due_at, which tells
 * them from CLI sends (see inDaemon in pushlog.ts).
 */
export class SqliteQueue implements Inbox {
  /** Transactions that committed enqueued messages (group commits are counted once). */
  commits = 0;
  /**
   * The last commit of messages failed for the store (full, locked, gone): /healthz says so until a write succeeds,
   * because its own probe writes nothing and a full disk still lets it start a transaction.
   */
  private writeFailed = false;
  private batch: { e: Enqueue; resolve: (r: EnqueueResult) => void; reject: (e: unknown) => void }[] = [];
  /** Made once: bun:sqlite builds four wrappers each time transaction() is called, and a commit may hold thousands. */
  private readonly group: { immediate: (f: () => void) => void };
  private readonly savepoint: (e: Enqueue, now: number, queued: number) => EnqueueResult;

  constructor(
    private readonly db: Database,
    readonly log: PushLog,
    private readonly path = ":memory:",
  ) {
    this.group = db.transaction((f: () => void) => f());
    this.savepoint = db.transaction((e: Enqueue, now: number, queued: number) => this.insert(e, now, queued));
  }

  get owner(): string {
    return this.log.owner;
  }

  enqueue(e: Enqueue): Promise<EnqueueResult> {
    return new Promise((resolve, reject) => {
      this.batch.push({ e, resolve, reject });
      // Everything enqueued until the event loop has handled the I/O at hand shares one commit (and one fsync).
      if (this.batch.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    let results: ({ ok: true; r: EnqueueResult } | { ok: false; e: unknown })[] = [];
    let added = 0;
    let requestFailed = false;
    /** `alone`: each request in a savepoint of its own, so one that cannot be stored fails alone. */
    const commit = (alone: boolean) => {
      results = [];
      added = 0;
      this.group.immediate(() => {
        const now = Date.now();
        let queued = batch.some((b) => b.e.queueMax !== undefined) ? this.depth() : 0;
        const longest = batch.reduce((w, b) => Math.max(w, b.e.idempotency?.windowMs ?? 0), 0);
        if (longest > 0) this.db.query("DELETE FROM idempotency WHERE created_at <= ?").run(now - longest);
        for (const { e } of batch) {
          let r: EnqueueResult;
          if (alone) {
            try {
              r = this.savepoint(e, now, queued);
            } catch (err) {
              results.push({ ok: false, e: err });
              continue;
            }
          } else {
            try {
              r = this.insert(e, now, queued);
            } catch (err) {
              requestFailed = true;
              throw err;
            }
          }
          if (r.kind === "queued") {
            const n = e.deliveries.length - r.skipped.length;
            queued += n;
            added += n;
          }
          results.push({ ok: true, r });
        }
      });
    };
    try {
      // Accepted means durable against a power cut, not only against a crash of pp: these commits wait for the disk.
      this.db.query("PRAGMA synchronous = FULL").run();
      try {
        // Without savepoints first: a savepoint copies every page it changes to a statement journal, which doubled
        // what a message costs. Should anything fail, nothing was committed, and the batch runs again request by request.
        try {
          commit(false);
        } catch (err) {
          // The store itself (locked, full, gone) fails every request alike: no second try.
          if (!requestFailed) throw err;
          commit(true);
        }
      } finally {
        this.db.query("PRAGMA synchronous = NORMAL").run();
      }
      this.commits++;
      this.writeFailed = false;
      if (this.open !== undefined) this.open += added;
    } catch (err) {
      this.writeFailed = true;
      const e = storeError(err, this.path, "queue the message");
      for (const b of batch) b.reject(e);
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i]!;
      if (r.ok) b.resolve(r.r);
      else b.reject(storeError(r.e, this.path, "queue the message"));
    });
  }

  private insert(e: Enqueue, now: number, queued: number): EnqueueResult {
    const m = e.message;
    const idem = e.idempotency;
    if (idem) {
      const seen = this.db.query("SELECT fingerprint, message_id, request_id, created_at FROM idempotency WHERE key = ?").get(idem.key) as
        | { fingerprint: string; message_id: string; request_id: string | null; created_at: number }
        | null;
      if (seen && seen.created_at > now - idem.windowMs) {
        if (seen.fingerprint !== idem.fingerprint) return { kind: "conflict", id: seen.message_id };
        return { kind: "repeat", id: seen.message_id, ...(seen.request_id !== null ? { requestId: seen.request_id } : {}) };
      }
    }
    if (e.queueMax !== undefined && queued >= e.queueMax) return { kind: "full", retryAfterMs: FULL_RETRY_MS };
    const skipped: { channel: string; reason: string }[] = [];
    const keep = e.deliveries.filter((d) => {
      if (!e.claim || m.replayOf === undefined) return true;
      const b = this.log.claim(m.replayOf, d.channel, e.claim, now);
      if (b.id === null) skipped.push({ channel: d.channel, reason: b.reason });
      return b.id !== null;
    });
    if (keep.length === 0 && e.deliveries.length > 0 && skipped.length > 0) return { kind: "nothing", skipped };
    this.db
      .query("INSERT INTO messages (id, created_at, title, text, format, source, replay_of, targets, expires_at, request_id, mentions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .run(m.id, m.createdAt, m.title ?? null, m.text, m.format, m.source, m.replayOf ?? null, JSON.stringify(m.targets), e.expiresAt ?? null, e.requestId ?? null, mentionsColumn(m.at));
    const ins = this.db.query(
      `INSERT INTO deliveries (message_id, channel, type, target, status, parts, created_at, updated_at, due_at, skip_accepted)
       VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
    );
    const skipAccepted = e.claim && !e.claim.force ? 1 : 0;
    for (const d of keep) ins.run(m.id, d.channel, d.type, d.target, d.parts, m.createdAt, now, now, skipAccepted);
    if (e.callbackUrl !== undefined) {
      // With nothing to deliver the message has ended already.
      const [status, due] = keep.length ? ["waiting", null] : ["queued", now];
      this.db.query("INSERT INTO callbacks (message_id, url, status, due_at, updated_at) VALUES (?, ?, ?, ?, ?)").run(m.id, e.callbackUrl, status, due, now);
    }
    if (idem) {
      this.db
        .query("INSERT OR REPLACE INTO idempotency (key, fingerprint, message_id, request_id, created_at) VALUES (?, ?, ?, ?, ?)")
        .run(idem.key, idem.fingerprint, m.id, e.requestId ?? null, now);
    }
    return { kind: "queued", id: m.id, skipped };
  }

  /**
   * Deliveries of the daemon that have not ended (queued, or pending with a worker), counted from the store once and
   * then kept up by what this connection adds and ends: a count walks the whole queue index, 100k entries when the
   * queue is full, and queue_max is checked at every group commit.
   */
  private open: number | undefined;

  private countOpen(): number {
    const queued = (this.db.query("SELECT count(*) AS n FROM deliveries INDEXED BY deliveries_queued WHERE status = 'queued'").get() as { n: number }).n;
    const pending = (this.db.query("SELECT count(*) AS n FROM deliveries INDEXED BY deliveries_status WHERE status = 'pending' AND due_at IS NOT NULL").get() as { n: number }).n;
    return queued + pending;
  }

  message(idOrPrefix: string): MessageView | null {
    const m = this.log.get(idOrPrefix);
    return m ? messageJson(m) : null;
  }

  /**
   * Newest first by (created_at, id). A filter on status or channel walks that delivery index (a delivery is
   * created with its message's created_at), so a rare status is found without reading every message.
   */
  messages(q: MessageQuery): { messages: MessageView[]; next: string | null } {
    const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(q.limit) || 1));
    const cur = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const ids: string[] = [];
    let last: { t: number; id: string } | undefined;
    let more = false;
    if (q.status === undefined && q.channel === undefined) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (q.since !== undefined) (where.push("created_at >= ?"), params.push(q.since));
      if (cur) (where.push("created_at <= ? AND NOT (created_at = ? AND id >= ?)"), params.push(cur.t, cur.t, cur.id));
      const rows = this.db
        .query(`SELECT id, created_at FROM messages INDEXED BY messages_created${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`)
        .all(...params, limit + 1) as { id: string; created_at: number }[];
      more = rows.length > limit;
      for (const r of rows.slice(0, limit)) (ids.push(r.id), (last = { t: r.created_at, id: r.id }));
    } else {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (q.status !== undefined) (where.push("status = ?"), params.push(q.status));
      if (q.channel !== undefined) (where.push("channel = ?"), params.push(q.channel));
      if (q.since !== undefined) (where.push("created_at >= ?"), params.push(q.since));
      if (cur) (where.push("created_at <= ? AND NOT (created_at = ? AND message_id >= ?)"), params.push(cur.t, cur.t, cur.id));
      const index = q.status !== undefined ? "deliveries_status" : "deliveries_channel";
      const stmt = this.db.prepare(`SELECT message_id, created_at FROM deliveries INDEXED BY ${index} WHERE ${where.join(" AND ")} ORDER BY created_at DESC, message_id DESC`);
      try {
        for (const r of stmt.iterate(...params) as IterableIterator<{ message_id: string; created_at: number }>) {
          // The deliveries of one message share its created_at and id, so they come one after another.
          if (last && last.id === r.message_id) continue;
          if (ids.length === limit) {
            more = true;
            break;
          }
          ids.push(r.message_id);
          last = { t: r.created_at, id: r.message_id };
        }
      } finally {
        stmt.finalize();
      }
    }
    const get = this.db.query("SELECT * FROM messages WHERE id = ?");
    const messages = ids.map((id) => messageJson(this.log.detail(get.get(id))));
    return { messages, next: more && last ? encodeCursor(last) : null };
  }

  /** Deliveries queued or being sent by the daemon. */
  depth(): number {
    if (this.open === undefined) this.open = this.countOpen();
    return this.open;
  }

  /** Counts the daemon's open deliveries again from the store (after another process may have changed them). */
  recount(): number {
    this.open = this.countOpen();
    return this.open;
  }

  /** Some of the daemon's open deliveries ended. */
  private ended(n: number): void {
    if (this.open !== undefined && n > 0) this.open = Math.max(0, this.open - n);
  }

  /** Whether a write transaction can be started now (the store is not locked, read-only or gone). */
  writable(): boolean {
    if (this.writeFailed) return false;
    // The probe waits for another process's write lock only briefly: with the store's own busy timeout (10 s) a
    // health check would hold up every request the daemon serves meanwhile.
    this.db.run(`PRAGMA busy_timeout = ${HEALTH_WAIT_MS}`);
    try {
      this.db.run("BEGIN IMMEDIATE");
      this.db.run("ROLLBACK");
      return true;
    } catch {
      try {
        if (this.db.inTransaction) this.db.run("ROLLBACK");
      } catch {}
      return false;
    } finally {
      this.db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /**
   * After a failed commit of messages, one small real write (the schema version, rewritten as it is) to learn
   * whether the store takes writes again; the workers' heartbeat calls it. True when the store is writable.
   */
  retryWrite(): boolean {
    if (!this.writeFailed) return true;
    try {
      this.db.transaction(() => {
        const v = (this.db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
        this.db.run(`PRAGMA user_version = ${v}`);
      }).immediate();
      this.writeFailed = false;
    } catch {}
    return !this.writeFailed;
  }

  // ---- the worker side ----

  /** Queued deliveries whose id is above `afterId`, in id order (all of them from 0), for the scheduler's index. */
  queuedAfter(afterId: number): QueuedRef[] {
    return this.queuedSince(afterId).refs;
  }

  /**
   * Queued deliveries whose id is above `afterId`, and the highest id looked at (where the next look starts). From 0
   * (at start) the queue index is read; after that, deliveries by id, which only grows: each look costs the rows
   * added since, never the length of the queue.
   */
  queuedSince(afterId: number): { refs: QueuedRef[]; last: number } {
    const cols = "d.id, d.message_id, d.channel, d.due_at, d.status, d.error, m.created_at, m.expires_at FROM deliveries d JOIN messages m ON m.id = d.message_id";
    if (afterId <= 0) {
      // The highest id first: a delivery queued after it is found by the next look.
      const last = (this.db.query("SELECT coalesce(max(id), 0) AS n FROM deliveries").get() as { n: number }).n;
      const rows = this.db.query(`SELECT ${cols} WHERE d.status = 'queued' AND d.id <= ? ORDER BY d.id`).all(last) as RefRow[];
      return { refs: rows.map(toRef), last };
    }
    const rows = this.db.query(`SELECT ${cols} WHERE d.id > ? ORDER BY d.id`).all(afterId) as (RefRow & { status: string })[];
    const last = rows.length ? rows[rows.length - 1]!.id : afterId;
    return { refs: rows.filter((r) => r.status === "queued").map(toRef), last };
  }

  /**
   * Takes a queued delivery for this process: pending, owned, leased until `leaseUntil`. Null when it is no longer
   * queued (another worker or process took it, or it ended).
   */
  take(id: number, leaseUntil: number, now = Date.now()): Taken | null {
    return this.db.transaction((): Taken | null => {
      const taken = this.db
        .query("UPDATE deliveries SET status = 'pending', owner = ?, lease_until = ?, updated_at = ? WHERE id = ? AND status = 'queued'")
        .run(this.owner, leaseUntil, now, id).changes;
      if (taken !== 1) return null;
      const d = this.db.query("SELECT message_id, channel, parts, skip_accepted FROM deliveries WHERE id = ?").get(id) as
        { message_id: string; channel: string; parts: number; skip_accepted: number };
      const m = this.db.query("SELECT * FROM messages WHERE id = ?").get(d.message_id) as any;
      const accepted = new Map<number, Set<number>>();
      const own = this.db.query("SELECT DISTINCT d.parts, a.part FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.delivery_id = ? AND a.outcome = 'ok'").all(id) as { parts: number; part: number }[];
      for (const r of own) accepted.set(r.parts, (accepted.get(r.parts) ?? new Set()).add(r.part));
      if (d.skip_accepted && m.replay_of) {
        for (const [n, parts] of this.log.acceptedParts(m.replay_of, d.channel)) for (const p of parts) accepted.set(n, (accepted.get(n) ?? new Set()).add(p));
      }
      const byPart = new Map<number, number>();
      const tries = this.db.query("SELECT part, count(*) AS n FROM attempts WHERE delivery_id = ? GROUP BY part").all(id) as { part: number; n: number }[];
      for (const r of tries) byPart.set(r.part, r.n);
      const message: MessageRecord = {
        id: m.id, createdAt: m.created_at, text: m.text, format: m.format, source: m.source, targets: JSON.parse(m.targets),
        ...(m.title !== null ? { title: m.title } : {}), ...(m.replay_of !== null ? { replayOf: m.replay_of } : {}),
        ...(m.mentions ? { at: JSON.parse(m.mentions) as string[] } : {}),
      };
      return { deliveryId: id, channel: d.channel, message, expiresAt: m.expires_at, accepted, tried: { parts: d.parts, byPart } };
    }).immediate();
  }

  /** Heartbeat: the deliveries this process is working on stay its own until `leaseUntil`. */
  renew(ids: Iterable<number>, leaseUntil: number): void {
    const q = this.db.query("UPDATE deliveries SET lease_until = ? WHERE id = ? AND status = 'pending' AND owner = ?");
    this.db.transaction(() => {
      for (const id of ids) q.run(leaseUntil, id, this.owner);
    })();
  }

  /** Back to the queue, due at `dueAt`; `reason` (why it waits) is kept as its error until it runs again. */
  defer(id: number, dueAt: number, reason: string | null, now = Date.now()): void {
    this.db
      .query("UPDATE deliveries SET status = 'queued', due_at = ?, error = coalesce(?, error), owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'pending'")
      .run(dueAt, reason, now, id);
  }

  /**
   * Ends queued deliveries that can no longer be sent (their deadline passed, their channel is gone), each as
   * `status` with its error; returns those that were still queued. Their messages' callbacks become due.
   */
  end(items: { id: number; status: "failed" | "expired"; error: string }[], now = Date.now()): number[] {
    const q = this.db.query("UPDATE deliveries SET status = ?, error = ?, owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND status IN ('queued', 'pending') RETURNING message_id");
    const ended = this.db.transaction(() => {
      const ended: number[] = [];
      for (const it of items) {
        const row = q.get(it.status, it.error, now, it.id) as { message_id: string } | null;
        if (!row) continue;
        ended.push(it.id);
        this.settle(row.message_id, now);
      }
      return ended;
    }).immediate();
    this.ended(ended.length);
    return ended;
  }

  /**
   * What the dispatch core records through, for a delivery taken from the queue: as the push log, except that
   * finishing one releases it and, when it was the message's last, makes the message's callback due.
   */
  readonly recorder: Recorder = {
    begin: () => {
      throw new Error("queued deliveries are recorded by enqueue");
    },
    sending: (a) => this.log.sending(a),
    answered: (id, a) => this.log.answered(id, a),
    finish: (id, f) => this.finish(id, f),
  };

  finish(deliveryId: number, f: DeliveryEnd, now = Date.now()): void {
    const wasOpen = this.db.transaction(() => {
      const was = this.db.query(`SELECT status IN ${OPEN} AS open FROM deliveries WHERE id = ?`).get(deliveryId) as { open: number } | null;
      const row = this.db
        .query("UPDATE deliveries SET status = ?, latency_ms = ?, error = ?, owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? RETURNING message_id")
        .get(f.status, f.latencyMs, f.error, now, deliveryId) as { message_id: string } | null;
      if (row) this.settle(row.message_id, now);
      return !!was?.open;
    })();
    if (wasOpen) this.ended(1);
  }

  /** When no delivery of the message is open any more, its callback (if it asked for one) becomes due. */
  private settle(messageId: string, now: number): void {
    const open = this.db.query(`SELECT 1 FROM deliveries WHERE message_id = ? AND status IN ${OPEN} LIMIT 1`).get(messageId);
    if (open) return;
    this.db.query("UPDATE callbacks SET status = 'queued', due_at = ?, updated_at = ? WHERE message_id = ? AND status = 'waiting'").run(now, now, messageId);
  }

  /**
   * At start (and now and then): the daemon's deliveries left pending by a process that is gone, or whose lease ran
   * out, go back to the queue. One whose request was in flight may have reached the platform: it is sent again
   * (a loss is worse than a duplicate) and marked possible_duplicate, and the unanswered attempt is closed as
   * `unknown`. `mine`: this process has just started, so what its owner string still holds is a predecessor's
   * (a container's pid 1). Returns the deliveries put back.
   */
  recover(now = Date.now(), mine = false): number[] {
    return this.db.transaction(() => {
      const rows = this.db
        .query(
          `SELECT d.id, d.owner, d.lease_until, ${IN_FLIGHT} AS in_flight
           FROM deliveries d INDEXED BY deliveries_status WHERE d.status = 'pending' AND d.due_at IS NOT NULL`,
        )
        .all() as { id: number; owner: string | null; lease_until: number | null; in_flight: number }[];
      const back = rows.filter((r) => (mine && r.owner === this.owner) || abandoned(r.owner, r.lease_until, now));
      this.requeue(back, now);
      // A process stopped between a message's last delivery ending and its callback becoming due.
      this.db
        .query(
          `UPDATE callbacks SET status = 'queued', due_at = ?, updated_at = ? WHERE status = 'waiting'
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = callbacks.message_id AND d.status IN ${OPEN})`,
        )
        .run(now, now);
      return back.map((r) => r.id);
    }).immediate();
  }

  /**
   * For a daemon about to exit with deliveries still running past its grace period: they go back to the queue now,
   * as a crash would leave them for the next start (possible_duplicate when a request is out). Should an answer
   * still come before the exit, it is recorded over this.
   */
  release(ids: number[], now = Date.now()): void {
    const q = this.db.query(`SELECT d.id, ${IN_FLIGHT} AS in_flight FROM deliveries d WHERE d.id = ? AND d.status = 'pending' AND d.owner = ?`);
    this.db.transaction(() => {
      const rows = ids.map((id) => q.get(id, this.owner) as { id: number; in_flight: number } | null).filter((r) => r !== null);
      this.requeue(rows, now);
    }).immediate();
  }

  private requeue(rows: { id: number; in_flight: number }[], now: number): void {
    const close = this.db.query("UPDATE attempts SET outcome = 'unknown', error = ? WHERE delivery_id = ? AND outcome = 'sending'");
    const requeue = this.db.query(
      "UPDATE deliveries SET status = 'queued', due_at = ?, owner = NULL, lease_until = NULL, possible_duplicate = max(possible_duplicate, ?), updated_at = ? WHERE id = ?",
    );
    for (const r of rows) {
      if (r.in_flight) close.run(CRASHED_ATTEMPT, r.id);
      requeue.run(now, r.in_flight ? 1 : 0, now, r.id);
    }
  }

  /** The scheduler's view of these deliveries, those of them still queued. */
  refs(ids: number[]): QueuedRef[] {
    const q = this.db.query(
      `SELECT d.id, d.message_id, d.channel, d.due_at, m.created_at, m.expires_at FROM deliveries d JOIN messages m ON m.id = d.message_id
       WHERE d.id = ? AND d.status = 'queued'`,
    );
    return ids.map((id) => q.get(id) as RefRow | null).filter((r) => r !== null).map(toRef);
  }

  /** Callbacks due at `now`, oldest first. */
  dueCallbacks(now: number, limit: number): DueCallback[] {
    return (this.db
      .query("SELECT message_id, url, attempts FROM callbacks INDEXED BY callbacks_due WHERE status = 'queued' AND due_at <= ? ORDER BY due_at LIMIT ?")
      .all(now, limit) as { message_id: string; url: string; attempts: number }[]).map((r) => ({ messageId: r.message_id, url: r.url, attempts: r.attempts }));
  }

  /** When the next queued callback is due, or null. */
  nextCallback(): number | null {
    return (this.db.query("SELECT min(due_at) AS t FROM callbacks INDEXED BY callbacks_due WHERE status = 'queued'").get() as { t: number | null }).t;
  }

  /** Records one try of a callback: sent, failed for good, or queued again for `dueAt`. */
  callbackTried(messageId: string, r: { status: "sent" | "failed" | "queued"; dueAt: number | null; httpStatus: number | null; error: string | null }, now = Date.now()): void {
    this.db
      .query("UPDATE callbacks SET status = ?, attempts = attempts + 1, due_at = ?, http_status = ?, error = ?, updated_at = ? WHERE message_id = ?")
      .run(r.status, r.dueAt, r.httpStatus, r.error, now, messageId);
  }

  /**
   * `pp log --failed` (with `all`, `--all`) a page at a time: PushLog.list's rules, so the API and the CLI agree on
   * what did not arrive. The cursor is the last row's (created_at, delivery id).
   */
  undelivered(q: import("../core/ports.ts").UndeliveredQuery): { rows: RowView[]; next: string | null } {
    const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(q.limit) || 1));
    let before: { createdAt: number; deliveryId: number } | undefined;
    if (q.cursor !== undefined) {
      const text = /^[A-Za-z0-9_-]{1,200}$/.test(q.cursor) ? Buffer.from(q.cursor, "base64url").toString() : "";
      const m = /^r(\d{1,16})\.(\d{1,16})$/.exec(text);
      if (!m) throw new PpError("usage", "the cursor is not one this server gave out; start again without it");
      before = { createdAt: Number(m[1]), deliveryId: Number(m[2]) };
    }
    const rows = this.log.list({ failed: true, all: q.all, channel: q.channel, since: q.since, limit: limit + 1, ...(before ? { before } : {}) });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const next = rows.length > limit && last ? Buffer.from(`r${last.created_at}.${last.delivery_id}`).toString("base64url") : null;
    return { rows: page.map(jsonRow), next };
  }

  /** `pp log --stats`'s rows. */
  stats(q: { since?: number; channel?: string }): import("./pushlog.ts").StatRow[] {
    return this.log.stats(q.since, q.channel);
  }
}

/** Statements a connection of the daemon keeps prepared. */
const QUERY_CACHE = 256;

/** What a client is told to wait when the queue is full. */
export const FULL_RETRY_MS = 5_000;
/** Largest page of GET /api/messages. */
export const MAX_PAGE = 500;

interface RefRow { id: number; message_id: string; channel: string; due_at: number | null; created_at: number; expires_at: number | null; error?: string | null }
const toRef = (r: RefRow): QueuedRef => ({
  id: r.id, messageId: r.message_id, channel: r.channel, dueAt: r.due_at ?? r.created_at, createdAt: r.created_at, expiresAt: r.expires_at,
  ...(r.error && RETRY_WAIT.test(r.error) ? { retrying: true } : {}),
});

/** How the dispatch core words a retry's wait in a deferred delivery's error ("... (attempt 5 in 4.0s)"). */
const RETRY_WAIT = /\(attempt \d+ in (?:\d+ms|[\d.]+s|\d+m\d+s)\)$/;

const IN_FLIGHT = "EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id AND a.outcome = 'sending')";

const CRASHED_ATTEMPT = "pp stopped during this request, so the platform may have received it; the daemon sends it again (possible duplicate)";

function encodeCursor(c: { t: number; id: string }): string {
  return Buffer.from(`${c.t}.${c.id}`).toString("base64url");
}

/** A cursor this store did not give out is refused as a usage error (HTTP 400). */
function decodeCursor(s: string): { t: number; id: string } {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(s) ? Buffer.from(s, "base64url").toString() : "";
  const m = /^(\d{1,16})\.([0-9A-Za-z]{1,64})$/.exec(text);
  if (!m) throw new PpError("usage", "the cursor is not one this server gave out; start again without it");
  return { t: Number(m[1]), id: m[2]! };
}
