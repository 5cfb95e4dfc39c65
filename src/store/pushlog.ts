import type { Database } from "bun:sqlite";
import { transact } from "./tx.ts";
import type { AttemptEnd, AttemptStart, BeginOptions, Begun, DeliveryEnd, DeliveryStart, DeliveryStatus, MessageRecord, Recorder } from "../core/ports.ts";

export type { DeliveryStatus };

export interface LogRow {
  id: string;              // message id
  delivery_id: number;
  channel: string;
  type: string;
  target: string;
  status: DeliveryStatus;
  attempts: number;
  parts: number;
  latency_ms: number | null;
  error: string | null;
  created_at: number;
  updated_at: number;
  title: string | null;
  text: string;
  format: string;
  replay_of: string | null;
  /** 1 when the daemon sent it again after a crash during its request: it may have arrived twice. */
  possible_duplicate?: number;
  /** For a delivery that went through the daemon's queue: when it is (or was last) due. */
  due_at?: number | null;
}

export interface LogFilter {
  /**
   * What is not delivered: failed, uncertain and abandoned pending deliveries, leaving out those whose
   * original message a later replay (or the original itself) has delivered to that channel, unless `all`.
   */
  failed?: boolean;
  all?: boolean;
  channel?: string;
  since?: number;
  limit?: number;
  /** Rows older than this one only (newest-first paging): its created_at and delivery id. */
  before?: { createdAt: number; deliveryId: number };
}

export interface AttemptRow {
  part: number;
  attempt: number;
  started_at: number;
  latency_ms: number;
  http_status: number | null;
  outcome: string;
  error: string | null;
  response: string | null;
}

export interface MessageDetail {
  message: {
    id: string; created_at: number; title: string | null; text: string; format: string; source: string; replay_of: string | null; targets: string[];
    expires_at: number | null; request_id: string | null;
  };
  deliveries: (LogRow & { attempts_log: AttemptRow[] })[];
  /** Whom the message mentions (MessageRecord.at), kept so that a replay mentions them again. */
  at?: string[];
  /** The message's callback, when it asked for one (the URL is left out: it may carry a token). */
  callback: CallbackRow | null;
}

export interface CallbackRow {
  status: "waiting" | "queued" | "sent" | "failed";
  attempts: number;
  due_at: number | null;
  http_status: number | null;
  error: string | null;
  updated_at: number;
}

export interface StatRow {
  channel: string;
  deliveries: number;
  delivered: number;
  failed: number;
  uncertain: number;
  pending: number;
  queued: number;
  expired: number;
  success_rate: number | null;   // delivered / (delivered + failed)
  p50_ms: number | null;
  p95_ms: number | null;
}

const SELECT_ROWS = `SELECT m.id, d.id AS delivery_id, d.channel, d.type, d.target, d.status, d.attempts, d.parts,
  d.latency_ms, d.error, d.created_at, d.updated_at, m.title, m.text, m.format, m.replay_of, d.possible_duplicate, d.due_at
  FROM deliveries d JOIN messages m ON m.id = d.message_id`;

/** This machine's name; node:os is loaded when it is first asked for (loading it costs each pp process about 0.5 ms). */
const hostname = (): string => (require("node:os") as typeof import("node:os")).hostname();

/** Who owns the deliveries this process records: "host:pid". */
export function thisProcess(): string {
  return `${hostname()}:${process.pid}`;
}

/** A pending delivery is abandoned when its lease ran out or its process, on this machine, is gone. */
export function abandoned(owner: string | null, leaseUntil: number | null, now: number, host = hostname()): boolean {
  if (owner === null || leaseUntil === null || leaseUntil < now) return true;
  const { host: h, pid } = splitOwner(owner);
  // On another machine only the lease can tell.
  if (h !== host || !(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as { code?: string }).code !== "EPERM";
  }
}

