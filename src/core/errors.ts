/**
 * One catalogue of errors, rendered in one place per surface (src/cli/main.ts for the terminal;
 * the HTTP API will map the same codes to statuses). Messages say what is wrong and what to change.
 */
export type ErrorCode =
  | "usage"            // bad flags or arguments
  | "config"           // config file missing, unparsable or invalid
  | "unknown_channel"  // --ch names something that is not configured
  | "empty_message"    // nothing to send
  | "not_found"        // a message id that is not in the push log
  | "store"            // the push log cannot be opened or written
  | "output";          // stdout cannot be written (full disk, closed pipe or descriptor)

export class PpError extends Error {
  readonly code: ErrorCode;
  /** Exit status for the CLI: 2 for usage and configuration problems. */
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, exitCode = 2) {
    super(message);
    this.name = "PpError";
    this.code = code;
    this.exitCode = exitCode;
  }
}
