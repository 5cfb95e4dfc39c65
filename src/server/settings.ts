import * as v from "valibot";
import { checkWith, durationProblem, parseDuration, parseRate, rateString, thrownMessage } from "../channels/_common.ts";
import type { Config } from "../config/load.ts";
import { PpError } from "../core/errors.ts";
import type { ServeSettings } from "./context.ts";

/**
 * The [serve] section: its schema (used by the config loader, so `pp config check` and every command see the
 * same errors), its values, and the merge of file, environment and flags into ServeSettings.
 */

export const SERVE_DEFAULTS = {
  listen: "127.0.0.1:39270",
  idempotencyWindow: "2m",
  maxBody: "1MiB",
  rate: "600/min",
  queueMax: 100_000,
  workers: 16,
  grace: "10s",
  deadline: "24h",
  user: "pp",
} as const;

export type Listen =
  | { kind: "tcp"; host: string; port: number; loopback: boolean }
  | { kind: "unix"; path: string };

const LISTEN_FORMS = `expected HOST:PORT such as "127.0.0.1:39270", "0.0.0.0:39270", "[::1]:39270", or "unix:/run/pp/pp.sock"`;

/**
 * sun_path holds 108 bytes on Linux and 104 on the BSDs and macOS, the terminating NUL included; a longer path
 * fails at bind with an error that does not say why.
 */
const UNIX_PATH_MAX = process.platform === "linux" ? 107 : 103;

/** "host:port", "[v6]:port" or "unix:/path"; throws an Error whose message says what is wrong. */
export function parseListen(s: string): Listen {
  const text = s.trim();
  if (text.startsWith("unix:")) {
    // unix:///run/pp.sock is the URL spelling of the same path.
    const path = text.slice(5).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new Error(`invalid listen address "${s}": give the socket's path after "unix:", such as "unix:/run/pp/pp.sock"`);
    if (/[\0\n\r]/.test(path)) throw new Error(`invalid listen address "${s}": the socket path has a control character`);
    const bytes = new TextEncoder().encode(path).length;
    if (bytes > UNIX_PATH_MAX) throw new Error(`the unix socket path "${path}" is ${bytes} bytes; the system allows at most ${UNIX_PATH_MAX}, so choose a shorter one`);
    return { kind: "unix", path };
  }
  const portOnly = /^:?(\d+)$/.exec(text);
  if (portOnly) {
    const p = portOnly[1];
    throw new Error(`invalid listen address "${s}": give the address too, "127.0.0.1:${p}" for this machine only or "0.0.0.0:${p}" for every interface`);
  }
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`invalid listen address "${s}": ${LISTEN_FORMS}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid listen address "${s}": the port must be 0 to 65535`);
  const v6 = m[1] !== undefined;
  const raw = v6 ? m[1]! : m[2]!;
  if (raw === "") throw new Error(`invalid listen address "${s}": the host is missing; ${LISTEN_FORMS}`);
  if (!v6 && !/^[A-Za-z0-9.-]+$/.test(raw)) throw new Error(`invalid listen address "${s}": "${raw}" is not a host name or IPv4 address (an IPv6 address goes in brackets: "[::1]:39270")`);
  // The URL parser validates and normalises both kinds (it rejects 1.2.3.999 and writes ::1 for 0:0:0:0:0:0:0:1).
  let hostname: string;
  try {
    hostname = new URL(`http://${v6 ? `[${raw}]` : raw}:1/`).hostname;
  } catch {
    throw new Error(`invalid listen address "${s}": "${raw}" is not a valid ${v6 ? "IPv6 address" : "host name or IPv4 address"}`);
  }
  const host = v6 ? hostname.slice(1, -1) : hostname;
  return { kind: "tcp", host, port, loopback: isLoopback(host) };
}

function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  if (/^127\.\d+\.\d+\.\d+$/.test(host)) return true;
  // ::ffff:127.0.0.1, normalised by the URL parser to ::ffff:7f00:1.
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host);
}

/** How an address is shown to people and in the start line. */
export function showListen(l: Listen): string {
  if (l.kind === "unix") return `unix:${l.path}`;
  return l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};
/** Beyond this a request body is not a notification; Bun itself buffers bodies in memory. */
export const MAX_BODY_LIMIT = 1024 ** 3;