function splitOwner(owner: string): { host: string; pid: number } {
  const at = owner.lastIndexOf(":");
  return { host: owner.slice(0, at), pid: Number(owner.slice(at + 1)) };
}

function ownerText(owner: string | null, host: string): string {
  if (owner === null) return "an earlier pp";
  const o = splitOwner(owner);
  return o.host === host ? `process ${o.pid}` : `process ${o.pid} on ${o.host}`;
}

const IN_FLIGHT = "EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id AND a.outcome = 'sending')";
/** Same original message (the message itself or any replay of it) as `m`, same channel as `d`, delivered. */
// Written as two lookups, one by message id and one through the replay index: with the OR of the two, SQLite
// walked every delivery of the channel for each row, and `pp log --failed` on a million rows took minutes.
const FAMILY_DELIVERED = `(EXISTS (SELECT 1 FROM deliveries d2 WHERE d2.message_id = coalesce(m.replay_of, m.id) AND d2.channel = d.channel AND d2.status = 'delivered')
  OR EXISTS (SELECT 1 FROM messages m2 INDEXED BY messages_replay JOIN deliveries d2 ON d2.message_id = m2.id
    WHERE m2.replay_of IS NOT NULL AND m2.replay_of = coalesce(m.replay_of, m.id) AND d2.channel = d.channel AND d2.status = 'delivered'))`;
/**
 * The deliveries of the original message ?1 and of its replays, to channel ?2, found by message (two index
 * lookups) rather than by channel (every delivery the channel ever had).
 */
const familyRows = (join = "") => `deliveries d INDEXED BY deliveries_message JOIN messages m ON m.id = d.message_id${join}
  WHERE d.message_id IN (SELECT ?1 UNION ALL SELECT id FROM messages INDEXED BY messages_replay WHERE replay_of IS NOT NULL AND replay_of = ?1)
  AND d.channel = ?2`;

interface FamilyRow { id: number; message_id: string; status: DeliveryStatus; owner: string | null; lease_until: number | null; in_flight: number; due_at: number | null }

/**
 * A delivery the daemon has queued, or took from its queue and is sending: even when its daemon is gone, the
 * next start resumes it, so nobody else sends or settles it meanwhile.
 */
export function inDaemon(r: { status: string; due_at?: number | null }): boolean {
  return r.status === "queued" || (r.status === "pending" && r.due_at !== null && r.due_at !== undefined);
}

/** The push log: every message, every delivery to a channel and every attempt. */
export class PushLog implements Recorder {
  private ownerName: string | undefined;
  private hostName: string | undefined;
  constructor(
    private readonly db: Database,
    owner?: string,
  ) {
    this.ownerName = owner;
  }

  /** "host:pid" of the process recording (thisProcess unless given): looked up when needed, which pp log mostly is not. */
  get owner(): string {
    return (this.ownerName ??= thisProcess());
  }

  private get host(): string {
    return (this.hostName ??= splitOwner(this.owner).host);
  }

  /**
   * How long one statement waits for a lock another process holds before it fails. Once sending has begun, pp
   * keeps this short and retries asynchronously instead, so that signals are handled while it waits.
   */
  busyTimeout(ms?: number): number {
    if (ms === undefined) return (this.db.query("PRAGMA busy_timeout").get() as { timeout: number }).timeout;
    // Set, it is what it was set to: no statement to read it back (each one is compiled on a short pp's start-up path).
    const timeout = Math.max(0, Math.floor(ms));
    this.db.run(`PRAGMA busy_timeout = ${timeout}`);
    return timeout;
  }

