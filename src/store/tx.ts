import type { Database } from "bun:sqlite";

/**
 * Runs `fn` in a transaction, as Database.transaction() does (nested calls become savepoints; an error rolls back
 * and is rethrown), through statements the connection caches. The first Database.transaction() of a process
 * builds a controller of seven prepared statements, about 0.2 ms of every short pp process that writes.
 */
export function transact<T>(db: Database, fn: () => T, mode: "deferred" | "immediate" = "deferred"): T {
  if (db.inTransaction) {
    db.query("SAVEPOINT pp_nested").run();
    try {
      const result = fn();
      db.query("RELEASE pp_nested").run();
      return result;
    } catch (e) {
      db.query("ROLLBACK TO pp_nested").run();
      db.query("RELEASE pp_nested").run();
      throw e;
    }
  }
  db.query(mode === "immediate" ? "BEGIN IMMEDIATE" : "BEGIN").run();
  try {
    const result = fn();
    db.query("COMMIT").run();
    return result;
  } catch (e) {
    // A failed COMMIT (a full disk) may already have ended the transaction.
    if (db.inTransaction) db.query("ROLLBACK").run();
    throw e;
  }
}
