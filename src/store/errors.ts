import { PpError } from "../core/errors.ts";

/**
 * Turns a failure of the push log (SQLite or the file system under it) into one line that names the file and
 * says what to do. `doing` is what pp was doing: "open", "record the message", ...
 */
export function storeError(e: unknown, path: string, doing: string): PpError {
  if (e instanceof PpError) return e;
  const err = e as { code?: string; message?: string };
  const why = String(err?.message ?? e);
  return new PpError("store", `cannot ${doing} in the push log ${path}: ${why}`, EXIT_STORE);
}

/** Exit status when the push log cannot be opened or written before sending: nothing was sent. */
export const EXIT_STORE = 3;
/** Exit status when messages went out but their outcome could not be written to the push log. */
export const EXIT_UNRECORDED = 4;