  begin(msg: MessageRecord, deliveries: DeliveryStart[], o: BeginOptions): Begun[] {
    // IMMEDIATE: the check and the insert of a claim must not interleave with another process's claim.
    return transact(this.db, (): Begun[] => {
      const now = Date.now();
      const root = msg.replayOf;
      const begun: Begun[] = deliveries.map((d) => (o.claim && root ? this.claim(root, d.channel, o.claim, now) : { id: 0 }));
      if (!begun.some((b) => b.id !== null)) return begun;
      this.db
        .query("INSERT INTO messages (id, created_at, title, text, format, source, replay_of, targets, mentions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .run(msg.id, msg.createdAt, msg.title ?? null, msg.text, msg.format, msg.source, msg.replayOf ?? null, JSON.stringify(msg.targets), mentionsColumn(msg.at));
      const ins = this.db.query(
        `INSERT INTO deliveries (message_id, channel, type, target, status, parts, created_at, updated_at, owner, lease_until)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?) RETURNING id`,
      );
      return begun.map((b, i) => {
        if (b.id === null) return b;
        const d = deliveries[i]!;
        const id = (ins.get(msg.id, d.channel, d.type, d.target, d.parts, msg.createdAt, msg.createdAt, this.owner, o.leaseUntil) as { id: number }).id;
        // Read after the claim: no other process can accept a part of this channel while we hold it.
        return root && o.claim && !o.claim.force ? { id, accepted: this.acceptedParts(root, d.channel) } : { id };
      });
    }, "immediate");
  }

  /**
   * Whether this process may send `channel` for the original message `root`; settles the family's abandoned
   * pending deliveries on the way (failed, or uncertain when a request was in flight), so history reads right.
   */
  claim(root: string, channel: string, c: { force: boolean; uncertain: boolean }, now: number): Begun {
    const rows = this.db
      .query(
        `SELECT d.id, m.id AS message_id, d.status, d.owner, d.lease_until, ${IN_FLIGHT} AS in_flight, d.due_at
         FROM ${familyRows()} ORDER BY d.id`,
      )
      .all(root, channel) as FamilyRow[];
    let sending: FamilyRow | undefined;
    let queued: FamilyRow | undefined;
    let delivered: FamilyRow | undefined;
    let uncertain: FamilyRow | undefined;
    for (const r of rows) {
      let status = r.status;
      if (inDaemon(r)) {
        queued ??= r;
        continue;
      }
      if (status === "pending") {
        if (!abandoned(r.owner, r.lease_until, now, this.host)) {
          sending ??= r;
          continue;
        }
        status = this.settle(r, now);
      }
      if (status === "delivered") delivered ??= r;
      if (status === "uncertain") uncertain ??= r;
    }
    if (sending) return { id: null, skip: "sending", reason: `being sent by ${ownerText(sending.owner, this.host)} (message ${sending.message_id})` };
    if (queued) return { id: null, skip: "sending", reason: `queued in the daemon (message ${queued.message_id})` };
    if (delivered && !c.force) return { id: null, skip: "delivered", reason: `already delivered (message ${delivered.message_id})` };
    if (uncertain && !c.force && !c.uncertain) {
      return { id: null, skip: "uncertain", reason: `may have arrived: a request was in flight when pp stopped (message ${uncertain.message_id})` };
    }
    return { id: 0 };
  }

  private settle(r: FamilyRow, now: number): DeliveryStatus {
    const who = ownerText(r.owner, this.host);
    const [status, error] = r.in_flight
      ? (["uncertain", `${who} stopped during a request: the platform may have received it`] as const)
      : (["failed", `${who} stopped before finishing`] as const);
    this.db.query("UPDATE deliveries SET status = ?, error = coalesce(error, ?), updated_at = ? WHERE id = ? AND status = 'pending'").run(status, error, now, r.id);
    return status;
  }

  sending(a: AttemptStart): number {
    return transact(this.db, () => {
      const { id } = this.db
        .query("INSERT INTO attempts (delivery_id, part, attempt, started_at, latency_ms, outcome) VALUES (?, ?, ?, ?, 0, 'sending') RETURNING id")
        .get(a.deliveryId, a.part, a.attempt, a.startedAt) as { id: number };
      this.db.query("UPDATE deliveries SET attempts = attempts + 1, parts = ?, updated_at = ? WHERE id = ?").run(a.parts, a.startedAt, a.deliveryId);
      return id;
    });
  }

  answered(attemptId: number, a: AttemptEnd): void {
    this.db
      .query("UPDATE attempts SET latency_ms = ?, http_status = ?, outcome = ?, error = ?, response = ? WHERE id = ?")
      .run(a.latencyMs, a.httpStatus, a.outcome, a.error, a.response, attemptId);
  }

  finish(deliveryId: number, f: DeliveryEnd): void {
    this.db
      .query("UPDATE deliveries SET status = ?, latency_ms = ?, error = ?, updated_at = ? WHERE id = ?")
      .run(f.status, f.latencyMs, f.error, Date.now(), deliveryId);
  }

  /**
   * For a process about to exit at once: what it still has pending of these messages becomes uncertain when a
   * request was in flight (the platform may have it), else failed.
   */
  abandon(messageIds: string[], inFlight: string, notSent: string): void {
    const q = this.db.query(
      `UPDATE deliveries AS d SET status = CASE WHEN ${IN_FLIGHT} THEN 'uncertain' ELSE 'failed' END,
         error = CASE WHEN ${IN_FLIGHT} THEN ? ELSE ? END, updated_at = ?
       WHERE d.message_id = ? AND d.status = 'pending' AND d.owner = ?`,
    );
    transact(this.db, () => {
      for (const id of messageIds) q.run(inFlight, notSent, Date.now(), id, this.owner);
    });
  }

  /** Whether any delivery of the original message `root` (or of a replay of it) to `channel` was delivered. */
  familyDelivered(root: string, channel: string): boolean {
    return !!this.db
      .query(
        `SELECT 1 FROM ${familyRows()} AND d.status = 'delivered' LIMIT 1`,
      )
      .get(root, channel);
  }

  /** Newest first. Each filter maps onto an index, so this stays fast on millions of rows. */
  list(filter: LogFilter = {}): LogRow[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.failed) {
      // One status per query (bound below), so each reads the (status, created_at) index in order, unsorted.
      where.push("d.status = ?");
      if (!filter.all) where.push(`NOT ${FAMILY_DELIVERED}`);
    }
    if (filter.channel) (where.push("d.channel = ?"), params.push(filter.channel));
    if (filter.since !== undefined) (where.push("d.created_at >= ?"), params.push(filter.since));
    if (filter.before) {
      where.push("(d.created_at < ? OR (d.created_at = ? AND d.id < ?))");
      params.push(filter.before.createdAt, filter.before.createdAt, filter.before.deliveryId);
    }
    const limit = filter.limit ?? 20;
    const cols = filter.failed ? `, d.owner, d.lease_until, ${IN_FLIGHT} AS in_flight` : "";
    const index = filter.failed ? " INDEXED BY deliveries_status" : "";
    const sql = `${SELECT_ROWS.replace(" FROM deliveries d", `${cols} FROM deliveries d${index}`)}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY d.created_at DESC, d.id DESC`;
    if (!filter.failed) return this.db.query(`${sql} LIMIT ?`).all(...params, limit) as LogRow[];
    // A pending delivery is listed only once its process is gone: that needs a look at the process, not SQL.
    const now = Date.now();
    const rows: LogRow[] = [];
    type Row = LogRow & Omit<FamilyRow, "id" | "message_id" | "status">;
    const statements = (["failed", "uncertain", "pending", "expired"] as const).map((status) => ({ status, q: this.db.prepare(sql) }));
    const streams = statements.map(({ status, q }) => q.iterate(status, ...params) as IterableIterator<Row>);
    for (const r of newestFirst(streams)) {
      if (rows.length >= limit) break;
      const { owner, lease_until, in_flight, ...row } = r;
      if (row.status === "pending") {
        // The daemon resumes its own deliveries when it starts again: they are not failed.
        if (inDaemon(row) || !abandoned(owner, lease_until, now, this.host)) continue;
        const who = ownerText(owner, this.host);
        row.error ??= in_flight ? `${who} stopped during a request: the platform may have received it` : `${who} stopped before finishing`;
      }
      rows.push(row);
    }
    // Unfinished statements would keep a read transaction open.
    for (const { q } of statements) q.finalize();
    return rows;
  }

