import type { Config } from "../config/load.ts";
import { deliverQueued, type Clock, type DispatchEvent } from "../core/dispatch.ts";
import { queueAlert } from "../core/fallback.ts";
import { exchange } from "../core/http.ts";
import type { Limiter, TokenCache } from "../core/ports.ts";
import type { Outcome } from "../core/types.ts";
import { clip, ERROR_MAX, redactor } from "../core/redact.ts";
import type { MessageDetail } from "../store/pushlog.ts";
import { LEASE_MS, type QueuedRef, type SqliteQueue } from "../store/queue.ts";
import { jsonRow } from "../store/view.ts";
import type { DeliveryEvents, ServeSettings } from "./context.ts";

export interface WorkersOptions {
  queue: SqliteQueue;
  limiter: Limiter;
  /** Access tokens shared with every pp process (ChannelDef.auth). */
  tokens?: TokenCache;
  /** The config in force: read for each delivery, so a reload applies to what runs next. */
  config: () => Config;
  settings: () => ServeSettings;
  events: DeliveryEvents;
  /** Every secret the config holds: answers, errors and callbacks are cleaned of them all. */
  secrets: () => readonly string[];
  /** A wait longer than this hands the delivery back to the queue rather than holding a worker (default 2 s). */
  deferAfterMs?: number;
  /** The wait before a callback's next try, after `tries` failed ones (default 1 s doubling, at most 10 min). */
  callbackBackoff?: (tries: number) => number;
  /** How long a taken delivery stays this process's without a heartbeat (default LEASE_MS); renewed at a quarter of it. */
  leaseMs?: number;
  /** Where an unexpected failure of the workers themselves is reported (the store gone, a bug). */
  onError?: (e: unknown) => void;
  /** Injected by tests: the dispatch core's clock and jitter. */
  clock?: Clock;
  random?: () => number;
}

/** How often queued deliveries are checked for a passed deadline, whatever their channel is waiting for. */
const SWEEP_MS = 5_000;
const CALLBACK_TRIES = 10;
const CALLBACK_TIMEOUT_MS = 10_000;
const CALLBACKS_AT_ONCE = 4;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One channel's queued deliveries, earliest due first, and whether one of them is running. */
interface Lane {
  heap: Heap;
  busy: boolean;
  /** Nothing of this channel starts before this: the destination's rate limit or block is known to hold until then. */
  notBefore: number;
  /** How many of its deliveries wait to try again after a failure (at most: a few may have ended meanwhile). */
  retrying: number;
}

/**
 * The daemon's delivery workers. At most `settings().workers` deliveries run at once, and at most one per channel,
 * so a channel's messages go out in order and a slow or blocked channel holds one worker at most. A wait longer
 * than deferAfterMs puts the delivery back in the queue with its due time, so it outlives a restart. The queued
 * deliveries are indexed in memory per channel (loaded at start, then by id as new ones arrive), so taking work
 * never scans the store.
 */
export class Workers {
  private readonly lanes = new Map<string, Lane>();
  private readonly running = new Set<Promise<void>>();
  /** Deliveries this process holds (pending, leased): renewed by the heartbeat, released when stopping. */
  private readonly held = new Set<number>();
  private lastId = 0;
  private started = false;
  private stopping = false;
  /** Aborted when stopping: deliveries start nothing new and end their waits. */
  private readonly halt = new AbortController();
  /** Aborted when the grace period is over: callbacks in flight are cut off. */
  private readonly abort = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private cbTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly cbRunning = new Map<string, Promise<void>>();
  private rotate = 0;
  private waking = false;

  private readonly lease: number;

  constructor(private readonly o: WorkersOptions) {
    this.lease = o.leaseMs ?? LEASE_MS;
  }

