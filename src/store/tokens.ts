import type { Database } from "bun:sqlite";
import type { TokenCache } from "../core/ports.ts";

/**
 * Access tokens in the push log's file, so that every pp process and the daemon use one token per application
 * until it runs out, rather than asking the platform for one each (WeCom counts gettoken calls against its API
 * limits). Each statement is a single autocommit write or read: no transaction is held across a request.
 */
export class SqliteTokens implements TokenCache {
  constructor(private readonly db: Database) {}

  get(key: string, now: number): string | undefined {
    const row = this.db.query("SELECT token FROM access_tokens WHERE key = ? AND usable_until > ?").get(key, now) as { token: string } | null;
    return row?.token;
  }

  put(key: string, token: string, usableUntil: number): void {
    this.db
      .query(
        `INSERT INTO access_tokens (key, token, usable_until, fetched_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET token = excluded.token, usable_until = excluded.usable_until, fetched_at = excluded.fetched_at`,
      )
      .run(key, token, usableUntil, Date.now());
  }

  drop(key: string, token: string): void {
    this.db.query("DELETE FROM access_tokens WHERE key = ? AND token = ?").run(key, token);
  }
}
