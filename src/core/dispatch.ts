import type { Credential } from "./auth.ts";
import { exchange, type Exchange } from "./http.ts";
import { settle, type Settled } from "./wait.ts";
import type { Limiter, MessageRecord, RateLimit, Recorder, TokenCache } from "./ports.ts";
import { clip, ERROR_MAX, redactor, RESPONSE_MAX } from "./redact.ts";
import { chars, jsonBytes, split, utf8Bytes } from "./split.ts";
import { describeRoute, route } from "./proxy.ts";
import type { ChannelDef, Format, HttpRequest, Mentions, Outcome, PartContext } from "./types.ts";

// What only some messages need loads when one does (literal paths, which the compiled binary bundles): access
// tokens for channels with `auth`, the mentions for --at, the converters for HTML and JSON.
const auth = () => require("./auth.ts") as typeof import("./auth.ts");

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
  | { type: "wait"; channel: string; ms: number; reason: "rate_limit" | "retry"; cause?: string }
  | { type: "attempt"; channel: string; part: number; parts: number; attempt: number; outcome: Outcome | { kind: "retryable"; error: string } }
  // Only with DispatchOptions.trace: each request as it goes out and its answer, redacted as shownRequest does.
  | { type: "request"; channel: string; part: number; parts: number; attempt: number; request: ShownRequest }
  | { type: "answer"; channel: string; part: number; parts: number; attempt: number; status: number | null; latencyMs: number; body: string | null; error: string | null };

/** A request as pp shows it (--dry-run, --verbose): no secret in the URL, headers or body, no signature. */
export interface ShownRequest {
  method: string; url: string; headers: Record<string, string>; body?: string;
  /** The proxy it goes through ("via proxy http://***@host:3128"), when it goes through one. */
  via?: string;
}

export function shownRequest(t: Target, req: HttpRequest, redact: (s: string) => string): ShownRequest {
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, redact(v)]));
  // fetch turns a user:password in the URL into this header; show that it goes, not its value.
  if (URL.canParse(req.url) && new URL(req.url).username && !Object.keys(headers).some((k) => k.toLowerCase() === "authorization")) {
    headers.Authorization = "Basic ***";
  }
  // A signature is derived from the secret; it is not shown either.
  const body = req.body === undefined ? undefined : redact(req.body).replace(/("sign"\s*:\s*")[^"]*"/g, '$1***"');
  const via = req.transport === "smtp" ? undefined : describeRoute(route(req.url, t.opts?.proxy));
  return { method: req.method, url: redact(t.def.target(t.opts, req.url)), headers, ...(body === undefined ? {} : { body }), ...(via ? { via: redact(via) } : {}) };
}

export interface DeliveryResult {
  channel: string;
  type: string;
  /**
   * What really happened, whatever the push log could record. `uncertain`: the platform may have it. `skipped`: a
   * replay left it alone, because another delivery of the same message delivered it, is sending it or may have.
   */
  status: "delivered" | "failed" | "uncertain" | "skipped" | "expired";
  /** Why it was skipped. */
  skip?: "delivered" | "sending" | "uncertain";
  attempts: number;
  parts: number;
  latencyMs: number;
  error: string | null;
  /** Whether the push log holds this outcome (false when the store could not be written, see DispatchResult.unrecorded). */
  recorded: boolean;
  /** Whether any request for it went out. */
  sent: boolean;
}

export interface DispatchResult {
  id: string;
  deliveries: DeliveryResult[];
  /** For a replay, the original message. */
  replayOf?: string;
  /** The store's error, when the push log could not be written after the message was recorded; sending stopped there. */
  unrecorded?: unknown;
  /** The interrupt's reason, when one stopped the dispatch. */
  interrupted?: string;
}

