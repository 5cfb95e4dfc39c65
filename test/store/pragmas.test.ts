import { expect, test } from "bun:test";
import { join } from "node:path";
import { openDb, WAL_CHECKPOINT_PAGES } from "../../src/store/db.ts";
import { BUSY_TIMEOUT_MS } from "../../src/store/errors.ts";
import { tempDir } from "../helpers.ts";

// openDb sets them all in one call: each must still take effect, on a new push log and on one opened again.
test("every setting openDb makes is in force, on a new push log and on an existing one", () => {
  const path = join(tempDir(), "pp.db");
  for (const round of ["new", "existing"]) {
    const db = openDb(path);
    const get = (p: string) => Object.values(db.query(`PRAGMA ${p}`).get() as Record<string, unknown>)[0];
    expect({ round, busy: get("busy_timeout"), journal: get("journal_mode"), checkpoint: get("wal_autocheckpoint"), sync: get("synchronous"), fk: get("foreign_keys") })
      .toEqual({ round, busy: BUSY_TIMEOUT_MS, journal: "wal", checkpoint: WAL_CHECKPOINT_PAGES, sync: 1, fk: 1 });
    db.close();
  }
});
