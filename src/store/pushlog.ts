import type { Database } from "bun:sqlite";
import type { AttemptRecord, DeliveryEnd, DeliveryStart, MessageRecord, Recorder } from "../core/ports.ts";

export type DeliveryStatus = "pending" | "delivered" | "failed";

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
}

export interface LogFilter {
  failed?: boolean;
  channel?: string;
  since?: number;
  limit?: number;
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
  message: { id: string; created_at: number; title: string | null; text: string; format: string; source: string; replay_of: string | null; targets: string[] };
  deliveries: (LogRow & { attempts_log: AttemptRow[] })[];
}

export interface StatRow {
  channel: string;
  deliveries: number;
  delivered: number;
  failed: number;
  pending: number;
  success_rate: number | null;   // delivered / (delivered + failed)
  p50_ms: number | null;
  p95_ms: number | null;
}

const SELECT_ROWS = `SELECT m.id, d.id AS delivery_id, d.channel, d.type, d.target, d.status, d.attempts, d.parts,
  d.latency_ms, d.error, d.created_at, d.updated_at, m.title, m.text, m.format, m.replay_of
  FROM deliveries d JOIN messages m ON m.id = d.message_id`;

/** The push log: every message, every delivery to a channel and every attempt. */
export class PushLog implements Recorder {
  constructor(private readonly db: Database) {}

  begin(msg: MessageRecord, deliveries: DeliveryStart[]): number[] {
    return this.db.transaction(() => {
      this.db
        .query("INSERT INTO messages (id, created_at, title, text, format, source, replay_of, targets) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .run(msg.id, msg.createdAt, msg.title ?? null, msg.text, msg.format, msg.source, msg.replayOf ?? null, JSON.stringify(msg.targets));
      const ins = this.db.query(
        "INSERT INTO deliveries (message_id, channel, type, target, status, parts, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) RETURNING id",
      );
      return deliveries.map((d) => (ins.get(msg.id, d.channel, d.type, d.target, d.parts, msg.createdAt, msg.createdAt) as { id: number }).id);
    })();
  }

  attempt(a: AttemptRecord): void {
    this.db.transaction(() => {
      this.db
        .query(
          "INSERT INTO attempts (delivery_id, part, attempt, started_at, latency_ms, http_status, outcome, error, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(a.deliveryId, a.part, a.attempt, a.startedAt, a.latencyMs, a.httpStatus, a.outcome, a.error, a.response);
      this.db.query("UPDATE deliveries SET attempts = attempts + 1, updated_at = ? WHERE id = ?").run(a.startedAt + a.latencyMs, a.deliveryId);
    })();
  }

  finish(deliveryId: number, f: DeliveryEnd): void {
    this.db
      .query("UPDATE deliveries SET status = ?, latency_ms = ?, error = ?, updated_at = ? WHERE id = ?")
      .run(f.status, f.latencyMs, f.error, Date.now(), deliveryId);
  }

  /** Marks what is still pending of these messages as failed, with the reason (an interrupted pp). */
  abandon(messageIds: string[], reason: string): void {
    const q = this.db.query("UPDATE deliveries SET status = 'failed', error = ?, updated_at = ? WHERE message_id = ? AND status = 'pending'");
    this.db.transaction(() => {
      for (const id of messageIds) q.run(reason, Date.now(), id);
    })();
  }

  /** Newest first. Each filter maps onto an index, so this stays fast on millions of rows. */
  list(filter: LogFilter = {}): LogRow[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.failed) where.push("d.status = 'failed'");
    if (filter.channel) (where.push("d.channel = ?"), params.push(filter.channel));
    if (filter.since !== undefined) (where.push("d.created_at >= ?"), params.push(filter.since));
    const sql = `${SELECT_ROWS}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY d.created_at DESC, d.id DESC LIMIT ?`;
    params.push(filter.limit ?? 20);
    return this.db.query(sql).all(...params) as LogRow[];
  }

  /** A message by id, or by a unique prefix of its id. */
  get(idOrPrefix: string): MessageDetail | null {
    const id = idOrPrefix.toUpperCase();
    const rows = this.db.query("SELECT * FROM messages WHERE id >= ? AND id < ? ORDER BY id LIMIT 2").all(id, `${id}\u{10FFFF}`) as any[];
    if (rows.length !== 1 && rows[0]?.id !== id) return null;
    const m = rows[0];
    const deliveries = (this.db.query(`${SELECT_ROWS} WHERE d.message_id = ? ORDER BY d.id`).all(m.id) as LogRow[]).map((d) => ({
      ...d,
      attempts_log: this.db
        .query("SELECT part, attempt, started_at, latency_ms, http_status, outcome, error, response FROM attempts WHERE delivery_id = ? ORDER BY id")
        .all(d.delivery_id) as AttemptRow[],
    }));
    return { message: { ...m, targets: JSON.parse(m.targets) }, deliveries };
  }

  /** Whether more than one message starts with this prefix (to explain a failed lookup). */
  ambiguous(prefix: string): boolean {
    const id = prefix.toUpperCase();
    return (this.db.query("SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE id >= ? AND id < ? LIMIT 2)").get(id, `${id}\u{10FFFF}`) as { n: number }).n > 1;
  }

  /**
   * What `pp replay --failed` should send again: each (original message, channel) with a failed delivery in the
   * window that neither the original nor any replay of it has delivered since. Oldest first.
   */
  unrecovered(since: number, channel?: string): { root: string; channel: string }[] {
    const sql = `SELECT coalesce(m.replay_of, m.id) AS root, d.channel, min(d.created_at) AS first
      FROM deliveries d JOIN messages m ON m.id = d.message_id
      WHERE d.status = 'failed' AND d.created_at >= ?${channel ? " AND d.channel = ?" : ""}
      GROUP BY root, d.channel
      HAVING NOT EXISTS (
        SELECT 1 FROM deliveries d2 JOIN messages m2 ON m2.id = d2.message_id
        WHERE (m2.id = root OR m2.replay_of = root) AND d2.channel = d.channel AND d2.status = 'delivered')
      ORDER BY first, root`;
    return this.db.query(sql).all(...(channel ? [since, channel] : [since])) as { root: string; channel: string }[];
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
        `SELECT DISTINCT d.parts, a.part FROM deliveries d JOIN messages m ON m.id = d.message_id JOIN attempts a ON a.delivery_id = d.id
         WHERE (m.id = ? OR m.replay_of = ?) AND d.channel = ? AND a.outcome = 'ok'`,
      )
      .all(root, root, channel) as { parts: number; part: number }[];
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
    const by = new Map<string, { delivered: number; failed: number; pending: number; latencies: number[] }>();
    for (const [ch, status, latency] of rows) {
      let s = by.get(ch);
      if (!s) by.set(ch, (s = { delivered: 0, failed: 0, pending: 0, latencies: [] }));
      if (status === "delivered") {
        s.delivered++;
        if (latency !== null) s.latencies.push(latency);
      } else if (status === "failed") s.failed++;
      else s.pending++;
    }
    return [...by.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([ch, s]) => {
        const l = s.latencies.sort((a, b) => a - b);
        const done = s.delivered + s.failed;
        return {
          channel: ch, deliveries: done + s.pending, delivered: s.delivered, failed: s.failed, pending: s.pending,
          success_rate: done ? s.delivered / done : null, p50_ms: pct(l, 0.5), p95_ms: pct(l, 0.95),
        };
      });
  }
}

function pct(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
