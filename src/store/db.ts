import { constants, Database } from "bun:sqlite";
import { PpError } from "../core/errors.ts";
import { BUSY_TIMEOUT_MS, EXIT_STORE, fileKind, noteStorePath, storeError } from "./errors.ts";

/**
 * Numbered migrations; PRAGMA user_version records how many have run. Never edit a shipped entry:
 * append a new one.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE messages (
     id         TEXT PRIMARY KEY,          -- time-sortable id, printed by pp send
     created_at INTEGER NOT NULL,          -- unix ms
     title      TEXT,
     text       TEXT NOT NULL,
     format     TEXT NOT NULL,
     source     TEXT NOT NULL,             -- cli | replay | test | api
     replay_of  TEXT,                      -- the message this one re-sends
     targets    TEXT NOT NULL              -- JSON array of the channel/group names asked for
   );
   CREATE INDEX messages_replay ON messages(replay_of) WHERE replay_of IS NOT NULL;
   CREATE TABLE deliveries (
     id         INTEGER PRIMARY KEY,
     message_id TEXT NOT NULL REFERENCES messages(id),
     channel    TEXT NOT NULL,
     type       TEXT NOT NULL,
     target     TEXT NOT NULL,             -- redacted destination
     status     TEXT NOT NULL,             -- pending | delivered | failed
     attempts   INTEGER NOT NULL DEFAULT 0,
     parts      INTEGER NOT NULL DEFAULT 1,
     latency_ms INTEGER,
     error      TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX deliveries_created ON deliveries(created_at);
   CREATE INDEX deliveries_status  ON deliveries(status, created_at);
   CREATE INDEX deliveries_channel ON deliveries(channel, created_at);
   CREATE INDEX deliveries_message ON deliveries(message_id);
   CREATE TABLE attempts (
     id          INTEGER PRIMARY KEY,
     delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
     part        INTEGER NOT NULL,         -- 1-based
     attempt     INTEGER NOT NULL,         -- 1-based, per part
     started_at  INTEGER NOT NULL,
     latency_ms  INTEGER NOT NULL,
     http_status INTEGER,
     outcome     TEXT NOT NULL,            -- ok | retryable | rate_limited | permanent
     error       TEXT,
     response    TEXT                      -- the platform's answer, redacted and truncated
   );
   CREATE INDEX attempts_delivery ON attempts(delivery_id);
   CREATE TABLE rate_events (key TEXT NOT NULL, at INTEGER NOT NULL);
   CREATE INDEX rate_events_key ON rate_events(key, at);
   CREATE TABLE rate_blocks (key TEXT PRIMARY KEY, until INTEGER NOT NULL);`,
  // Who is sending a pending delivery, so an abandoned one (its process killed) can be told from one in flight;
  // why a destination is blocked, so `pp channels` can say.
  `ALTER TABLE deliveries ADD COLUMN owner TEXT;          -- "host:pid" of the process sending it, while pending
   ALTER TABLE deliveries ADD COLUMN lease_until INTEGER; -- unix ms after which a pending delivery is abandoned whoever owns it
   ALTER TABLE rate_blocks ADD COLUMN cause TEXT;         -- what the platform said, for pp channels
   ALTER TABLE rate_blocks ADD COLUMN since INTEGER;`,
  // The daemon's queue. A delivery that went through it has a due_at (set when it is queued, kept afterwards), which
  // tells it from a CLI send: an abandoned one is resumed by the daemon rather than settled as failed or uncertain.
  `ALTER TABLE messages ADD COLUMN expires_at INTEGER;             -- unix ms after which what is not delivered is expired
   ALTER TABLE messages ADD COLUMN request_id TEXT;                -- the client's X-Ppt-Request-ID / Idempotency-Key
   ALTER TABLE deliveries ADD COLUMN due_at INTEGER;               -- unix ms when a queued delivery is next tried
   ALTER TABLE deliveries ADD COLUMN possible_duplicate INTEGER NOT NULL DEFAULT 0; -- sent again after a crash during its request
   ALTER TABLE deliveries ADD COLUMN skip_accepted INTEGER NOT NULL DEFAULT 0;      -- a replay: skip parts the original's family had accepted
   CREATE INDEX deliveries_queued ON deliveries(channel, due_at) WHERE status = 'queued';
   CREATE INDEX messages_created ON messages(created_at, id);
   CREATE TABLE idempotency (
     key         TEXT PRIMARY KEY,         -- the client's key scoped to its token, hashed
     fingerprint TEXT NOT NULL,            -- a hash of what the request asked for
     message_id  TEXT NOT NULL,
     request_id  TEXT,
     created_at  INTEGER NOT NULL
   );
   CREATE INDEX idempotency_created ON idempotency(created_at);
   CREATE TABLE callbacks (
     message_id  TEXT PRIMARY KEY REFERENCES messages(id),
     url         TEXT NOT NULL,
     status      TEXT NOT NULL,            -- waiting (deliveries not ended) | queued | sent | failed
     attempts    INTEGER NOT NULL DEFAULT 0,
     due_at      INTEGER,
     http_status INTEGER,
     error       TEXT,
     updated_at  INTEGER NOT NULL
   );
   CREATE INDEX callbacks_due ON callbacks(due_at) WHERE status = 'queued';`,
  // Access tokens a platform lends for a while (WeCom application messages), shared by every pp process.
  `CREATE TABLE access_tokens (
     key         TEXT PRIMARY KEY,         -- type and a hash of what the token belongs to (never a secret in the clear)
     token       TEXT NOT NULL,            -- a secret: read only to send with it
     usable_until INTEGER NOT NULL,        -- unix ms: the platform's expiry less a margin
     fetched_at  INTEGER NOT NULL
   );`,
  // Whom a message mentions (--at, the API's at): a replay, and a daemon restarted with the message queued, mention them too.
  `ALTER TABLE messages ADD COLUMN mentions TEXT;              -- JSON array of mentions, NULL for none`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** WAL pages after which a commit checkpoints the WAL into the database. */