/** "1MiB", "512KiB", "64kb", or a number of bytes -> bytes. */
export function parseSize(s: string | number): number {
  let bytes: number;
  if (typeof s === "number") bytes = s;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(s);
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new Error(`invalid size "${s}": expected a number of bytes or a size such as "512KiB", "1MiB" or "2MB"`);
    bytes = Number(m[1]) * unit;
  }
  if (!Number.isFinite(bytes) || bytes < 1) throw new Error(`invalid size "${s}": must be at least 1 byte`);
  if (bytes > MAX_BODY_LIMIT) throw new Error(`size "${s}" is too large: at most 1GiB`);
  return Math.floor(bytes);
}

/** Like durationProblem, but 0 is allowed: a grace of "0s" stops at once. */
function graceProblem(s: string): string | undefined {
  if (/^\s*0+(?:\.0+)?\s*[a-z]*\s*$/i.test(s)) return thrownMessage(() => parseDuration(s));
  return durationProblem(s);
}

/** Tokens go in HTTP headers and URLs: whitespace or control characters could never be sent back. */
function tokenProblem(t: string): string | undefined {
  if (t === "") return "must not be empty (is the environment variable it names set to an empty value?)";
  if (/[\s\x00-\x1f\x7f]/.test(t)) return "must not contain spaces or control characters";
  return undefined;
}

/**
 * The [serve] section as written; snake_case keys, fixed by the peers' documentation. Built on first use: only a
 * config with a [serve] section needs it, and building it costs every other pp process start-up time.
 */
export const serveSchema = () => (schema ??= buildServeSchema());
let schema: ReturnType<typeof buildServeSchema> | undefined;

function buildServeSchema() {
  const whole = (min: number, max: number) =>
    v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(min, `must be ${min} or more`), v.maxValue(max, `must be ${max} or less`));
  const duration = v.pipe(v.string(), checkWith(durationProblem));
  const token = v.pipe(v.string(), checkWith(tokenProblem));
  return v.strictObject({
    listen: v.optional(v.pipe(v.string(), checkWith((s: string) => thrownMessage(() => parseListen(s))))),
    token: v.optional(token),
    tokens: v.optional(v.pipe(v.array(token), v.minLength(1, "is empty; list at least one token, or remove it and set allow_anonymous = true for a loopback or unix listener"))),
    channels: v.optional(v.union([v.string(), v.array(v.string())], "must be a name or a list of names")),
    idempotency_window: v.optional(duration),
    max_body: v.optional(v.pipe(v.union([v.string(), v.number()], 'must be a size such as "1MiB" or a number of bytes'), checkWith((s: string | number) => thrownMessage(() => parseSize(s))))),
    rate: v.optional(rateString),
    queue_max: v.optional(whole(1, 100_000_000)),
    workers: v.optional(whole(1, 1024)),
    allow_anonymous: v.optional(v.boolean()),
    user: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty; write user = "root" to keep running as root'))),
    grace: v.optional(v.pipe(v.string(), checkWith(graceProblem))),
    deadline: v.optional(duration),
    metrics_auth: v.optional(v.boolean()),
  });
}

/** What the file's [serve] section sets; anything left out takes its default in serveSettings. */
export type ServeSection = Partial<Omit<ServeSettings, "channels">> & { channels?: string[] };

/** The validated section -> its values. `token` and `tokens` together are refused by the loader. */
export function serveSection(raw: v.InferOutput<ReturnType<typeof serveSchema>>): ServeSection {
  const out: ServeSection = {};
  if (raw.listen !== undefined) out.listen = raw.listen.trim();
  if (raw.tokens !== undefined) out.tokens = raw.tokens;
  else if (raw.token !== undefined) out.tokens = [raw.token];
  if (raw.channels !== undefined) out.channels = Array.isArray(raw.channels) ? raw.channels : [raw.channels];
  if (raw.idempotency_window !== undefined) out.idempotencyWindowMs = parseDuration(raw.idempotency_window);
  if (raw.max_body !== undefined) out.maxBodyBytes = parseSize(raw.max_body);
  if (raw.rate !== undefined) out.rate = parseRate(raw.rate);
  if (raw.queue_max !== undefined) out.queueMax = raw.queue_max;
  if (raw.workers !== undefined) out.workers = raw.workers;
  if (raw.allow_anonymous !== undefined) out.allowAnonymous = raw.allow_anonymous;
  if (raw.user !== undefined) out.user = raw.user;
  if (raw.grace !== undefined) out.graceMs = parseDuration(raw.grace);
  if (raw.deadline !== undefined) out.deadlineMs = parseDuration(raw.deadline);
  if (raw.metrics_auth !== undefined) out.metricsAuth = raw.metrics_auth;
  return out;
}

