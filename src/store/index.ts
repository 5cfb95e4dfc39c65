import { closeDb, openDb, openDbForReading } from "./db.ts";
import { PushLog } from "./pushlog.ts";
import { SqliteLimiter } from "./ratelimit.ts";
import type { TokenCache } from "../core/ports.ts";
import type { SqliteTokens } from "./tokens.ts";

export interface Store {
  log: PushLog;
  limiter: SqliteLimiter;
  /** Access tokens shared by every pp process (WeCom application messages). */
  tokens: TokenCache;
  /** Closes without checkpointing the WAL (closeDb). */
  close(): void;
}

export function openStore(path: string): Store {
  const db = openDb(path);
  // Only channels with access tokens use the cache: others never load its code (a literal path, for the bundle).
  let cache: SqliteTokens | undefined;
  const t = () => (cache ??= new (require("./tokens.ts") as typeof import("./tokens.ts")).SqliteTokens(db));
  const tokens: TokenCache = { get: (key, now) => t().get(key, now), put: (key, token, until) => t().put(key, token, until), drop: (key, token) => t().drop(key, token) };
  return { log: new PushLog(db), limiter: new SqliteLimiter(db), tokens, close: () => closeDb(db, path) };
}

/**
 * The push log for a command that only reads it (pp log): opened read-only when it exists and is up to date
 * (openDbForReading), else as openStore opens it, so that a missing, old or unusable one behaves as it always did.
 */
export function openLogForReading(path: string): { log: PushLog; close(): void } {
  const db = openDbForReading(path);
  if (db === undefined) return openStore(path);
  return { log: new PushLog(db), close: () => db.close() };
}
