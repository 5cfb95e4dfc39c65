import type { InputFormat } from "./format.ts";
import type { OutcomeKind } from "./types.ts";

/**
 * What the dispatch core needs from storage. The SQLite store implements it; `pp test` uses a no-op.
 * Every method may throw when the store cannot be written; the core then refuses to send what it cannot record.
 */
export interface Recorder {
  /**
   * Records the message and one pending delivery per channel, before anything is sent. With `claim` (a replay),
   * a channel that another delivery of the same original has delivered, is sending or may have delivered is
   * skipped, checked and inserted in one transaction so that concurrent processes never both send it.
   */
  begin(msg: MessageRecord, deliveries: DeliveryStart[], o: BeginOptions): Begun[];
  /** Write-ahead: commits that a request is about to go out and returns the attempt's id. */
  sending(a: AttemptStart): number;
  /** The answer (or the failure) of a request recorded by `sending`. */
  answered(attemptId: number, a: AttemptEnd): void;
  finish(deliveryId: number, f: DeliveryEnd): void;
}

export interface BeginOptions {
  /** Unix ms after which a delivery still pending counts as abandoned, even if its process seems alive. */
  leaseUntil: number;
  /** A replay: skip what the original's family already has. `force` (channels named by the user) sends again what was delivered. */
  claim?: { force: boolean; uncertain: boolean };
}

/** A claimed delivery (with the parts the family already had accepted, by how many parts it was split into), or a skipped one. */
export type Begun =
  | { id: number; accepted?: ReadonlyMap<number, ReadonlySet<number>> }
  | { id: null; skip: "delivered" | "sending" | "uncertain"; reason: string };

export interface MessageRecord {
  id: string;
  createdAt: number;
  title?: string;
  text: string;
  /** As the user wrote it: channels are given the text or Markdown it becomes (channelInput). */
  format: InputFormat;
  /** `fallback`: an alert that a delivery of another message failed (src/core/fallback.ts). */
  source: "cli" | "replay" | "api" | "fallback";
  replayOf?: string;
  targets: string[];
  /**
   * Who to mention (parseAt's list: "all", phone numbers, user ids). Not a push-log column: it lives as long as
   * the process that sends the message, so a replay does not mention again.
   */
  at?: readonly string[];
}
export interface DeliveryStart { channel: string; type: string; target: string; parts: number }
/** `parts`: how many parts the delivery was split into (known once its channel has rendered the message). */
export interface AttemptStart { deliveryId: number; part: number; parts: number; attempt: number; startedAt: number }
export interface AttemptEnd {
  latencyMs: number;
  httpStatus: number | null;
  outcome: OutcomeKind;
  error: string | null;
  response: string | null;
}
/** `queued`: waiting in the daemon's queue, owned by no process; `expired`: its message's expires_at passed first. */
export type DeliveryStatus = "queued" | "pending" | "delivered" | "failed" | "uncertain" | "expired";
export interface DeliveryEnd { status: "delivered" | "failed" | "uncertain" | "expired"; attempts: number; latencyMs: number; error: string | null }

export interface RateLimit { count: number; windowMs: number }

/** Rate-limit state shared by every pp process on the machine (and later by daemons). */
export interface Limiter {
  /**
   * Takes a slot if one is free now (`ms` 0), else says how many ms to wait before asking again and, when a
   * platform's block rather than our own limit is the reason, that block.
   */
  acquire(key: string, limits: RateLimit[], now: number): Wait;
  /** The platform said "too fast": nobody sends to this key before `b.until`; `b.cause` says why, for users. */
  block(key: string, b: Block): void;
}

export interface Wait { ms: number; block?: Block }
/**
 * Access tokens a platform hands out for a while (WeCom application messages), shared by every pp process and
 * the daemon so that each does not ask for its own: the platform counts those requests too. A token is a
 * secret: it is kept here and in requests, never shown or written anywhere else.
 */
export interface TokenCache {
  /** The token cached under `key` that is still usable at `now`, or undefined. */
  get(key: string, now: number): string | undefined;
  /** Caches `token` under `key` until `usableUntil` (unix ms), replacing what was there. */
  put(key: string, token: string, usableUntil: number): void;
  /** Forgets `token` if it is still the one cached under `key` (another process may have put a fresh one since). */
  drop(key: string, token: string): void;
}

