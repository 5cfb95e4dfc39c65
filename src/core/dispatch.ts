import { exchange } from "./http.ts";
import type { Limiter, MessageRecord, RateLimit, Recorder } from "./ports.ts";
import { redactor } from "./redact.ts";
import { chars, jsonBytes, split, utf8Bytes } from "./split.ts";
import type { ChannelDef, Format, HttpRequest, Outcome } from "./types.ts";

/** A configured channel, ready to send: its definition, options and effective limits. */
export interface Target {
  name: string;
  def: ChannelDef;
  opts: any;
  rates: RateLimit[];
  rateText: string;
  retries: number;
  timeoutMs: number;
  /**
   * A replay's memory of earlier tries: for a message split into N parts, the parts (1-based) the platform
   * already accepted. They are skipped when it splits into N parts again, so nothing arrives twice.
   */
  resume?: ReadonlyMap<number, ReadonlySet<number>>;
}

/** A message to send: what the push log records of it (targets are the names the user asked for). */
export type Outgoing = MessageRecord;

export type DispatchEvent =
  | { type: "wait"; channel: string; ms: number; reason: "rate_limit" | "retry" }
  | { type: "attempt"; channel: string; part: number; parts: number; attempt: number; outcome: Outcome | { kind: "retryable"; error: string } };

export interface DeliveryResult {
  channel: string;
  type: string;
  status: "delivered" | "failed";
  attempts: number;
  parts: number;
  latencyMs: number;
  error: string | null;
}

export interface DispatchResult {
  id: string;
  deliveries: DeliveryResult[];
}

export interface DispatchOptions {
  recorder: Recorder;
  limiter: Limiter;
  /** Unix ms after which nothing more is attempted; what is left is recorded as failed. */
  deadline: number;
  onEvent?: (e: DispatchEvent) => void;
  /** Injected by tests: a clock whose sleep advances time without waiting, and a fixed jitter. */
  clock?: Clock;
  random?: () => number;
}

/** The parts of one message for one channel, rendered and split to fit the platform's limit. */
export interface Plan {
  parts: string[];
  titles: (string | undefined)[];
  error?: string;
}

const PROBE = 99;

/** Renders the message in the channel's dialect and splits it so every request fits the platform's limit. */
export function plan(t: Target, title: string | undefined, text: string, format: Format, now: number): Plan {
  const { def, opts } = t;
  let rendered: string;
  try {
    rendered = def.render(text, format, opts);
  } catch (e) {
    return { parts: [], titles: [], error: `cannot render the message: ${(e as Error).message}` };
  }
  const limit = def.limit(opts, { format, hasTitle: title !== undefined });
  const build = (part: string, ptitle: string | undefined, index: number, total: number): HttpRequest =>
    def.build(part, { title: ptitle, format, index, total, now }, opts);
  const size = (req: HttpRequest) => def.measure(req, opts, { format });
  const whole = build(rendered, title, 0, 1);
  if (!Number.isFinite(limit.max) || size(whole) <= limit.max) return { parts: [rendered], titles: [title] };

  const cost = limit.scope === "body" ? jsonBytes : limit.unit === "bytes" ? utf8Bytes : chars;
  const marker = (i: number, n: number) => `(${i}/${n})`;
  // What a part costs besides its text: the envelope, the title with its "(i/n)" and any keyword line.
  const probeTitle = title === undefined ? undefined : `${title} ${marker(PROBE, PROBE)}`;
  const overhead = size(build("", probeTitle, 0, PROBE)) + (title === undefined ? cost(`${marker(PROBE, PROBE)}\n`) : 0);
  let budget = limit.max - overhead;
  for (let round = 0; round < 6; round++) {
    if (budget < 16) break;
    const pieces = split(rendered, { budget, cost });
    const n = pieces.length;
    const parts = pieces.map((p, i) => (title === undefined ? `${marker(i + 1, n)}\n${p}` : p));
    const titles = pieces.map((_, i) => (title === undefined ? undefined : `${title} ${marker(i + 1, n)}`));
    const worst = Math.max(...parts.map((p, i) => size(build(p, titles[i], i, n))));
    if (worst <= limit.max) return { parts, titles };
    // The per-line estimate was short (escaping the channel adds, say): shrink and try again.
    budget -= Math.max(worst - limit.max, Math.ceil(budget * 0.05));
  }
  return { parts: [], titles: [], error: `the title and fixed fields leave no room for text within the platform's limit of ${limit.max} ${limit.unit}` };
}

/**
 * Records the message, then delivers it to every target concurrently (the parts of one target in order),
 * with rate limiting, retries and a deadline. Never throws for delivery problems: they are results.
 */
export async function dispatch(msg: Outgoing, targets: Target[], o: DispatchOptions): Promise<DispatchResult> {
  const plans = targets.map((t) => plan(t, msg.title, msg.text, msg.format, msg.createdAt));
  const ids = o.recorder.begin(
    msg,
    targets.map((t, i) => ({ channel: t.name, type: t.def.type, target: t.def.target(t.opts), parts: Math.max(1, plans[i]!.parts.length) })),
  );
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), Math.max(0, o.deadline - (o.clock?.now() ?? Date.now())));
  try {
    const deliveries = await Promise.all(targets.map((t, i) => deliver(t, plans[i]!, ids[i]!, msg, o, stop.signal)));
    return { id: msg.id, deliveries };
  } finally {
    clearTimeout(timer);
  }
}

