import { PpError } from "../core/errors.ts";

/** node:fs only where a failure is explained: loading it costs every pp process about 1.5 ms and 5 MiB. */
const fs = () => require("node:fs") as typeof import("node:fs");
/** node:path likewise: this module is loaded by every pp command, and node:path costs each about 0.3 ms. */
const dirname = (path: string) => (require("node:path") as typeof import("node:path")).dirname(path);

/** How long SQLite waits for another process's lock on the push log before giving up. */
export const BUSY_TIMEOUT_MS = 10_000;

/**
 * Turns a failure of the push log (SQLite or the file system under it) into one line that names the file and
 * says what to do. `doing` is what pp was doing: "open", "record the message", ...
 */
export function storeError(e: unknown, path: string, doing: string): PpError {
  if (e instanceof PpError) return e;
  const err = e as { code?: string; message?: string };
  const code = String(err?.code ?? "");
  const why = String(err?.message ?? e);
  const what = doing === "open" || doing === "use" ? `cannot ${doing} the push log ${path}` : `cannot ${doing} in the push log ${path}`;
  const elsewhere = "or set [log] path in the config or $PP_DB to another file";
  const fail = (text: string) => new PpError("store", text, EXIT_STORE);

  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return fail(`${what}: it is locked by another process (pp waited ${BUSY_TIMEOUT_MS / 1000} s); try again when that process ends (\`fuser ${path}\` shows it)`);
  }
  if (code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT" || /disk is full|no space left/i.test(why)) {
    return fail(`${what}: the disk is full; free some space, ${elsewhere} on another disk`);
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return fail(`${what}: the file is damaged or is not a pp push log; move it aside (mv ${path} ${path}.bad) and pp starts a new one, ${elsewhere}`);
  }
  if (code.startsWith("SQLITE_READONLY") || code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return fail(`${what}: the file or its directory is read-only; make both writable by this user, ${elsewhere}`);
  }
  if (code === "ENOTDIR" || code === "EEXIST") {
    return fail(`${what}: its directory ${dirname(path)} cannot be created because part of that path is a file; ${elsewhere.replace(/^or /, "")}`);
  }
  if (code.startsWith("SQLITE_CANTOPEN") || code === "EISDIR") {
    if (fileKind(path) === "directory") return fail(`${what}: it is a directory; point [log] path or $PP_DB at a file, such as ${path.replace(/\/+$/, "")}/pp.db`);
    if (!writable(dirname(path))) return fail(`${what}: its directory ${dirname(path)} is read-only; make it writable by this user, ${elsewhere}`);
    return fail(`${what}: the file cannot be opened; check that it and its directory exist and are readable and writable, ${elsewhere}`);
  }
  if (code.startsWith("SQLITE_IOERR") || code === "EIO") {
    return fail(`${what}: the disk reported an I/O error (${code}); check the disk, ${elsewhere}`);
  }
  return fail(`${what}: ${why}`);
}

let opened: string | undefined;

/** Remembers the push log this process opened, so an error that surfaces in a later query can name the file. */
export function noteStorePath(path: string): void {
  opened = path;
}
export function openedStorePath(): string | undefined {
  return opened;
}

/** Whether an error came from SQLite (bun:sqlite's SQLiteError carries the SQLite result code). */
export function isSqliteError(e: unknown): boolean {
  const err = e as { name?: string; code?: unknown };
  return err?.name === "SQLiteError" || (typeof err?.code === "string" && err.code.startsWith("SQLITE_"));
}

/** What stands at `path`: a regular file, a directory, something else (a FIFO, a device), or nothing. */
export function fileKind(path: string): "missing" | "file" | "directory" | "other" {
  try {
    const st = fs().statSync(path);
    return st.isFile() ? "file" : st.isDirectory() ? "directory" : "other";
  } catch {
    return "missing";
  }
}

function writable(dir: string): boolean {
  try {
    fs().accessSync(dir, fs().constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Exit status when the push log cannot be opened or written before sending: nothing was sent. */
export const EXIT_STORE = 3;
/** Exit status when messages went out but their outcome could not be written to the push log. */
export const EXIT_UNRECORDED = 4;
