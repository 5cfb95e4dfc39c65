import type { Format, OutcomeKind } from "./types.ts";

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
  format: Format;
  source: "cli" | "replay" | "api";
  replayOf?: string;
  targets: string[];
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
export type DeliveryStatus = "pending" | "delivered" | "failed" | "uncertain";
export interface DeliveryEnd { status: "delivered" | "failed" | "uncertain"; attempts: number; latencyMs: number; error: string | null }

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
/** A platform's block on a destination (unix ms), and its cause in words. */
export interface Block { since: number; until: number; cause: string }

export const nullRecorder: Recorder = {
  begin: (_m, d) => d.map((_, i) => ({ id: -(i + 1) })),
  sending: () => 0,
  answered: () => {},
  finish: () => {},
};
