/**
 * Closing the push log the way a short pp process does (closeDb): the WAL is left for the next process rather
 * than checkpointed (and fsynced) on every exit, and it stays small because SQLite checkpoints it as it grows.
 * Each case runs in a process of its own, since what matters is what happens when that process exits.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { copyFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers.ts";

const DB = JSON.stringify(`${import.meta.dir}/../../src/store/db.ts`);

/** Runs `body` in a new bun process with `db` opened by openDb on `path`; the process then exits. */
function inProcess(path: string, body: string): void {
  const script = `import { closeDb, openDb } from ${DB};\nconst path = ${JSON.stringify(path)};\nconst db = openDb(path);\n${body}`;
  const p = Bun.spawnSync(["bun", "-e", script], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
}

const insert = (n: number, bytes: number) =>
  `for (let i = 0; i < ${n}; i++) db.query("INSERT INTO messages (id, created_at, text, format, source, targets) VALUES (?, 0, ?, 'text', 'cli', '[]')").run("m" + i, "x".repeat(${bytes}));`;

/** The rows the database file holds by itself, without its WAL. */
function rowsInFileAlone(path: string): number {
  const copy = join(tempDir(), "copy.db");
  copyFileSync(path, copy);
  const db = new Database(copy, { readonly: true });
  try {
    // The schema itself may be in the WAL only.
    if (!db.query("SELECT 1 FROM sqlite_master WHERE name = 'messages'").get()) return 0;
    return (db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("closeDb", () => {
  test("leaves what was written in the WAL, where the next process reads all of it", () => {
    const path = join(tempDir(), "pp.db");
    inProcess(path, "closeDb(db, path);");
    inProcess(path, `${insert(3, 10)}\ncloseDb(db, path);`);
    // Not checkpointed at close: the database file alone does not have the rows yet.
    expect(rowsInFileAlone(path)).toBe(0);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    const db = new Database(path, { readonly: true });
    expect((db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n).toBe(3);
    db.close();
  });

  test("the WAL is checkpointed as it grows, so it stays a few hundred KiB however much is written", () => {
    const path = join(tempDir(), "pp.db");
    // About 600 pages, each insert in its own transaction as pp's writes are.
    inProcess(path, `${insert(300, 6000)}\ncloseDb(db, path);`);
    expect(rowsInFileAlone(path)).toBeGreaterThan(0);
    // SQLite's default (1000 pages) would let it reach about 4 MiB.
    expect(statSync(`${path}-wal`).size).toBeLessThan(1024 * 1024);
  });
});