  /** Deliveries running now. */
  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Takes back what a previous daemon left running (possible duplicates when a request was out), loads the
   * queue and starts delivering.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.guard(() => this.o.queue.recover(Date.now(), true));
    this.load();
    // Leases are renewed, and abandoned ones of other processes looked for, four times a lease.
    this.heartbeat = setInterval(() => this.guard(() => this.beat()), this.lease / 4);
    this.sweeper = setInterval(() => this.guard(() => this.sweep()), SWEEP_MS);
    this.heartbeat.unref?.();
    this.sweeper.unref?.();
    this.guard(() => this.sweep());
    this.pump();
    this.callbacks();
  }

  /** Something was queued (or the config changed): pick it up. Calls within one turn are served by one look. */
  wake(): void {
    if (!this.started || this.stopping || this.waking) return;
    this.waking = true;
    setImmediate(() => {
      this.waking = false;
      if (this.stopping) return;
      this.load();
      this.pump();
    });
  }

  /**
   * Takes nothing new; lets running deliveries finish within `graceMs`. Those still waiting then go back to the
   * queue; one whose request is still out is put back too, marked as a possible duplicate (as after a crash).
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.timer);
    clearTimeout(this.cbTimer);
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    const settled = () => Promise.allSettled([...this.running, ...this.cbRunning.values()]);
    // A delivery waiting (for a retry, a rate-limit slot, its next part) hands itself back to the queue now: only
    // requests already out have the grace period to finish, and an idle daemon stops at once.
    this.halt.abort("pp serve stopped");
    await within(settled(), graceMs);
    if (this.running.size === 0 && this.cbRunning.size === 0) return;
    this.abort.abort("pp serve stopped");
    // Waits end at once and hand their deliveries back; a request out takes its own time, not ours.
    await within(settled(), Math.min(1000, Math.max(100, graceMs / 10)));
    if (this.held.size) this.guard(() => this.o.queue.release([...this.held]));
  }

  private guard<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      this.failed(e);
      return undefined;
    }
  }

  private failed(e: unknown): void {
    if (this.o.onError) return this.o.onError(e);
    // Never silent: a store that cannot be written leaves deliveries queued, and the operator should know why.
    process.stderr.write(`pp serve: delivery workers: ${String((e as Error)?.message ?? e).split("\n")[0]}\n`);
  }

  private lane(channel: string): Lane {
    let l = this.lanes.get(channel);
    if (!l) this.lanes.set(channel, (l = { heap: new Heap(), busy: false, notBefore: 0, retrying: 0 }));
    return l;
  }

  private load(): void {
    const got = this.guard(() => this.o.queue.queuedSince(this.lastId));
    if (!got) return;
    for (const r of got.refs) this.put(r);
    this.lastId = Math.max(this.lastId, got.last);
  }

  private beat(): void {
    const now = Date.now();
    // A store that refused the last messages gets one small write, so that /healthz recovers on an idle daemon too.
    this.o.queue.retryWrite();
    if (this.held.size) this.o.queue.renew(this.held, now + this.lease);
    // The queue's depth is kept in memory; now and then it is counted again, in case another process changed it.
    this.o.queue.recount();
    // Another process's deliveries whose lease ran out (a daemon on another host that died).
    const back = this.o.queue.recover(now);
    if (back.length) for (const r of this.o.queue.refs(back)) this.put(r);
    if (back.length) this.pump();
  }

  private deadline(r: QueuedRef): { at: number; status: "failed" | "expired" } {
    return r.expiresAt !== null ? { at: r.expiresAt, status: "expired" } : { at: r.createdAt + this.o.settings().deadlineMs, status: "failed" };
  }

  /** Ends the queued deliveries whose deadline passed while they waited (behind a blocked channel, say). */
  private sweep(): void {
    const now = Date.now();
    const ended: { ref: QueuedRef; status: "failed" | "expired"; error: string }[] = [];
    for (const lane of this.lanes.values()) {
      const gone = lane.heap.removeWhere((r) => this.deadline(r).at <= now);
      for (const ref of gone) ended.push({ ref, ...this.endedBy(ref) });
    }
    if (ended.length) this.end(ended);
  }

  private endedBy(ref: QueuedRef): { status: "failed" | "expired"; error: string } {
    const d = this.deadline(ref);
    return d.status === "expired"
      ? { status: "expired", error: `expired at ${new Date(d.at).toISOString()} before it could be delivered` }
      : { status: "failed", error: `not delivered within the daemon's deadline (${new Date(d.at).toISOString()})` };
  }

  private end(items: { ref: QueuedRef; status: "failed" | "expired"; error: string }[]): void {
    const done = new Set(this.guard(() => this.o.queue.end(items.map((i) => ({ id: i.ref.id, status: i.status, error: i.error })))) ?? []);
    for (const i of items) {
      if (!done.has(i.ref.id)) continue;
      if (i.status === "expired") this.o.events.expired(i.ref.channel);
      else (this.o.events.failed(i.ref.channel), this.alert(i.ref.messageId, i.ref.channel));
    }
    if (done.size) this.callbacks();
  }

  /** Starts what is due, within the limits, and sets a timer for the next due time. */
  private pump(): void {
    if (!this.started || this.stopping) return;
    const now = Date.now();
    const max = Math.max(1, this.o.settings().workers);
    let next = Infinity;
    // Starting the round at a different channel each time shares the workers among channels when they are scarce.
    const lanes = [...this.lanes.entries()];
    const n = lanes.length;
    this.rotate = n ? (this.rotate + 1) % n : 0;
    for (let k = 0; k < n; k++) {
      const [channel, lane] = lanes[(this.rotate + k) % n]!;
      if (lane.busy) continue;
      const head = lane.heap.peek();
      if (!head) {
        if (lane.notBefore <= now) this.lanes.delete(channel);
        continue;
      }
      // When every worker is busy, the next one to finish looks again.
      if (this.running.size >= max) continue;
      const at = Math.max(head.dueAt, lane.notBefore);
      if (at > now) {
        next = Math.min(next, at);
        continue;
      }
      lane.heap.pop();
      if (head.retrying) lane.retrying = Math.max(0, lane.retrying - 1);
      this.run(lane, head);
    }
    if (next !== Infinity) this.schedule(next);
  }

  private schedule(at: number): void {
    if (this.timer !== undefined && at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
  }

  private run(lane: Lane, ref: QueuedRef): void {
    lane.busy = true;
    const p: Promise<void> = this.deliver(lane, ref)
      .catch((e) => this.failed(e))
      .finally(() => {
        lane.busy = false;
        this.running.delete(p);
        this.pump();
      });
    this.running.add(p);
  }

  private async deliver(lane: Lane, ref: QueuedRef): Promise<void> {
    const { queue, events } = this.o;
    const now = Date.now();
    const deadline = this.deadline(ref);
    if (deadline.at <= now) return this.end([{ ref, ...this.endedBy(ref) }]);
    const target = this.o.config().channels.get(ref.channel);
    if (!target) {
      return this.end([{ ref, status: "failed", error: `channel ${ref.channel} is no longer configured; send it elsewhere with: pp replay ${ref.messageId} --ch NAME` }]);
    }
    const taken = queue.take(ref.id, now + this.lease, now);
    if (!taken) return;
    this.held.add(ref.id);
    let r;
    try {
      r = await deliverQueued(taken.message, target, ref.id, {
        recorder: queue.recorder,
        limiter: this.o.limiter,
        ...(this.o.tokens ? { tokens: this.o.tokens } : {}),
        deadline: deadline.at,
        deadlineStatus: deadline.status,
        deferAfterMs: this.o.deferAfterMs ?? 2000,
        tried: taken.tried,
        accepted: taken.accepted,
        interrupt: this.halt.signal,
        // A platform that is down only delays what was accepted: retryable failures are tried again, with a
        // growing wait, until the delivery's deadline (the channel's `retries` is for pp send).
        retries: Number.POSITIVE_INFINITY,
        backoff: queueBackoff,
        secrets: this.o.secrets(),
        onEvent: (e) => this.event(e),
        ...(this.o.clock ? { clock: this.o.clock } : {}),
        ...(this.o.random ? { random: this.o.random } : {}),
      });
    } finally {
      this.held.delete(ref.id);
    }
    if (r.status === "deferred") {
      queue.defer(ref.id, r.until, r.reason);
      this.put({ ...ref, dueAt: r.until, retrying: r.cause === "retry" && !ref.revived });
      if (r.cause === "rate_limit") {
        // The destination is shut until then for every message of the channel, not only this one.
        lane.notBefore = Math.max(lane.notBefore, r.until);
        events.rateWait(ref.channel, Math.max(0, r.until - Date.now()));
      }
      return;
    }
    if (r.status === "delivered") {
      events.delivered(ref.channel);
      this.revive(lane);
    } else if (r.status === "expired") events.expired(ref.channel);
    else (events.failed(ref.channel), this.alert(ref.messageId, ref.channel));
    this.callbacks();
  }

  /**
   * The channel delivered: those of its deliveries that wait to try again after failures (the platform was down)
   * are due now rather than at the end of their backoff, up to five minutes away. Each is revived once: one that
   * fails whatever the platform's state waits out its backoff from then on, not tried after every success.
   */
  private revive(lane: Lane): void {
    if (lane.retrying === 0) return;
    const now = Date.now();
    const back = lane.heap.removeWhere((r) => r.retrying === true);
    for (const r of back) lane.heap.push({ ...r, dueAt: Math.min(r.dueAt, now), retrying: false, revived: true });
    lane.retrying = 0;
  }

  private put(r: QueuedRef): void {
    const lane = this.lane(r.channel);
    lane.heap.push(r);
    if (r.retrying) lane.retrying++;
  }

  /** A delivery ended failed: the fallback alert its channel asks for is queued, as a message of its own. */
  private alert(messageId: string, channel: string): void {
    queueAlert(this.o.queue, this.o.config(), messageId, channel, this.o.secrets()).then((id) => id !== null && this.wake(), (e) => this.failed(e));
  }

  private event(e: DispatchEvent): void {
    // A retry is counted when it goes out, whether it waited in a worker or in the queue (across a restart, too).
    if (e.type === "attempt" && e.attempt > 1) this.o.events.retried(e.channel);
    if (e.type === "wait" && e.reason === "rate_limit") this.o.events.rateWait(e.channel, e.ms);
  }

  // ---- callbacks ----

  /** Sends the callbacks that are due (a few at a time) and sets a timer for the next. */
  private callbacks(): void {
    if (!this.started || this.stopping) return;
    const now = Date.now();
    const free = CALLBACKS_AT_ONCE - this.cbRunning.size;
    if (free > 0) {
      const due = this.guard(() => this.o.queue.dueCallbacks(now, CALLBACKS_AT_ONCE * 2)) ?? [];
      for (const cb of due.filter((c) => !this.cbRunning.has(c.messageId)).slice(0, free)) {
        const p = this.callback(cb.messageId, cb.url, cb.attempts)
          .catch((e) => this.failed(e))
          .finally(() => {
            this.cbRunning.delete(cb.messageId);
            this.callbacks();
          });
        this.cbRunning.set(cb.messageId, p);
      }
    }
    clearTimeout(this.cbTimer);
    const next = this.guard(() => this.o.queue.nextCallback()) ?? null;
    if (next !== null && this.cbRunning.size < CALLBACKS_AT_ONCE) {
      this.cbTimer = setTimeout(() => this.callbacks(), Math.min(MAX_TIMER_MS, Math.max(10, next - Date.now())));
    }
  }

  private async callback(messageId: string, url: string, tries: number): Promise<void> {
    const { queue } = this.o;
    const detail = queue.log.get(messageId);
    if (!detail) return;
    const redact = redactor(this.o.secrets());
    const body = JSON.stringify(callbackBody(detail));
    const res = await exchange({ method: "POST", url, headers: { "content-type": "application/json", "user-agent": "pp" }, body: redact(body) }, CALLBACK_TIMEOUT_MS, this.abort.signal);
    const status = res.ok ? res.response.status : (res.status ?? null);
    if (res.ok && res.response.status >= 200 && res.response.status < 300) {
      queue.callbackTried(messageId, { status: "sent", dueAt: null, httpStatus: status, error: null });
      return;
    }
    const error = clip(redact(res.ok ? `HTTP ${res.response.status}` : res.error), ERROR_MAX);
    const n = tries + 1;
    const permanent = !res.ok && res.permanent;
    if (permanent || n >= CALLBACK_TRIES) {
      queue.callbackTried(messageId, { status: "failed", dueAt: null, httpStatus: status, error: n >= CALLBACK_TRIES ? `${error} (gave up after ${n} tries)` : error });
      return;
    }
    const wait = (this.o.callbackBackoff ?? defaultBackoff)(n);
    queue.callbackTried(messageId, { status: "queued", dueAt: Date.now() + wait, httpStatus: status, error });
  }
}

