import type { Config } from "../config/load.ts";
import type { Inbox, RateLimit } from "../core/ports.ts";

/** The [serve] section, validated and with defaults applied (flags and PP_LISTEN / PP_TOKEN already merged). */
export interface ServeSettings {
  /** "host:port", "[v6]:port" or "unix:/path". */
  listen: string;
  tokens: string[];
  allowAnonymous: boolean;
  /** Channel or group names for API messages that name none (already defaulted to defaults.channels, else every channel). */
  channels: string[];
  idempotencyWindowMs: number;
  maxBodyBytes: number;
  /** Per token (or per client address when anonymous). */
  rate: RateLimit;
  queueMax: number;
  workers: number;
  /** How long running deliveries may finish after SIGTERM/SIGINT. */
  graceMs: number;
  /** How long the daemon keeps trying a delivery that names no expires_at. */
  deadlineMs: number;
  /** Unix user to switch to after binding when started as root. */
  user: string;
  /** Whether GET /metrics needs the token. */
  metricsAuth: boolean;
}

/** Counters the workers feed and GET /metrics shows (src/server/metrics.ts implements it). */
export interface DeliveryEvents {
  accepted(channel: string): void;
  delivered(channel: string): void;
  failed(channel: string): void;
  retried(channel: string): void;
  expired(channel: string): void;
  rateWait(channel: string, ms: number): void;
}

/** One line per request, written by the server (never a token route's path, a token or a secret). */
export interface RequestLine {
  method: string;
  /** The route template ("/api/messages/:id", "/:token/:body"), never the raw path. */
  route: string;
  status: number;
  latencyMs: number;
  requestId: string;
  /** For a 500 or a store failure: what went wrong, redacted, without a stack (the answer only has the request id). */
  error?: string;
}

/** Everything the app (Request -> Response) needs; the server builds it, tests build it around a temp store. */
export interface AppContext {
  /** The config in force (a reload swaps it). */
  config(): Config;
  settings(): ServeSettings;
  inbox: Inbox;
  events: DeliveryEvents & { metricsText(depth: number): string; request(line: RequestLine): void };
  /** Tells the workers that something was queued. */
  wake(): void;
  /** Re-reads the config file; a config that does not validate is refused and the old one stays. */
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** True once SIGTERM/SIGINT arrived: new requests get 503. */
  draining(): boolean;
  /** Where request lines go. */
  logRequest(line: RequestLine): void;
}