export interface Clock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const realSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });

async function deliver(t: Target, p: Plan, deliveryId: number, msg: Outgoing, o: DispatchOptions, signal: AbortSignal): Promise<DeliveryResult> {
  const { now: clock, sleep } = o.clock ?? { now: Date.now, sleep: realSleep };
  const random = o.random ?? Math.random;
  const redact = redactor(t.def.secrets(t.opts));
  const key = t.def.rateKey(t.opts);
  let attempts = 0;
  let latencyMs = 0;
  const n = p.parts.length;
  const finish = (status: "delivered" | "failed", error: string | null): DeliveryResult => {
    const safe = error === null ? null : redact(error);
    o.recorder.finish(deliveryId, { status, attempts, latencyMs, error: safe });
    return { channel: t.name, type: t.def.type, status, attempts, parts: Math.max(1, n), latencyMs, error: safe };
  };
  if (p.error) return finish("failed", p.error);
  const where = (i: number) => (n > 1 ? `part ${i + 1}/${n}: ` : "");
  const done = n > 1 ? t.resume?.get(n) : undefined;

  for (let i = 0; i < n; i++) {
    if (done?.has(i + 1)) continue;
    for (let attempt = 1; ; attempt++) {
      // Wait for a rate-limit slot shared with every other pp process.
      let announced = false;
      for (;;) {
        const wait = o.limiter.acquire(key, t.rates, clock());
        if (wait === 0) break;
        if (clock() + wait > o.deadline || signal.aborted) {
          const why = t.rateText ? `limit ${t.rateText}` : "the platform asked to slow down";
          return finish("failed", `${where(i)}deadline reached: the next rate-limit slot is ${fmtMs(wait)} away (${why})`);
        }
        if (wait > 1000 && !announced) {
          o.onEvent?.({ type: "wait", channel: t.name, ms: wait, reason: "rate_limit" });
          announced = true;
        }
        await sleep(wait, signal);
      }
      const now = clock();
      const req = t.def.build(p.parts[i]!, { title: p.titles[i], format: msg.format, index: i, total: n, now }, t.opts);
      const remaining = o.deadline - now;
      const res = await exchange(req, Math.min(t.timeoutMs, Math.max(1, remaining)), signal);
      attempts++;
      latencyMs += res.latencyMs;
      const outcome: Outcome = res.ok
        ? t.def.classify(res.response, t.opts)
        : { kind: "retryable", error: res.kind === "timeout" && remaining < t.timeoutMs ? "deadline reached during the request" : res.error };
      const error = outcome.kind === "ok" ? null : redact(describe(outcome));
      o.recorder.attempt({
        deliveryId,
        part: i + 1,
        attempt,
        startedAt: now,
        latencyMs: res.latencyMs,
        httpStatus: res.ok ? res.response.status : null,
        outcome: outcome.kind,
        error,
        response: res.ok ? redact(res.response.body).slice(0, 2000) : null,
      });
      o.onEvent?.({ type: "attempt", channel: t.name, part: i + 1, parts: n, attempt, outcome });
      if (outcome.kind === "ok") {
        if (outcome.retryAfterMs) o.limiter.block(key, clock() + outcome.retryAfterMs);
        break;
      }
      if (outcome.kind === "permanent") return finish("failed", `${where(i)}${error}`);
      if (outcome.kind === "rate_limited" && outcome.retryAfterMs) o.limiter.block(key, clock() + outcome.retryAfterMs);
      if (attempt > t.retries) {
        return finish("failed", `${where(i)}${error} (gave up after ${attempt} attempt${attempt > 1 ? "s" : ""})`);
      }
      const wait = backoff(attempt, outcome, random);
      if (signal.aborted || clock() + wait > o.deadline) {
        return finish("failed", `${where(i)}${error} (deadline reached before retry ${attempt})`);
      }
      if (wait > 1000) o.onEvent?.({ type: "wait", channel: t.name, ms: wait, reason: "retry" });
      await sleep(wait, signal);
    }
  }
  return finish("delivered", null);
}

/** A platform that says "too fast" without saying how long to wait is not asked again within this. */
const RATE_LIMITED_MIN_WAIT = 1000;

/** Exponential backoff with jitter; a platform's own "retry after" wins when it asks for longer. */
export function backoff(attempt: number, outcome: Outcome, random: () => number): number {
  const base = Math.min(30_000, 500 * 2 ** (attempt - 1));
  const jittered = Math.round(base / 2 + random() * (base / 2));
  if (outcome.retryAfterMs !== undefined) return Math.max(outcome.retryAfterMs, outcome.kind === "rate_limited" ? 0 : jittered);
  return outcome.kind === "rate_limited" ? Math.max(RATE_LIMITED_MIN_WAIT, jittered) : jittered;
}

function describe(o: Outcome): string {
  const text = o.error ?? o.kind;
  if (o.code === undefined || text.startsWith(String(o.code))) return text;
  return `${o.code} ${text}`;
}

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 59_500) return `${(ms / 1000).toFixed(ms < 9_950 ? 1 : 0)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${s % 60}s`;
}