export interface DispatchOptions {
  recorder: Recorder;
  limiter: Limiter;
  /**
   * Where access tokens (ChannelDef.auth) are shared with every pp process. Without it each delivery asks the
   * platform for a token of its own, and keeps it in memory.
   */
  tokens?: TokenCache;
  /** Unix ms after which nothing more is attempted; what is left is recorded as failed. */
  deadline: number;
  onEvent?: (e: DispatchEvent) => void;
  /**
   * Aborted to stop: nothing new starts (waits end at once), requests in flight finish and their real outcome is
   * recorded; what never started is recorded failed with the reason (a string such as "interrupted by SIGTERM").
   */
  interrupt?: AbortSignal;
  /** How long a push-log write that fails is tried again before pp stops sending (default STORE_WAIT_MS). */
  storeWaitMs?: number;
  /** A replay: claim each channel for the original message first (Recorder.begin). */
  claim?: { force: boolean; uncertain: boolean };
  /** Injected by tests: a clock whose sleep advances time without waiting, and a fixed jitter. */
  clock?: Clock;
  random?: () => number;
  /**
   * Every configured channel's secrets (secretsOf): each answer and error is cleaned of all of them, not only
   * of its own channel's, since a platform or relay may echo another channel's key.
   */
  secrets?: readonly string[];
  /** Emit `request` and `answer` events (pp send --verbose). */
  trace?: boolean;
}

/** The parts of one message for one channel, rendered and split to fit the platform's limit. */
export interface Plan {
  parts: string[];
  titles: (string | undefined)[];
  error?: string;
}

const PROBE = 99;

/** What a channel is told about one part; mentions ride on the first part only, so a split message pings once. */
export function partContext(title: string | undefined, format: Format, index: number, total: number, now: number, at?: Mentions): PartContext {
  return { title, format, index, total, now, ...(index === 0 && at ? { at } : {}) };
}

/**
 * Renders the message in the channel's dialect and splits it so every request fits the platform's limit. Mentions
 * (`at`) go on the first part, and the room they take is counted.
 */
