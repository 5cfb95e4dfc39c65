import { closeDb, openDb } from "./db.ts";
import { PushLog } from "./pushlog.ts";
import { SqliteLimiter } from "./ratelimit.ts";

export interface Store {
  log: PushLog;
  limiter: SqliteLimiter;
  /** Closes without checkpointing the WAL (closeDb). */
  close(): void;
}

export function openStore(path: string): Store {
  const db = openDb(path);
  return { log: new PushLog(db), limiter: new SqliteLimiter(db), close: () => closeDb(db, path) };
}