  /** A message by id, or by a unique prefix of its id. */
  get(idOrPrefix: string): MessageDetail | null {
    const id = idOrPrefix.toUpperCase();
    const rows = this.db.query("SELECT * FROM messages WHERE id >= ? AND id < ? ORDER BY id LIMIT 2").all(id, `${id}\u{10FFFF}`) as any[];
    if (rows.length !== 1 && rows[0]?.id !== id) return null;
    const m = rows[0];
    return this.detail(m);
  }

  /** A message row (SELECT * FROM messages) with its deliveries, their attempts and its callback. */
  detail(m: any): MessageDetail {
    const deliveries = (this.db.query(`${SELECT_ROWS} WHERE d.message_id = ? ORDER BY d.id`).all(m.id) as LogRow[]).map((d) => ({
      ...d,
      attempts_log: this.db
        .query("SELECT part, attempt, started_at, latency_ms, http_status, outcome, error, response FROM attempts WHERE delivery_id = ? ORDER BY id")
        .all(d.delivery_id) as AttemptRow[],
    }));
    const callback = this.db
      .query("SELECT status, attempts, due_at, http_status, error, updated_at FROM callbacks WHERE message_id = ?")
      .get(m.id) as CallbackRow | null;
    const { mentions, ...message } = m;
    return { message: { ...message, targets: JSON.parse(m.targets) }, deliveries, callback, ...(mentions ? { at: JSON.parse(mentions) as string[] } : {}) };
  }