export const WAL_CHECKPOINT_PAGES = 100;

/**
 * Opens (creating when needed) and migrates the push log. Every failure is a one-line PpError naming the file
 * (exit 3). No signal handler is installed here: while SQLite waits for a lock, JavaScript cannot run, and
 * only the default action of SIGINT ends the process at once.
 */
export function openDb(path: string): Database {
  let db: Database;
  try {
    // SQLite would read a FIFO or a device as if it were a database. Bun.file().size is a stat(2) that does not
    // load node:fs (about 1.5 ms and 5 MiB for each pp process): Infinity for anything but a file or a directory.
    if (path !== ":memory:" && Bun.file(path).size === Infinity) throw notAFile(path);
    noteStorePath(path);
    try {
      db = new Database(path, { create: true, strict: true });
    } catch (e) {
      // A missing directory, or a path that is one: node:fs is loaded to tell which (and to create it) only then.
      if (path === ":memory:" || !String((e as { code?: unknown }).code ?? "").startsWith("SQLITE_CANTOPEN")) throw e;
      prepare(path);
      db = new Database(path, { create: true, strict: true });
    }
    // One call for all of them: each statement compiled through its own call cost a short pp process more.
    // The WAL outlives each pp process (closeDb), and every process that opens the push log first reads all of
    // it to index it: checkpointing it at 100 pages (about five sends) rather than SQLite's 1000 keeps that
    // cheap, and costs the checkpoint's fsyncs once every few sends instead of on each one.
    db.run(
      `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}; ` +
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
    );
    // Keep the -wal file between runs: recreating it cost each short-lived pp process about half a millisecond.
    db.fileControl(constants.SQLITE_FCNTL_PERSIST_WAL, 1);
  } catch (e) {
    throw storeError(e, path, "open");
  }
  try {
    migrate(db, path);
  } catch (e) {
    db.close();
    throw storeError(e, path, "open");
  }
  return db;
}