export function plan(t: Target, title: string | undefined, text: string, format: Format, now: number, at?: Mentions): Plan {
  const { def, opts } = t;
  let rendered: string;
  try {
    rendered = def.render(text, format, opts);
  } catch (e) {
    return { parts: [], titles: [], error: `cannot render the message: ${(e as Error).message}` };
  }
  const limit = def.limit(opts, { format, hasTitle: title !== undefined });
  const build = (part: string, ptitle: string | undefined, index: number, total: number): HttpRequest =>
    def.build(part, partContext(ptitle, format, index, total, now, at), opts);
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
    // A loop, not Math.max(...spread): a megabyte can split into more parts than a call may take arguments.
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, size(build(parts[i]!, titles[i], i, n)));
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
  const storeWaitMs = o.storeWaitMs ?? STORE_WAIT_MS;
  // Throws when the message cannot be recorded: then nothing is sent.
  const begun = o.recorder.begin(
    msg,
    // How many parts each channel needs is known once it is planned, in its own task; the first request records it.
    targets.map((t) => ({ channel: t.name, type: t.def.type, target: t.def.target(t.opts), parts: 1 })),
    { leaseUntil: o.deadline + storeWaitMs + LEASE_MARGIN_MS, ...(o.claim ? { claim: o.claim } : {}) },
  );
  const { run, timer } = startRun(o, storeWaitMs);
  try {
    // Each delivery renders in its own turn of the event loop, in the order they start: the channels that take
    // the text as written start first, so their requests are out before the others' rendering begins.
    const order = targets.map((_, i) => i).sort((a, b) => Number(!targets[a]!.def.verbatim) - Number(!targets[b]!.def.verbatim));
    const started: Promise<DeliveryResult>[] = [];
    for (const i of order) {
      const t = targets[i]!;
      const b = begun[i]!;
      started[i] = b.id === null
        ? Promise.resolve({ channel: t.name, type: t.def.type, status: "skipped", skip: b.skip, attempts: 0, parts: 1, latencyMs: 0, error: b.reason, recorded: true, sent: false })
        : deliver(t, b.id, b.accepted ?? t.resume, msg, o, run);
    }
    const deliveries = await Promise.all(started);
    const result: DispatchResult = { id: msg.id, deliveries };
    if (msg.replayOf !== undefined) result.replayOf = msg.replayOf;
    if (run.storeError !== undefined) result.unrecorded = run.storeError;
    if (o.interrupt?.aborted) result.interrupted = String(o.interrupt.reason);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function startRun(o: DispatchOptions, storeWaitMs: number): { run: Run; timer: ReturnType<typeof setTimeout> } {
  const stop = new AbortController();
  const lost = new AbortController();
  // setTimeout fires at once for anything over 2^31-1 ms (24.8 days): never hand it more.
  const timer = setTimeout(() => stop.abort(), Math.min(MAX_TIMER_MS, Math.max(0, o.deadline - (o.clock?.now() ?? Date.now()))));
  const run: Run = {
    deadline: stop.signal,
    halt: AbortSignal.any([stop.signal, lost.signal, ...(o.interrupt ? [o.interrupt] : [])]),
    lost,
    storeWaitMs,
  };
  return { run, timer };
}

/** For a delivery taken from the daemon's queue. */
export interface QueuedOptions extends Omit<DispatchOptions, "claim" | "trace"> {
  /** A wait (rate limit or retry) longer than this is not slept: the delivery is handed back, deferred. */
  deferAfterMs: number;
  /** Retries after a retryable failure, in place of the channel's (the daemon's: until the deadline). */
  retries?: number;
  /** The wait before the next attempt, in place of backoff(). */
  backoff?: (attempt: number, outcome: Outcome, random: () => number) => number;
  /** What reaching the deadline makes of it: `expired` when the message's own expiry set the deadline. */
  deadlineStatus: "failed" | "expired";
  /** Tries already made, by part, when the message was split into `parts` parts: retries count on from there. */
  tried?: { parts: number; byPart: ReadonlyMap<number, number> };
  /** Parts already accepted, by how many parts the message was split into: they are not sent again. */
  accepted?: ReadonlyMap<number, ReadonlySet<number>>;
}

/** A queued delivery that has to wait: back to the queue, due at `until`; `reason` says why, for the push log. */
export interface Deferred {
  channel: string;
  type: string;
  status: "deferred";
  until: number;
  reason: string;
  /** What it waits for: a rate-limit slot or a platform's block, a retry's backoff, or a stop of the daemon. */
  cause: "rate_limit" | "retry" | "interrupt";
  /** Requests made in this run. */
  attempts: number;
  sent: boolean;
}

/**
 * Runs one delivery that the daemon's queue already recorded, through the same loop as dispatch(): rate limit,
 * write-ahead attempts, classification, retries, deadline. Rather than sleeping through a long wait it returns
 * Deferred, and on an interrupt it returns Deferred for now, so the delivery goes back to the queue.
 */
export async function deliverQueued(msg: Outgoing, t: Target, deliveryId: number, o: QueuedOptions): Promise<DeliveryResult | Deferred> {
  const { run, timer } = startRun(o, o.storeWaitMs ?? STORE_WAIT_MS);
  try {
    return await deliver(t, deliveryId, o.accepted, msg, o, run, o);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a failing push-log write is tried again (the store locked by another process, a disk briefly full). */
export const STORE_WAIT_MS = 10_000;
/** A pending delivery counts as abandoned this long after its deadline (and store waits) even if its process lives on. */
export const LEASE_MARGIN_MS = 60_000;

/** What the deliveries of one dispatch share. */
interface Run {
  /** Aborted at the deadline: requests in flight are cut off. */
  deadline: AbortSignal;
  /** Aborted at the deadline, on an interrupt or when the store is lost: nothing new starts, waits end. */
  halt: AbortSignal;
  lost: AbortController;
  /** The first store error that outlasted storeWaitMs. */
  storeError?: unknown;
  storeWaitMs: number;
}

const NEVER = new AbortController().signal;

/**
 * Runs a push-log write, trying again with backoff (asynchronously, so signals are still handled) for up to
 * storeWaitMs. Once a write has given up, later ones are tried once: the store is not coming back in this run.
 */
async function persist<T>(write: () => T, run: Run, clock: () => number, sleep: Clock["sleep"]): Promise<{ ok: true; value: T } | { ok: false }> {
  const until = clock() + run.storeWaitMs;
  for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
    try {
      return { ok: true, value: write() };
    } catch (e) {
      if (run.storeError !== undefined || clock() + pause > until) {
        if (run.storeError === undefined) {
          run.storeError = e;
          run.lost.abort();
        }
        return { ok: false };
      }
      await sleep(pause, NEVER);
    }
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

/** Resolves on a later turn of the event loop, after the requests that other tasks have ready have gone out. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function deliver(
  t: Target, deliveryId: number, accepted: Target["resume"], msg: Outgoing, o: DispatchOptions, run: Run,
): Promise<DeliveryResult>;
async function deliver(
  t: Target, deliveryId: number, accepted: Target["resume"], msg: Outgoing, o: DispatchOptions, run: Run, queued: QueuedOptions,
): Promise<DeliveryResult | Deferred>;
async function deliver(
  t: Target, deliveryId: number, accepted: Target["resume"], msg: Outgoing, o: DispatchOptions, run: Run, queued?: QueuedOptions,
): Promise<DeliveryResult | Deferred> {
  const { now: clock, sleep } = o.clock ?? { now: Date.now, sleep: realSleep };
  const signal = run.deadline;
  const write = <T>(w: () => T) => persist(w, run, clock, sleep);
  const random = o.random ?? Math.random;
  const secrets = [...t.def.secrets(t.opts), ...(o.secrets ?? [])];
  const tokens = t.def.auth ? (o.tokens ?? auth().memoryTokens()) : undefined;
  let redact = redactor(secrets);
  const key = t.def.rateKey(t.opts);
  let attempts = 0;
  let latencyMs = 0;
  let sent = false;
  // Each channel renders in a turn of its own, after the requests other channels have ready went out: rendering
  // a long message for one channel never holds back another's request.
  await nextTurn();
  const at = msg.at?.length ? (require("./mentions.ts") as typeof import("./mentions.ts")).mentionsOf(msg.at) : undefined;
  // HTML and JSON become Markdown or text here, once per message, whichever way it came (send, replay, queue).
  const input = msg.format === "text" || msg.format === "markdown" ? { text: msg.text, format: msg.format } : (require("./format.ts") as typeof import("./format.ts")).channelInput(msg);
  const p = plan(t, msg.title, input.text, input.format, msg.createdAt, at);
  const n = p.parts.length;
  const finish = async (status: "delivered" | "failed" | "uncertain" | "expired", error: string | null): Promise<DeliveryResult> => {
    const safe = error === null ? null : redact(error);
    const w = await write(() => o.recorder.finish(deliveryId, { status, attempts, latencyMs, error: safe }));
    return { channel: t.name, type: t.def.type, status, attempts, parts: Math.max(1, n), latencyMs, error: safe, recorded: w.ok, sent };
  };
  /** Ended by the deadline: failed, or for a queued message whose expiry it was, expired. */
  const timeUp = (error: string) => finish(queued?.deadlineStatus ?? "failed", error);
  const defer = (until: number, reason: string, cause: Deferred["cause"]): Deferred =>
    ({ channel: t.name, type: t.def.type, status: "deferred", until, reason: redact(reason), cause, attempts, sent });
  /** A queued delivery goes back to the queue when the daemon stops, rather than failing. */
  const interrupted = (): Deferred | undefined =>
    queued && run.storeError === undefined && o.interrupt?.aborted ? defer(clock(), `${String(o.interrupt.reason)}; queued again`, "interrupt") : undefined;
  if (p.error) return finish("failed", p.error);
  if (signal.aborted) return timeUp("deadline reached while rendering the message, before sending");
  const where = (i: number) => (n > 1 ? `part ${i + 1}/${n}: ` : "");
  // Why nothing more starts, when something stops it: an interrupt, or a push log that cannot be written.
  const stopReason = (): string | undefined =>
    run.storeError !== undefined ? "the push log cannot be written" : o.interrupt?.aborted ? String(o.interrupt.reason) : undefined;
  const halted = (): string | undefined => {
    const why = stopReason();
    return why === undefined ? undefined : run.storeError !== undefined ? `not sent: ${why}` : `${why} before sending`;
  };
  const unwritable = (i: number) => finish("failed", `${where(i)}not sent: the push log cannot be written`);
  const done = accepted?.get(n);

  const tried = queued?.tried?.parts === n ? queued.tried.byPart : undefined;
  const warnings: string[] = [];
  for (let i = 0; i < n; i++) {
    if (done?.has(i + 1)) continue;
    let lastError = "";
    const first = (tried?.get(i + 1) ?? 0) + 1;
    for (let attempt = first; ; attempt++) {
      const back = interrupted();
      if (back) return back;
      const stopped = halted();
      if (stopped) return finish("failed", `${where(i)}${attempt === first ? stopped : `${lastError} (not retried: ${stopReason()})`}`);
      // Wait for a rate-limit slot shared with every other pp process.
      let announced = false;
      for (;;) {
        const acquired = await write(() => o.limiter.acquire(key, t.rates, clock()));
        if (!acquired.ok) return unwritable(i);
        const { ms: wait, block } = acquired.value;
        if (wait === 0) break;
        // A platform's block is named with its cause, so our own limit is not blamed for it.
        const why = () => block ? `${block.cause}; blocked until ${new Date(block.until).toISOString()}` : t.rateText ? `limit ${t.rateText}` : "the platform asked to slow down";
        if (clock() + wait > o.deadline || signal.aborted) {
          return timeUp(`${where(i)}deadline reached: the next rate-limit slot is ${fmtMs(wait)} away (${why()})`);
        }
        if (queued && wait > queued.deferAfterMs) {
          return defer(clock() + wait, `${where(i)}waiting ${fmtMs(wait)} for a rate-limit slot (${why()})`, "rate_limit");
        }
        if (wait > 1000 && !announced) {
          o.onEvent?.({ type: "wait", channel: t.name, ms: wait, reason: "rate_limit", ...(block ? { cause: block.cause } : {}) });
          announced = true;
        }
        await sleep(wait, run.halt);
        const back = interrupted();
        if (back) return back;
        const stop = halted();
        if (stop) return finish("failed", `${where(i)}${stop}`);
      }
      const now = clock();
      // A channel whose requests carry an access token gets it first, before the attempt is recorded: a process
      // killed meanwhile has sent nothing. A token is a secret like the channel's own.
      const cred = t.def.auth ? await auth().credential(t.def, t.opts, tokens, { now, timeoutMs: Math.min(t.timeoutMs, Math.max(1, o.deadline - now)), signal }) : undefined;
      if (cred) {
        // Stopped while the token was on its way: the message itself has not gone out.
        const back = interrupted();
        if (back) return back;
        const stop = halted();
        if (stop) return finish("failed", `${where(i)}${stop}`);
      }
      const withToken = (token: string | undefined) => {
        if (token !== undefined && !secrets.includes(token)) {
          secrets.push(token);
          redact = redactor(secrets);
        }
        return t.def.build(p.parts[i]!, { ...partContext(p.titles[i], input.format, i, n, now, at), ...(token === undefined ? {} : { token }) }, t.opts);
      };
      const req = withToken(cred?.ok ? cred.token : undefined);
      const remaining = o.deadline - clock();
      // Write-ahead: a request that cannot be recorded is not sent; one recorded as sending but never answered
      // (pp killed) is uncertain, and no replay sends it again unasked.
      if (remaining <= 0) return timeUp(`${where(i)}deadline reached before sending`);
      const started = await write(() => o.recorder.sending({ deliveryId, part: i + 1, parts: n, attempt, startedAt: now }));
      if (!started.ok) return unwritable(i);
      sent = true;
      const seq = { channel: t.name, part: i + 1, parts: n, attempt };
      if (o.trace && cred?.ok !== false) o.onEvent?.({ type: "request", ...seq, request: shownRequest(t, req, redact) });
      const { res, outcome, latencyMs: took } = await perform(t, req, cred, withToken, tokens, o.deadline, signal, clock);
      attempts++;
      latencyMs += took;
      // An accepted request may come with a warning (recipients the platform could not reach): kept as its error.
      const error = outcome.kind === "ok" && outcome.error === undefined ? null : clip(redact(describe(outcome)), ERROR_MAX);
      if (o.trace) {
        o.onEvent?.({ type: "answer", ...seq, status: res.ok ? res.response.status : (res.status ?? null), latencyMs: res.latencyMs,
          body: res.ok ? clip(redact(res.response.body), RESPONSE_MAX) : null, error });
      }
      const answered = await write(() => o.recorder.answered(started.value, {
        latencyMs: res.latencyMs,
        httpStatus: res.ok ? res.response.status : (res.status ?? null),
        outcome: outcome.kind,
        error,
        response: res.ok ? clip(redact(res.response.body), RESPONSE_MAX) : null,
      }));
      o.onEvent?.({ type: "attempt", channel: t.name, part: i + 1, parts: n, attempt, outcome: error === null ? outcome : { ...outcome, error } });
      if (!answered.ok) {
        if (outcome.kind !== "ok") return finish("failed", `${where(i)}${error}`);
        if (i === n - 1) return finish("delivered", warned(warnings, where(i), error));
        return unwritable(i + 1);
      }
      if (outcome.kind === "ok") {
        warned(warnings, where(i), error);
        const w = outcome.wait;
        if (w) await write(() => o.limiter.block(key, { since: clock(), until: clock() + w.ms, cause: w.cause }));
        break;
      }
      // A success status whose answer could not be read whole: the platform may well have the message, so a
      // replay must not send it again unasked.
      if (!res.ok && res.uncertain) return finish("uncertain", `${where(i)}${error}`);
      if (outcome.kind === "permanent") return finish("failed", `${where(i)}${error}`);
      const w = outcome.wait;
      if (outcome.kind === "rate_limited" && w) await write(() => o.limiter.block(key, { since: clock(), until: clock() + w.ms, cause: w.cause }));
      if (attempt > (queued?.retries ?? t.retries)) {
        return finish("failed", `${where(i)}${error} (gave up after ${attempt} attempt${attempt > 1 ? "s" : ""})`);
      }
      const wait = (queued?.backoff ?? backoff)(attempt, outcome, random);
      if (signal.aborted || clock() + wait > o.deadline) {
        return timeUp(`${where(i)}${error} (deadline reached before retry ${attempt})`);
      }
      if (queued && wait > queued.deferAfterMs) {
        return defer(clock() + wait, `${where(i)}${error} (attempt ${attempt + 1} in ${fmtMs(wait)})`, "retry");
      }
      if (wait > 1000) o.onEvent?.({ type: "wait", channel: t.name, ms: wait, reason: "retry", ...(outcome.wait ? { cause: outcome.wait.cause } : {}) });
      lastError = error ?? "";
      await sleep(wait, run.halt);
    }
  }
  return finish("delivered", warnings.length ? warnings.join("; ") : null);
}

/** Adds an accepted part's warning (when it has one) to the delivery's, and returns them all as its error. */
function warned(warnings: string[], where: string, warning: string | null): string | null {
  if (warning !== null) warnings.push(`${where}${warning}`);
  return warnings.length ? warnings.join("; ") : null;
}

/**
 * One attempt's exchange: its request, or the failure to get the access token it needs. A token the platform
 * refuses as invalid or expired is replaced and the request sent again at once, within the attempt: the platform
 * turned the first one away unread, so it counts as neither a failure nor a retry.
 */
async function perform(
  t: Target, req: HttpRequest, cred: Credential | undefined, withToken: (token: string) => HttpRequest, tokens: TokenCache | undefined,
  deadline: number, signal: AbortSignal, clock: () => number,
): Promise<{ res: Exchange; outcome: Settled; latencyMs: number }> {
  if (cred && !cred.ok) return { res: cred.res, outcome: cred.outcome, latencyMs: cred.latencyMs };
  const send = async (r: HttpRequest) => {
    const left = deadline - clock();
    const res = await exchange(r, Math.min(t.timeoutMs, Math.max(1, left)), signal, t.opts?.proxy);
    return { res, outcome: settle(t.def, t.opts, res, left < t.timeoutMs) };
  };
  const first = await send(req);
  let latencyMs = (cred?.latencyMs ?? 0) + first.res.latencyMs;
  if (!cred || !t.def.auth!.invalid(first.outcome)) return { ...first, latencyMs };
  const fresh = await auth().credential(t.def, t.opts, tokens, { now: clock(), timeoutMs: Math.min(t.timeoutMs, Math.max(1, deadline - clock())), signal, stale: cred.token });
  latencyMs += fresh.latencyMs;
  if (!fresh.ok) return { res: fresh.res, outcome: fresh.outcome, latencyMs };
  const again = await send(withToken(fresh.token));
  return { ...again, latencyMs: latencyMs + again.res.latencyMs };
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
