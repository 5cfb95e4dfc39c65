import type { Database } from "bun:sqlite";
import type { Block, Limiter, RateLimit, Wait } from "../core/ports.ts";
import { transact } from "./tx.ts";

/**
 * A sliding-window log per destination, kept in SQLite so that every pp process on the machine sees
 * the same history: a shell loop of `pp send` calls, or twenty at once, never exceeds the limit.
 * Each check-and-take runs in an IMMEDIATE transaction, which serialises processes on the write lock.
 */
export class SqliteLimiter implements Limiter {
  constructor(private readonly db: Database) {}

  acquire(key: string, limits: RateLimit[], now: number): Wait {
    return transact(this.db, (): Wait => {
      const block = this.db.query("SELECT since, until, cause FROM rate_blocks WHERE key = ?").get(key) as StoredBlock | null;
      if (block && block.until > now) return { ms: block.until - now, block: blockOf(block) };
      let wait = 0;
      let longest = 0;
      for (const { count, windowMs } of limits) {
        const win = window(windowMs);
        longest = Math.max(longest, win);
        const used = (this.db.query("SELECT count(*) AS n FROM rate_events WHERE key = ? AND at > ?").get(key, now - win) as { n: number }).n;
        if (used >= count) {
          // The slot frees up when the oldest event that keeps us at the limit leaves the window.
          const row = this.db
            .query("SELECT at FROM rate_events WHERE key = ? AND at > ? ORDER BY at ASC LIMIT 1 OFFSET ?")
            .get(key, now - win, used - count) as { at: number };
          wait = Math.max(wait, row.at + win - now + 1);
        }
      }
      if (wait > 0) return { ms: wait };
      this.db.query("INSERT INTO rate_events (key, at) VALUES (?, ?)").run(key, now);
      this.db.query("DELETE FROM rate_events WHERE key = ? AND at <= ?").run(key, now - longest);
      return { ms: 0 };
    }, "immediate");
  }

  /** The longer block wins; its cause and start go with it. */
  block(key: string, b: Block): void {
    this.db
      .query(
        `INSERT INTO rate_blocks (key, until, cause, since) VALUES (?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET cause = CASE WHEN excluded.until >= until THEN excluded.cause ELSE cause END,
           since = CASE WHEN excluded.until >= until THEN excluded.since ELSE since END, until = max(until, excluded.until)`,
      )
      .run(key, b.until, b.cause, b.since);
  }

  /** Blocks still in force at `now`, by key. */
  blocks(now: number): Map<string, Block> {
    const rows = this.db.query("SELECT key, since, until, cause FROM rate_blocks WHERE until > ?").all(now) as (StoredBlock & { key: string })[];
    return new Map(rows.map((r) => [r.key, blockOf(r)]));
  }

  /** Lifts the block on `key`; true when one was in force. */
  unblock(key: string, now: number): boolean {
    return this.db.query("DELETE FROM rate_blocks WHERE key = ? AND until > ?").run(key, now).changes > 0;
  }
}

interface StoredBlock { since: number | null; until: number; cause: string | null }

/** Rows written before causes were recorded have none. */
function blockOf(r: StoredBlock): Block {
  return { since: r.since ?? r.until, until: r.until, cause: r.cause ?? "the platform asked to slow down" };
}

/**
 * The platform counts a request when it arrives, we count it when we take the slot, a little earlier, and
 * network delays differ from one request to the next. A margin (5% of the window, at least 250 ms, at most
 * 1 s) keeps such jitter from ever showing the platform one request too many in a window.
 */
function window(windowMs: number): number {
  return windowMs + Math.min(1000, Math.max(250, Math.round(windowMs * 0.05)));
}