/**
 * Closes the push log without the checkpoint SQLite runs when the last connection to a file closes: that
 * checkpoint and the fresh WAL header the next writer then needs cost four fsyncs (several ms) on every short
 * pp process. A read-only connection holding a read transaction while this one closes keeps the close from
 * taking the exclusive lock the checkpoint needs; closed next, being read-only, it does not checkpoint either.
 * Committed transactions stay in the WAL, where every reader sees them, exactly as after a crash of pp, and
 * SQLite checkpoints the WAL as it grows (WAL_CHECKPOINT_PAGES).
 */
export function closeDb(db: Database, path: string): void {
  let guard: Database | undefined;
  if (path !== ":memory:") {
    try {
      guard = new Database(path, { readonly: true, strict: true });
      guard.run("BEGIN");
      guard.query("SELECT count(*) FROM sqlite_master").get();
    } catch {
      // Without the guard the close checkpoints, as it always did.
    }
  }
  db.close();
  guard?.close();
}

/**
 * Opens an existing, up-to-date push log for reading only, for commands that never write it (pp log): none of
 * what a writer sets up (WAL mode, the persistent WAL, the checkpoint threshold) and, being read-only, a close
 * that cannot checkpoint, so it is a plain close(). Undefined when openDb has to open it instead, so that every
 * case keeps its behaviour: no file yet (openDb creates it), no regular file, an older schema (openDb migrates
 * it), a newer one, or a file SQLite cannot read as it stands (each gets openDb's error). A lock gives openDb's
 * error at once, rather than after a second wait in openDb.
 */
export function openDbForReading(path: string): Database | undefined {
  // SQLite would block opening a FIFO; openDb says what is wrong with it.
  if (path === ":memory:" || Bun.file(path).size === Infinity) return undefined;
  let db: Database;
  try {
    db = new Database(path, { readonly: true, strict: true });
  } catch {
    return undefined;
  }
  noteStorePath(path);
  try {
    db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (current !== SCHEMA_VERSION) {
      db.close();
      return undefined;
    }
    // Reading the schema finds a file whose header is intact but whose tables are not (as migrate does).
    db.query("SELECT count(*) FROM sqlite_master").get();
  } catch (e) {
    db.close();
    const code = String((e as { code?: unknown }).code ?? "");
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) throw storeError(e, path, "open");
    return undefined;
  }
  return db;
}

function notAFile(path: string): PpError {
  return new PpError("store", `cannot open the push log ${path}: it is not a regular file (a FIFO, socket or device); point [log] path or $PP_DB at a file`, EXIT_STORE);
}

/** SQLite would only say "unable to open database file": says why, or creates the missing directory. */
function prepare(path: string): void {
  const kind = fileKind(path);
  if (kind === "directory") throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
  if (kind === "other") throw notAFile(path);
  (require("node:fs") as typeof import("node:fs")).mkdirSync((require("node:path") as typeof import("node:path")).dirname(path), { recursive: true });
}

function migrate(db: Database, path: string): void {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > SCHEMA_VERSION) {
    throw new PpError("store", `the push log at ${path} was written by a newer pp (schema ${current}, this pp knows ${SCHEMA_VERSION}); upgrade pp or point [log] path elsewhere`, EXIT_STORE);
  }
  // Reading the schema finds a file whose header is intact but whose tables are not.
  db.query("SELECT count(*) FROM sqlite_master").get();
  if (current === SCHEMA_VERSION) return;
  // IMMEDIATE: two processes opening a new store at once must not both run the migrations.
  db.transaction(() => {
    const now = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    for (let v = now; v < SCHEMA_VERSION; v++) db.run(MIGRATIONS[v]!);
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
