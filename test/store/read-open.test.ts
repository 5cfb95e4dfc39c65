/**
 * pp log opens the push log read-only when it can (openLogForReading): a store that exists and is up to date is
 * read without being written, and every other case (none yet, an older or newer schema, a damaged file, a FIFO,
 * a lock) ends as openStore ends it.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newId } from "../../src/core/id.ts";
import { PpError } from "../../src/core/errors.ts";
import { openDbForReading, SCHEMA_VERSION } from "../../src/store/db.ts";
import { EXIT_STORE } from "../../src/store/errors.ts";
import { openLogForReading, openStore } from "../../src/store/index.ts";
import { tempDir } from "../helpers.ts";

function thrown(fn: () => unknown): PpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    expect((e as PpError).exitCode).toBe(EXIT_STORE);
    return e as PpError;
  }
  throw new Error("expected an error");
}

/** A push log with `n` messages sent through the writer, left as pp leaves it (its writes in the WAL). */
function written(n: number): string {
  const path = join(tempDir(), "pp.db");
  const store = openStore(path);
  for (let i = 0; i < n; i++) {
    const now = Date.now() + i;
    const [b] = store.log.begin({ id: newId(now), createdAt: now, text: `m${i}`, format: "text", source: "cli", targets: ["ops"] }, [{ channel: "ops", type: "webhook", target: "http://127.0.0.1", parts: 1 }], { leaseUntil: now + 60_000 });
    store.log.finish(b!.id!, { status: "delivered", attempts: 1, latencyMs: 5, error: null });
  }
  store.close();
  return path;
}

const userVersion = (path: string) => (new Database(path, { readonly: true }).query("PRAGMA user_version").get() as { user_version: number }).user_version;

describe("openLogForReading", () => {
  test("an up-to-date store is read read-only, its files left as they were, rows in the WAL included", () => {
    const path = written(3);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    const before = [readFileSync(path), readFileSync(`${path}-wal`)];
    const db = openDbForReading(path)!;
    expect(db).toBeDefined();
    expect(() => db.run("DELETE FROM messages")).toThrow(/readonly/);
    db.close();
    const store = openLogForReading(path);
    expect(store.log.list({}).map((r) => r.text)).toEqual(["m2", "m1", "m0"]);
    store.close();
    // Closed read-only, nothing was checkpointed: the file and the WAL are byte for byte what the writer left.
    expect([readFileSync(path), readFileSync(`${path}-wal`)]).toEqual(before);
  });

  test("no push log yet: created and migrated, as pp log always did", () => {
    const path = join(tempDir(), "sub", "pp.db");
    expect(openDbForReading(path)).toBeUndefined();
    const store = openLogForReading(path);
    expect(store.log.list({})).toEqual([]);
    store.close();
    expect(existsSync(path)).toBe(true);
    expect(userVersion(path)).toBe(SCHEMA_VERSION);
  });

  test("an older schema (an empty file is the oldest) is migrated by the writer", () => {
    const path = join(tempDir(), "pp.db");
    writeFileSync(path, "");
    expect(openDbForReading(path)).toBeUndefined();
    const store = openLogForReading(path);
    expect(store.log.list({})).toEqual([]);
    store.close();
    expect(userVersion(path)).toBe(SCHEMA_VERSION);
  });

  test("a newer schema, a damaged file, a FIFO and a directory fail as openStore fails", () => {
    const newer = written(1);
    const w = new Database(newer);
    w.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    w.close();
    const damaged = join(tempDir(), "pp.db");
    writeFileSync(damaged, "this is not a database ".repeat(500));
    const dir = join(tempDir(), "logdir");
    mkdirSync(dir);
    const fifo = join(tempDir(), "fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    for (const path of [newer, damaged, dir, fifo]) {
      expect(thrown(() => openLogForReading(path)).message).toBe(thrown(() => openStore(path)).message);
    }
    expect(thrown(() => openLogForReading(newer)).message).toMatch(/was written by a newer pp/);
    expect(thrown(() => openLogForReading(damaged)).message).toMatch(/the file is damaged or is not a pp push log/);
    expect(thrown(() => openLogForReading(fifo)).message).toMatch(/not a regular file/);
    expect(thrown(() => openLogForReading(dir)).message).toMatch(/it is a directory/);
  });

  test("a lock held past the busy timeout gives the error the writer gives", () => {
    const path = written(1);
    const holder = new Database(path);
    holder.run("PRAGMA locking_mode = EXCLUSIVE");
    holder.run("BEGIN EXCLUSIVE");
    try {
      const e = thrown(() => openLogForReading(path));
      expect(e.message).toBe(`cannot open the push log ${path}: it is locked by another process (pp waited 10 s); try again when that process ends (\`fuser ${path}\` shows it)`);
    } finally {
      holder.run("ROLLBACK");
      holder.close();
    }
  }, 40_000);
});