/** The longest wait between two tries of a queued delivery. */
export const QUEUE_BACKOFF_MAX_MS = 5 * 60_000;

/**
 * The wait before a queued delivery's next try: 0.5 s doubling with each attempt, with jitter (half to all of it),
 * at most QUEUE_BACKOFF_MAX_MS; a platform's own "retry after" wins when it asks for longer.
 */
export function queueBackoff(attempt: number, outcome: Outcome, random: () => number): number {
  const base = Math.min(QUEUE_BACKOFF_MAX_MS, 500 * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jittered = Math.round(base / 2 + random() * (base / 2));
  if (outcome.retryAfterMs !== undefined) return Math.max(outcome.retryAfterMs, outcome.kind === "rate_limited" ? 0 : jittered);
  return outcome.kind === "rate_limited" ? Math.max(1000, jittered) : jittered;
}

function defaultBackoff(tries: number): number {
  return Math.min(600_000, 1000 * 2 ** (tries - 1));
}

/**
 * What a callback says: pp's fields and pushplus's (shortCode, sendStatus 2 delivered / 3 not). A message is
 * delivered when every delivery was, expired when what was not delivered expired, failed otherwise.
 */
export function callbackBody(detail: MessageDetail) {
  const ds = detail.deliveries;
  const status = ds.every((d) => d.status === "delivered") ? "delivered" : ds.every((d) => d.status === "delivered" || d.status === "expired") ? "expired" : "failed";
  const id = detail.message.id;
  const error = ds.find((d) => d.status !== "delivered" && d.error)?.error ?? "";
  return { id, status, deliveries: ds.map(jsonRow), shortCode: id, sendStatus: status === "delivered" ? 2 : 3, message: status === "delivered" ? "" : error };
}

async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (t = setTimeout(resolve, Math.max(0, ms))))]);
  clearTimeout(t);
}

/** A binary min-heap of queued deliveries by (due time, id). */
class Heap {
  private a: QueuedRef[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): QueuedRef | undefined {
    return this.a[0];
  }
  push(r: QueuedRef): void {
    const a = this.a;
    a.push(r);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): QueuedRef | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }
  /** Removes (and returns) every entry that matches; one pass and a rebuild. */
  removeWhere(f: (r: QueuedRef) => boolean): QueuedRef[] {
    const gone: QueuedRef[] = [];
    const keep: QueuedRef[] = [];
    for (const r of this.a) (f(r) ? gone : keep).push(r);
    if (gone.length === 0) return gone;
    this.a = keep;
    for (let i = (keep.length >> 1) - 1; i >= 0; i--) this.down(i);
    return gone;
  }
  private down(i: number): void {
    const a = this.a;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && less(a[l]!, a[m]!)) m = l;
      if (r < a.length && less(a[r]!, a[m]!)) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
}

const less = (x: QueuedRef, y: QueuedRef) => x.dueAt < y.dueAt || (x.dueAt === y.dueAt && x.id < y.id);
