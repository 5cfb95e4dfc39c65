/**
 * Opening the push log, and what a failure of it says: one line naming the file and what to do, exit 3.
 * The errors are real ones from SQLite and the file system, made to happen here.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PpError } from "../../src/core/errors.ts";
import { openDb } from "../../src/store/db.ts";
import { EXIT_STORE, storeError } from "../../src/store/errors.ts";
import { tempDir } from "../helpers.ts";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

function openFails(path: string): PpError {
  const e = thrown(() => openDb(path));
  expect(e).toBeInstanceOf(PpError);
  expect((e as PpError).exitCode).toBe(EXIT_STORE);
  expect((e as PpError).message).not.toContain("\n");
  return e as PpError;
}

describe("openDb", () => {
  test("a path that is a directory", () => {
    const dir = tempDir();
    expect(openFails(dir).message).toBe(`cannot open the push log ${dir}: it is a directory; point [log] path or $PP_DB at a file, such as ${dir}/pp.db`);
  });

  test("a path under a regular file, so its directory cannot be created (holds for root too)", () => {
    const file = join(tempDir(), "plain");
    writeFileSync(file, "x");
    const path = join(file, "pp.db");
    expect(openFails(path).message).toMatch(new RegExp(`^cannot open the push log ${path}: its directory ${file} cannot be created because part of that path is a file`));
  });

  test("a FIFO or a device is refused before SQLite reads it", () => {
    const fifo = join(tempDir(), "pp.db");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    for (const path of [fifo, "/dev/null", "/dev/zero"]) {
      expect(openFails(path).message).toBe(`cannot open the push log ${path}: it is not a regular file (a FIFO, socket or device); point [log] path or $PP_DB at a file`);
    }
  });

  test("a file that is not a push log", () => {
    const path = join(tempDir(), "pp.db");
    writeFileSync(path, "not a database ".repeat(400));
    expect(openFails(path).message).toBe(
      `cannot open the push log ${path}: the file is damaged or is not a pp push log; move it aside (mv ${path} ${path}.bad) and pp starts a new one, or set [log] path in the config or $PP_DB to another file`,
    );
  });

  test("a push log from a newer pp is a store error too", () => {
    const path = join(tempDir(), "pp.db");
    const db = new Database(path, { create: true });
    db.run("PRAGMA user_version = 999");
    db.close();
    expect(openFails(path).message).toMatch(/written by a newer pp/);
  });

  test("installs no signal handler: Ctrl-C while SQLite waits for a lock must take the default action", () => {
    const before = ["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s));
    const db = openDb(join(tempDir(), "pp.db"));
    db.close();
    expect(["SIGINT", "SIGTERM", "SIGHUP"].map((s) => process.listenerCount(s))).toEqual(before);
  });
});

describe("storeError maps each failure to what to do", () => {
  const path = "/var/lib/pp/pp.db";
  const mapped = (e: unknown, doing = "record the message") => {
    const err = storeError(e, path, doing);
    expect(err.exitCode).toBe(EXIT_STORE);
    expect(err.message).not.toContain("\n");
    return err.message;
  };

  test("locked past the busy timeout", () => {
    const file = join(tempDir(), "pp.db");
    const holder = new Database(file, { create: true });
    holder.run("PRAGMA journal_mode = WAL");
    holder.run("CREATE TABLE t (x)");
    holder.run("BEGIN IMMEDIATE");
    const other = new Database(file);
    other.run("PRAGMA busy_timeout = 50");
    const e = thrown(() => other.run("INSERT INTO t VALUES (1)"));
    holder.run("ROLLBACK");
    expect(mapped(e)).toMatch(new RegExp(`^cannot record the message in the push log ${path}: it is locked by another process \\(pp waited 10 s\\); try again`));
  });

  test("a full disk", () => {
    const db = new Database(":memory:");
    db.run("CREATE TABLE t (x)");
    db.run("PRAGMA max_page_count = 2");
    const e = thrown(() => {
      for (let i = 0; i < 100; i++) db.run("INSERT INTO t VALUES (randomblob(2000))");
    });
    expect(mapped(e)).toMatch(/: the disk is full; free some space, or set \[log\] path/);
    expect(mapped(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }))).toMatch(/the disk is full/);
  });

  test("a read-only file or directory", () => {
    const file = join(tempDir(), "pp.db");
    new Database(file, { create: true }).run("CREATE TABLE t (x)");
    const ro = new Database(file, { readonly: true });
    const e = thrown(() => ro.run("INSERT INTO t VALUES (1)"));
    expect(mapped(e)).toMatch(/the file or its directory is read-only; make both writable by this user/);
    for (const code of ["EACCES", "EROFS", "EPERM"]) {
      expect(mapped(Object.assign(new Error(code), { code }), "open")).toMatch(new RegExp(`^cannot open the push log ${path}: the file or its directory is read-only`));
    }
  });

  test("a damaged file", () => {
    const file = join(tempDir(), "pp.db");
    writeFileSync(file, "x".repeat(8192));
    const e = thrown(() => new Database(file).run("PRAGMA journal_mode = WAL"));
    expect(mapped(e)).toMatch(/the file is damaged or is not a pp push log; move it aside \(mv \/var\/lib\/pp\/pp\.db \/var\/lib\/pp\/pp\.db\.bad\)/);
  });

  test("an error from a later query names the push log that was opened, exit 3, no stack", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "d"));
    const path = join(dir, "d", "pp.db");
    writeFileSync(join(dir, "garbage"), "x".repeat(8192));
    // In a process of its own: reportError writes to descriptor 2 directly.
    const src = (f: string) => JSON.stringify(join(import.meta.dir, "../../src", f));
    const script = `import { Database } from "bun:sqlite";
      import { reportError } from ${src("cli/main.ts")};
      import { openDb } from ${src("store/db.ts")};
      openDb(${JSON.stringify(path)}).close();
      try { new Database(${JSON.stringify(join(dir, "garbage"))}).query("SELECT 1 FROM sqlite_master").get(); }
      catch (e) { process.exitCode = reportError(e); }`;
    const p = Bun.spawnSync(["bun", "-e", script], { env: { ...process.env, NO_COLOR: "1" } });
    expect(p.exitCode).toBe(EXIT_STORE);
    expect(p.stderr.toString()).toBe(`pp: cannot use the push log ${path}: the file is damaged or is not a pp push log; move it aside (mv ${path} ${path}.bad) and pp starts a new one, or set [log] path in the config or $PP_DB to another file\n`);
  });
});
