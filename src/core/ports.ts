import type { Format, OutcomeKind } from "./types.ts";

/** What the dispatch core needs from storage. The SQLite store implements it; `pp test` uses a no-op. */
export interface Recorder {
  /** Records the message and one pending delivery per channel, before anything is sent. Returns delivery ids. */
  begin(msg: MessageRecord, deliveries: DeliveryStart[]): number[];
  attempt(a: AttemptRecord): void;
  finish(deliveryId: number, f: DeliveryEnd): void;
}

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
export interface AttemptRecord {
  deliveryId: number;
  part: number;
  attempt: number;
  startedAt: number;
  latencyMs: number;
  httpStatus: number | null;
  outcome: OutcomeKind;
  error: string | null;
  response: string | null;
}
export interface DeliveryEnd { status: "delivered" | "failed"; attempts: number; latencyMs: number; error: string | null }

export interface RateLimit { count: number; windowMs: number }

/** Rate-limit state shared by every pp process on the machine (and later by daemons). */
export interface Limiter {
  /** Takes a slot if one is free now (returns 0), else returns how many ms to wait before asking again. */
  acquire(key: string, limits: RateLimit[], now: number): number;
  /** The platform said "too fast": nobody sends to this key before `until`. */
  block(key: string, until: number): void;
}

export const nullRecorder: Recorder = {
  begin: (_m, d) => d.map((_, i) => -(i + 1)),
  attempt: () => {},
  finish: () => {},
};
