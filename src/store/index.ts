import { closeDb, openDb } from "./db.ts";
import { PushLog } from "./pushlog.ts";
import { SqliteLimiter } from "./ratelimit.ts";
import { SqliteTokens } from "./tokens.ts";

export interface Store {
  log: PushLog;
  limiter: SqliteLimiter;
  /** Access tokens shared by every pp process (WeCom application messages). */
  tokens: SqliteTokens;
  /** Closes without checkpointing the WAL (closeDb). */
  close(): void;
}

export function openStore(path: string): Store {
  const db = openDb(path);
  return { log: new PushLog(db), limiter: new SqliteLimiter(db), tokens: new SqliteTokens(db), close: () => closeDb(db, path) };
}