/** What `pp serve`'s flags set; each wins over its environment twin, which wins over the file. */
export interface ServeFlags {
  listen?: string;
  token?: string;
}

/**
 * Config + flags + environment -> the settings the daemon runs with. Refuses a listener that anyone could
 * reach without a token, and one without a token that the config has not explicitly opened to anonymous use.
 */
export function serveSettings(cfg: Config, flags: ServeFlags = {}, env: Record<string, string | undefined> = process.env): ServeSettings {
  const file = cfg.serve ?? {};
  let listenText = file.listen ?? SERVE_DEFAULTS.listen;
  let listenFrom = cfg.file ? `${cfg.file}: serve.listen` : "serve.listen";
  if (env.PP_LISTEN) [listenText, listenFrom] = [env.PP_LISTEN.trim(), "PP_LISTEN"];
  if (flags.listen !== undefined) [listenText, listenFrom] = [flags.listen.trim(), "--listen"];
  let listen: Listen;
  try {
    listen = parseListen(listenText);
  } catch (e) {
    throw new PpError(listenFrom === "--listen" ? "usage" : "config", `${listenFrom}: ${(e as Error).message}`);
  }

  let tokens = file.tokens ?? [];
  if (env.PP_TOKEN) {
    const problem = tokenProblem(env.PP_TOKEN);
    if (problem) throw new PpError("config", `PP_TOKEN ${problem}`);
    tokens = [env.PP_TOKEN];
  }
  if (flags.token !== undefined) {
    const problem = tokenProblem(flags.token);
    if (problem) throw new PpError("usage", `--token ${problem}`);
    tokens = [flags.token];
  }
  const allowAnonymous = file.allowAnonymous ?? false;
  if (tokens.length === 0) {
    const shown = showListen(listen);
    const where = cfg.file ? `in the [serve] section of ${cfg.file}` : "in a [serve] section of the config";
    if (listen.kind === "tcp" && !listen.loopback) {
      throw new PpError(
        "config",
        `refusing to listen on ${shown} without a token: anyone who can reach it could send through your channels; set one with tokens = ["\${PP_TOKEN}"] ${where} and export PP_TOKEN=$(openssl rand -hex 32), or pass --token (or listen on 127.0.0.1 or a unix socket)`,
      );
    }
    if (!allowAnonymous) {
      throw new PpError(
        "config",
        `no token is set for ${shown}: set tokens = ["\${PP_TOKEN}"] ${where} (or PP_TOKEN / --token), or set allow_anonymous = true there to let every local process send without one`,
      );
    }
  }

  const all = [...cfg.channels.keys()];
  const channels = file.channels ?? (cfg.defaults.channels.length ? cfg.defaults.channels : all);
  return {
    listen: showListen(listen),
    tokens,
    allowAnonymous,
    channels,
    idempotencyWindowMs: file.idempotencyWindowMs ?? parseDuration(SERVE_DEFAULTS.idempotencyWindow),
    maxBodyBytes: file.maxBodyBytes ?? parseSize(SERVE_DEFAULTS.maxBody),
    rate: file.rate ?? parseRate(SERVE_DEFAULTS.rate),
    queueMax: file.queueMax ?? SERVE_DEFAULTS.queueMax,
    workers: file.workers ?? SERVE_DEFAULTS.workers,
    graceMs: file.graceMs ?? parseDuration(SERVE_DEFAULTS.grace),
    deadlineMs: file.deadlineMs ?? parseDuration(SERVE_DEFAULTS.deadline),
    user: file.user ?? SERVE_DEFAULTS.user,
    metricsAuth: file.metricsAuth ?? false,
  };
}
