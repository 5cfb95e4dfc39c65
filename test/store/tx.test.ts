import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { transact } from "../../src/store/tx.ts";
import { tempDir } from "../helpers.ts";

const open = (path = ":memory:") => {
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE IF NOT EXISTS t (v INTEGER)");
  return db;
};
const values = (db: Database) => (db.query("SELECT v FROM t ORDER BY v").all() as { v: number }[]).map((r) => r.v);

test("commits what the function wrote and returns its result", () => {
  const db = open();
  expect(transact(db, () => (db.query("INSERT INTO t VALUES (?)").run(1), "done"))).toBe("done");
  expect(values(db)).toEqual([1]);
  expect(db.inTransaction).toBe(false);
});

test("an error rolls everything back and is thrown as it was", () => {
  const db = open();
  const boom = new Error("boom");
  expect(() => transact(db, () => {
    db.query("INSERT INTO t VALUES (?)").run(1);
    throw boom;
  })).toThrow(boom);
  expect(values(db)).toEqual([]);
  expect(db.inTransaction).toBe(false);
});

test("a nested call is a savepoint: its failure undoes only its own writes", () => {
  const db = open();
  transact(db, () => {
    db.query("INSERT INTO t VALUES (?)").run(1);
    expect(() => transact(db, () => {
      db.query("INSERT INTO t VALUES (?)").run(2);
      throw new Error("inner");
    })).toThrow("inner");
    transact(db, () => db.query("INSERT INTO t VALUES (?)").run(3));
    expect(db.inTransaction).toBe(true);
  });
  expect(values(db)).toEqual([1, 3]);
});

test("immediate takes the write lock at once: another writer waits for it, a deferred one does not", () => {
  const path = join(tempDir(), "tx.db");
  const a = open(path);
  const b = open(path);
  b.run("PRAGMA busy_timeout = 0");
  transact(a, () => {
    // Nothing written yet, but the lock is held: the other connection cannot begin writing.
    expect(() => transact(b, () => b.query("INSERT INTO t VALUES (?)").run(9), "immediate")).toThrow(/locked|busy/i);
  }, "immediate");
  transact(a, () => {
    // A deferred transaction that has only read holds no write lock.
    a.query("SELECT count(*) FROM t").get();
    transact(b, () => b.query("INSERT INTO t VALUES (?)").run(9), "immediate");
  });
  expect(values(a)).toEqual([9]);
  expect(b.inTransaction).toBe(false);
  a.close();
  b.close();
});
