import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { PpError } from "../core/errors.ts";
import { redactor } from "../core/redact.ts";
import { didYouMean } from "../core/suggest.ts";
import type { RequestLine } from "./context.ts";

/**
 * The daemon's log: one line per event on stderr, as text for people or as JSON lines for collectors. Every
 * line passes through the redactor of the secrets in force (channel keys and API tokens), whatever logged it.
 */

export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const CONSOLA_LEVEL: Record<LogLevel, number> = { silent: Number.NEGATIVE_INFINITY, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

/** A --log-level / PP_LOG_LEVEL value; `from` names where it came from for the error. */
export function parseLogLevel(s: string, from: string): LogLevel {
  const v = s.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new PpError("usage", `${from} "${s}" is not a log level${didYouMean(v, LOG_LEVELS) || `; use one of ${LOG_LEVELS.join(", ")}`}`);
}

export function parseLogFormat(s: string, from: string): LogFormat {
  const v = s.trim().toLowerCase();
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new PpError("usage", `${from} "${s}" is not a log format${didYouMean(v, LOG_FORMATS) || `; use ${LOG_FORMATS.join(" or ")}`}`);
}

export type Fields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  /** One line per HTTP request: the route template only, never the path (a token route's path holds the token). */
  request(line: RequestLine): void;
  /** A line written at any level but silent (the start line, which tells scripts where pp listens). */
  notice(msg: string, fields?: Fields): void;
  /** The secrets to hide from now on (replaced on reload). */
  secrets(list: Iterable<string>): void;
}

/** What `put` must clean up in a line: line breaks and other control characters, but not tabs. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

const NAME: Record<number, string> = { 0: "error", 1: "warn", 2: "info", 3: "info", 4: "debug", 5: "trace" };

/** A field value in a text line: bare when it is one plain word, quoted otherwise. */
const textValue = (v: unknown) => (typeof v === "string" && !/^[\w.:/@+-]+$/.test(v) ? JSON.stringify(v) : String(v));

export function createLogger(o: { level: LogLevel; format: LogFormat; write?: (line: string) => void }): Logger {
  // Request lines are gathered and written once per turn of the event loop (one write for a burst of requests,
  // rather than one each); any other line writes what is gathered first, so the order stays.
  let gathered = "";
  const out = o.write ?? ((line: string) => void process.stderr.write(line));
  const flush = () => {
    if (gathered === "") return;
    const text = gathered;
    gathered = "";
    out(text);
  };
  const write = o.write ? out : (line: string) => (flush(), out(line));
  const later = o.write ? out : (line: string) => {
    if (gathered === "") setImmediate(flush);
    gathered += line;
  };
  const requests = CONSOLA_LEVEL[o.level] >= CONSOLA_LEVEL.info;
  let redact = (t: string) => t;
  /** `inText`: the fields a text line shows (the rest already stand in its message). */
  const render = (level: string, date: Date, msg: string, fields: Fields = {}, inText?: readonly string[]): string => {
    const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (o.format === "json") return JSON.stringify({ time: date.toISOString(), level, msg, ...Object.fromEntries(defined) });
    const tail = defined.filter(([k]) => !inText || inText.includes(k)).map(([k, v]) => ` ${k}=${textValue(v)}`).join("");
    return `${date.toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${tail}`;
  };
  const emit = (level: string, date: Date, msg: string, fields?: Fields, inText?: readonly string[], to = write) => {
    put(render(level, date, msg, fields, inText), to);
  };
  const put = (rendered: string, to: (line: string) => void) => {
    let line = redact(rendered);
    // One line each, whatever a message holds: a newline in it must not forge another entry.
    // Other control characters (a terminal escape in a name) are shown escaped, never acted on.
    if (CONTROL.test(line)) {
      line = line.replace(/[\r\n]+/g, " ").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
    }
    to(`${line}\n`);
  };
  // Requests come by the thousand a second: their lines share the time's text within a millisecond.
  let isoAt = Number.NaN;
  let iso = "";
  const isoNow = () => {
    const t = Date.now();
    if (t !== isoAt) {
      isoAt = t;
      iso = new Date(t).toISOString();
    }
    return iso;
  };
  const consola: ConsolaInstance = createConsola({
    level: CONSOLA_LEVEL[o.level],
    // Identical lines are real events here (a client retrying the same request); consola would fold them.
    throttle: 0,
    reporters: [
      {
        log: (obj: LogObject) => {
          const [msg, fields, inText] = obj.args as [string, Fields | undefined, readonly string[] | undefined];
          emit(NAME[obj.level] ?? obj.type, obj.date, String(msg), fields, inText);
        },
      },
    ],
  });
  return {
    error: (msg, fields) => consola.error(msg, fields),
    warn: (msg, fields) => consola.warn(msg, fields),
    info: (msg, fields) => consola.info(msg, fields),
    debug: (msg, fields) => consola.debug(msg, fields),
    // Straight to the line, not through consola: its per-call work cost more than the rest of a request's logging.
    // Written out, not through render: the same line as render makes, for the cost of a few concatenations.
    request: (l) => {
      if (!requests) return;
      const msg = `${l.method} ${l.route} ${l.status} ${Math.round(l.latencyMs * 10) / 10}ms`;
      // The app adds why a request failed (already without secrets; redacted again here anyway).
      const error = l.error;
      if (o.format === "json") {
        put(JSON.stringify({
          time: isoNow(), level: "info", msg, method: l.method, route: l.route, status: l.status,
          latency_ms: Math.round(l.latencyMs * 1000) / 1000, request_id: l.requestId, ...(error === undefined ? {} : { error }),
        }), later);
      } else {
        put(`${isoNow()} INFO  ${msg} request_id=${textValue(l.requestId)}${error === undefined ? "" : ` error=${textValue(error)}`}`, later);
      }
    },
    notice: (msg, fields) => {
      if (o.level !== "silent") emit("info", new Date(), msg, fields);
    },
    secrets: (list) => {
      redact = redactor(list);
    },
  };
}