  /** Whether more than one message starts with this prefix (to explain a failed lookup). */
  ambiguous(prefix: string): boolean {
    const id = prefix.toUpperCase();
    return (this.db.query("SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE id >= ? AND id < ? LIMIT 2)").get(id, `${id}\u{10FFFF}`) as { n: number }).n > 1;
  }

  /**
   * Ids of the messages of `source` created from `from` to `to` (unix ms) whose text starts with `prefix`, oldest
   * first: how an original finds its fallback alerts. The time range keeps it to an index range, not the whole log.
   */
  startingWith(source: string, prefix: string, from: number, to: number, limit = 100): string[] {
    return (this.db
      .query(
        `SELECT id FROM messages INDEXED BY messages_created WHERE created_at >= ? AND created_at <= ? AND source = ? AND substr(text, 1, ?) = ?
         ORDER BY created_at, id LIMIT ?`,
      )
      .all(from, to, source, prefix.length, prefix, limit) as { id: string }[]).map((r) => r.id);
  }

  /**
   * What `pp replay --failed` should send again: each (original message, channel) with a failed, uncertain or
   * abandoned pending delivery in the window that neither the original nor any replay of it has delivered since.
   * Oldest first. Whether it may really be sent is decided by the claim, when it is sent.
   */
  unrecovered(since: number, channel?: string): { root: string; channel: string }[] {
    const sql = `SELECT coalesce(m.replay_of, m.id) AS root, d.channel, d.status, d.owner, d.lease_until, d.due_at
      FROM deliveries d JOIN messages m ON m.id = d.message_id
      WHERE d.status IN ('failed', 'uncertain', 'pending') AND d.created_at >= ?${channel ? " AND d.channel = ?" : ""}
        AND NOT ${FAMILY_DELIVERED}
      ORDER BY d.created_at, d.id`;
    const now = Date.now();
    const seen = new Set<string>();
    const todo: { root: string; channel: string }[] = [];
    const rows = this.db.query(sql).all(...(channel ? [since, channel] : [since])) as { root: string; channel: string; status: string; owner: string | null; lease_until: number | null; due_at: number | null }[];
    for (const r of rows) {
      if (r.status === "pending" && (inDaemon(r) || !abandoned(r.owner, r.lease_until, now, this.host))) continue;
      const key = JSON.stringify([r.root, r.channel]);
      if (seen.has(key)) continue;
      seen.add(key);
      todo.push({ root: r.root, channel: r.channel });
    }
    return todo;
  }

