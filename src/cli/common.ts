import { fmtMs, STORE_WAIT_MS, type DeliveryResult, type DispatchEvent, type DispatchResult } from "../core/dispatch.ts";
import type { AlertOutcome } from "../core/fallback.ts";
import type { Recorder } from "../core/ports.ts";
import { EXIT_STORE, EXIT_UNRECORDED, storeError } from "../store/errors.ts";
import type { PushLog } from "../store/pushlog.ts";
import { parseDurationArg } from "./flags.ts";
import { bad, c, clean, cleanLine, err, ok } from "./out.ts";

export { deadlineMs, MAX_LIMIT, parseDurationArg, parseLimit, parseSince } from "./flags.ts";

/** Tells the user on stderr why a send is slow, when it is. */
export function waitReporter(quiet: boolean) {
  return (e: DispatchEvent) => {
    if (quiet || e.type !== "wait") return;
    const why = `${e.reason === "rate_limit" ? "for a rate-limit slot" : "before retrying"}${e.cause ? ` (${e.cause})` : ""}`;
    err(`pp: ${e.channel}: waiting ${fmtMs(e.ms)} ${why}`);
  };
}

/** Exit status for each signal pp stops on (128 + its number). */
const SIGNALS = new Map<NodeJS.Signals, number>([["SIGHUP", 129], ["SIGINT", 130], ["SIGTERM", 143]]);

export interface Interruptible {
  recorder: Recorder;
  /** Aborted on the first SIGINT, SIGTERM or SIGHUP, with "interrupted by SIGxxx" as its reason. */
  interrupt: AbortSignal;
  /** The exit status the first signal asks for (129, 130, 143), once one came. */
  signalled(): number | undefined;
}

/**
 * The push log as the recorder of a CLI send or replay, and the signals that stop it. The handlers are installed
 * once a message is recorded: before that the default action ends pp at once (Ctrl-C while the store is locked),
 * with nothing sent. The first signal stops anything new from starting and lets requests in flight finish, so
 * their real outcome is recorded; a second one exits at once, recording those requests as uncertain (the
 * platform may have them) and what never started as failed.
 */
export function interruptible(log: PushLog, storeWait: number): Interruptible {
  const begun: string[] = [];
  // Recording a message may wait for the lock as long as the store allows; once sending has begun, one write
  // waits briefly and the core retries it for up to storeWait, asynchronously.
  const patient = log.busyTimeout();
  const brief = Math.min(STORE_BUSY_SLICE_MS, storeWait);
  const ctl = new AbortController();
  let first: { name: NodeJS.Signals; code: number } | undefined;
  let installed = false;
  const onSignal = (name: NodeJS.Signals) => {
    if (!first) {
      first = { name, code: SIGNALS.get(name)! };
      ctl.abort(`interrupted by ${name}`);
      return;
    }
    try {
      log.abandon(begun, `interrupted by a second ${name} while a request was in flight: the platform may have received it`, `interrupted by ${first.name} before sending`);
    } catch {
      // The store cannot be written: those deliveries stay pending, and count as abandoned once this process is gone.
    }
    // The id is normally printed at the end; this exit comes before it.
    for (const id of begun) err(`pp: stopped by a second ${name}: message ${id} is not finished; its requests in flight are uncertain (see pp log show ${id})`);
    process.exit(first.code);
  };
  const install = () => {
    if (installed) return;
    installed = true;
    for (const name of SIGNALS.keys()) process.on(name, onSignal);
  };
  return {
    interrupt: ctl.signal,
    signalled: () => first?.code,
    recorder: {
      begin: (m, d, o) => {
        log.busyTimeout(patient);
        const b = log.begin(m, d, o);
        log.busyTimeout(brief);
        begun.push(m.id);
        install();
        return b;
      },
      sending: (a) => log.sending(a),
      answered: (id, a) => log.answered(id, a),
      finish: (id, f) => log.finish(id, f),
    },
  };
}

const STORE_BUSY_SLICE_MS = 250;

/** $PP_STORE_WAIT, else 10 s: how long a push-log write that fails is tried again once sending has begun. */
export function storeWaitMs(): number {
  const env = process.env.PP_STORE_WAIT;
  return env ? parseDurationArg("PP_STORE_WAIT", env) : STORE_WAIT_MS;
}

/**
 * For exit 4: the push log could not be written after sending began. Says so in one line, then gives the message
 * id and each channel's real outcome, one line each, so nothing is lost with the record.
 */
export function reportUnrecorded(e: unknown, dbPath: string, results: DispatchResult[]): number {
  const sent = results.some((r) => r.deliveries.some((d) => d.sent));
  if (!sent) {
    err(`pp: ${storeError(e, dbPath, "record a request before sending it").message}; nothing was sent`);
    return EXIT_STORE;
  }
  err(`pp: ${storeError(e, dbPath, "record the outcome").message}`);
  for (const r of results) {
    err(`pp: message ${r.id} went out, but the push log may not show how; what really happened (no replay will send an accepted part again):`);
    for (const d of r.deliveries) err(deliveryLine(d));
  }
  return EXIT_UNRECORDED;
}

/** One status line per delivery, for stderr: ✔ name 12ms (2 parts, 3 attempts) or ✖ name error. */
export function deliveryLine(d: DeliveryResult): string {
  if (d.status === "skipped") return `${c.dim("-")} ${clean(d.channel)} ${c.dim(`skipped: ${clean(d.error ?? "")}`)}`;
  if (d.status === "uncertain") return `${c.yellow("?")} ${clean(d.channel)} ${c.yellow(clean(d.error ?? "uncertain"))}`;
  if (d.status !== "delivered") return bad(`${clean(d.channel)} ${c.red(cleanLine(d.error ?? "failed"))}`);
  const parts = d.parts > 1 ? `, ${d.parts} parts` : "";
  const tries = d.attempts > 1 ? `, ${d.attempts} attempts` : "";
  // Delivered with a warning: the platform took it but could not reach every recipient.
  const warning = d.error ? ` ${c.yellow(cleanLine(d.error))}` : "";
  return ok(`${clean(d.channel)} ${c.dim(`${d.latencyMs}ms${parts}${tries}`)}${warning}`);
}

/**
 * The note lines for fallback alerts (stderr): each alert's id, the channel it is about, then its deliveries.
 * The exit status stays that of the message's own deliveries.
 */
export function alertLines(alerts: readonly AlertOutcome[]): string[] {
  const lines: string[] = [];
  for (const a of alerts) {
    if (!a.result) {
      lines.push(`pp: fallback alert about ${clean(a.about)} not sent: ${cleanLine(a.error ?? "unknown error")}`);
      continue;
    }
    const ds = a.result.deliveries;
    const ok = ds.filter((d) => d.status === "delivered").length;
    const how = ok === ds.length ? "sent" : ok === 0 ? "failed" : "partly sent";
    lines.push(c.dim(`pp: ${clean(a.about)} failed: fallback alert ${a.result.id} ${how} (pp log show ${a.result.id})`));
    for (const d of ds) lines.push(`  ${deliveryLine(d)}`);
  }
  return lines;
}

/** Fallback alerts in `--json` answers. */
export function alertsJson(alerts: readonly AlertOutcome[]) {
  return alerts.map((a) => ({
    about: a.about,
    id: a.result?.id ?? null,
    error: a.error ?? null,
    deliveries: (a.result?.deliveries ?? []).map((d) => ({ channel: d.channel, status: d.status, attempts: d.attempts, error: d.error })),
  }));
}