/** A platform's block on a destination (unix ms), and its cause in words. */
export interface Block { since: number; until: number; cause: string }

export const nullRecorder: Recorder = {
  begin: (_m, d) => d.map((_, i) => ({ id: -(i + 1) })),
  sending: () => 0,
  answered: () => {},
  finish: () => {},
};

/**
 * What the daemon's HTTP layer needs from the store (SQLite now; a PostgreSQL backend shared by several daemons
 * later implements the same). Every API message is a push-log message with source "api".
 */
export interface Inbox {
  /**
   * Commits the message and one queued delivery per channel, durably (against power loss, not only a crash),
   * and resolves once that commit is done. Concurrent calls share one commit.
   */
  enqueue(e: Enqueue): Promise<EnqueueResult>;
  /** One message as `pp log show --json` shows it (by id or unique prefix), or null. */
  message(idOrPrefix: string): import("../store/view.ts").MessageView | null;
  /**
   * Messages newest first, each as message() shows it, and the cursor of the next page (null on the last). A cursor
   * this store did not give out throws a PpError with code "usage".
   */
  messages(q: MessageQuery): { messages: import("../store/view.ts").MessageView[]; next: string | null };
  /** Deliveries queued or being sent. */
  depth(): number;
  /** Whether the store can be written now (for /healthz). */
  writable(): boolean;
  /**
   * What `pp log --failed` lists (and with `all`, `pp log --failed --all`): one row per delivery, as `pp log --json`
   * shows it, newest first, and the cursor of the next page. A cursor this store did not give out throws a PpError
   * with code "usage". Optional (so is stats): without it the API refuses failed=1 as invalid_argument.
   */
  undelivered?(q: UndeliveredQuery): { rows: import("../store/view.ts").RowView[]; next: string | null };
  /** `pp log --stats --json`'s rows: per channel, deliveries by status, success rate and latency percentiles. */
  stats?(q: { since?: number; channel?: string }): import("../store/pushlog.ts").StatRow[];
}

export interface UndeliveredQuery {
  /** Also those that a later replay (or the original) delivered since: the history. */
  all: boolean;
  channel?: string;
  /** Unix ms. */
  since?: number;
  limit: number;
  /** Opaque, from the previous page's `next`. */
  cursor?: string;
}

export interface Enqueue {
  message: MessageRecord;
  deliveries: DeliveryStart[];
  /** POSTed once when every delivery has ended. */
  callbackUrl?: string;
  /** Unix ms after which what is not delivered is recorded as expired. */
  expiresAt?: number;
  /** The client's request id (X-Ppt-Request-ID / Idempotency-Key), echoed in answers. */
  requestId?: string;
  /**
   * `key`: the client's key scoped to its token (hashed); `fingerprint`: a hash of what the request asks for.
   * A repeat of the key within `windowMs` with the same fingerprint gets the first message; with another, a conflict.
   */
  idempotency?: { key: string; fingerprint: string; windowMs: number };
  /** A replay (message.replayOf set): skip what the original's family has, as Recorder.begin does. */
  claim?: { force: boolean; uncertain: boolean };
  /** Refuse when this many deliveries are already queued. */
  queueMax?: number;
}

export type EnqueueResult =
  | { kind: "queued"; id: string; skipped: { channel: string; reason: string }[] }
  /** A repeat within the window: nothing new was queued; `id` is the first message's, `requestId` its request id. */
  | { kind: "repeat"; id: string; requestId?: string }
  /** The key was used within the window for a different request. */
  | { kind: "conflict"; id: string }
  /** A replay where every channel was skipped: nothing queued. */
  | { kind: "nothing"; skipped: { channel: string; reason: string }[] }
  /** queue_max deliveries are already waiting. */
  | { kind: "full"; retryAfterMs: number };

export interface MessageQuery {
  /** Messages with at least one delivery in this status. */
  status?: DeliveryStatus;
  channel?: string;
  /** Unix ms. */
  since?: number;
  limit: number;
  /** Opaque, from the previous page's `next`. */
  cursor?: string;
}