  /**
   * One pass over the window (by the created_at index when there is one) rather than a query per channel:
   * percentiles need each channel's latencies anyway.
   */
  /**
   * The parts of a message (or of any replay of it) that a channel accepted, by how many parts the message
   * was split into then: a replay skips them when it splits the same way.
   */
  acceptedParts(root: string, channel: string): Map<number, Set<number>> {
    const rows = this.db
      .query(
        `SELECT DISTINCT d.parts, a.part FROM ${familyRows(" JOIN attempts a ON a.delivery_id = d.id")} AND a.outcome = 'ok'`,
      )
      .all(root, channel) as { parts: number; part: number }[];
    const by = new Map<number, Set<number>>();
    for (const r of rows) by.set(r.parts, (by.get(r.parts) ?? new Set()).add(r.part));
    return by;
  }

  stats(since?: number, channel?: string): StatRow[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (since !== undefined) (where.push("created_at >= ?"), params.push(since));
    if (channel) (where.push("channel = ?"), params.push(channel));
    const index = since !== undefined && !channel ? " INDEXED BY deliveries_created" : "";
    const rows = this.db
      .query(`SELECT channel, status, latency_ms FROM deliveries${index}${where.length ? ` WHERE ${where.join(" AND ")}` : ""}`)
      .values(...params) as [string, string, number | null][];
    const by = new Map<string, { delivered: number; failed: number; uncertain: number; pending: number; queued: number; expired: number; latencies: number[] }>();
    for (const [ch, status, latency] of rows) {
      let s = by.get(ch);
      if (!s) by.set(ch, (s = { delivered: 0, failed: 0, uncertain: 0, pending: 0, queued: 0, expired: 0, latencies: [] }));
      if (status === "delivered") {
        s.delivered++;
        if (latency !== null) s.latencies.push(latency);
      } else if (status === "failed") s.failed++;
      else if (status === "uncertain") s.uncertain++;
      else if (status === "queued") s.queued++;
      else if (status === "expired") s.expired++;
      else s.pending++;
    }
    return [...by.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([ch, s]) => {
        const l = s.latencies.sort((a, b) => a - b);
        const done = s.delivered + s.failed;
        return {
          channel: ch, deliveries: done + s.uncertain + s.pending + s.queued + s.expired, delivered: s.delivered, failed: s.failed, uncertain: s.uncertain,
          pending: s.pending, queued: s.queued, expired: s.expired,
          success_rate: done ? s.delivered / done : null, p50_ms: pct(l, 0.5), p95_ms: pct(l, 0.95),
        };
      });
  }
}

/** Merges streams that are each newest first (created_at, then delivery id) into one, newest first. */
function* newestFirst<T extends { created_at: number; delivery_id: number }>(streams: IterableIterator<T>[]): Generator<T> {
  const heads = streams.map((s) => s.next());
  for (;;) {
    let best = -1;
    heads.forEach((h, i) => {
      if (h.done) return;
      const b = best === -1 ? undefined : (heads[best]!.value as T);
      if (!b || h.value.created_at > b.created_at || (h.value.created_at === b.created_at && h.value.delivery_id > b.delivery_id)) best = i;
    });
    if (best === -1) return;
    yield heads[best]!.value as T;
    heads[best] = streams[best]!.next();
  }
}

function pct(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** MessageRecord.at as the messages.mentions column holds it. */
export function mentionsColumn(at: readonly string[] | undefined): string | null {
  return at?.length ? JSON.stringify(at) : null;
}
