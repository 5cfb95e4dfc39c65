/**
 * Fallback alerts: when a delivery to a channel finally fails (retries used up, the deadline reached, or an error
 * retrying cannot fix), a short alert naming the channel, the error and the message goes out through the channel's
 * fallback channels. `pp send`, `pp replay` and the daemon's workers all build their alerts here.
 *
 * An alert is a push-log message of its own, with source "fallback". It is linked to the message it is about by
 * its first line, which names that message's id; the push log finds an original's alerts by that line. An alert,
 * and any replay of one, never raises another alert, and a fallback channel that failed for the same message is
 * left out of that message's alerts: no loops, and no alert sent where it cannot arrive.
 */
import type { Config } from "../config/load.ts";
import { distinctTargets } from "../config/targets.ts";
import { dispatch, type DispatchEvent, type DispatchOptions, type DispatchResult, type Target } from "./dispatch.ts";
import { newId } from "./id.ts";
import type { Enqueue, EnqueueResult, Limiter, MessageRecord, Recorder } from "./ports.ts";
import { clip, redactor } from "./redact.ts";
import { ALERT_SOURCE, alertPrefix } from "./alert.ts";

export { ALERT_SOURCE, ALERT_WINDOW_MS, alertOrigin, alertPrefix } from "./alert.ts";

/** How much of the original text an alert quotes: enough to recognise the message, short enough for any platform. */
export const EXCERPT_MAX = 500;
/** How much of the original title an alert quotes. */
const TITLE_MAX = 200;

/** What failed: one delivery of the original message. */
export interface Failure {
  channel: string;
  type: string;
  error: string | null;
}

/** The original message as an alert quotes it. */
export interface Original {
  id: string;
  title?: string | null;
  text: string;
}

/** One alert to send: about `failure`, through `targets`. */
export interface Alert {
  failure: Failure;
  message: MessageRecord;
  targets: Target[];
}

/** The fallback names in force for a channel: its own list, else `[defaults] fallback`. */
export function fallbackNames(cfg: Config, channel: string): string[] {
  return cfg.fallback.channels.get(channel) ?? cfg.fallback.defaults;
}

/**
 * The channels an alert about `channel` goes to: its fallback names expanded, each destination once, without the
 * channel itself and without `failed` (the channels that failed for the same message).
 */
export function fallbackTargets(cfg: Config, channel: string, failed: ReadonlySet<string>): Target[] {
  const names = fallbackNames(cfg, channel);
  if (names.length === 0) return [];
  return distinctTargets(cfg, names).filter((t) => t.name !== channel && !failed.has(t.name));
}

/** The alert's title and text: the channel, its error and the original (title, and the text cut to EXCERPT_MAX). */
export function alertContent(original: Original, failure: Failure, secrets: readonly string[]): { title: string; text: string } {
  const redact = redactor(secrets);
  // Redacted before any cut, so no head of a secret is left where the whole one no longer matches.
  const excerpt = clip(redact(original.text), EXCERPT_MAX);
  const lines = [
    `${alertPrefix(original.id)}${failure.channel} (${failure.type}).`,
    `Error: ${failure.error ?? "failed"}`,
  ];
  if (original.title) lines.push(`Title: ${clip(redact(original.title), TITLE_MAX)}`);
  lines.push("Text:", excerpt);
  // The error was redacted when it was recorded, with that run's secrets; the config in force may hold more.
  return { title: redact(`pp: delivery to ${failure.channel} failed`), text: redact(lines.join("\n")) };
}

/**
 * The alerts for a message's failed deliveries: one per failed channel that has fallback channels left once the
 * message's other failed channels are taken out. None when the message is itself an alert or a replay of one.
 */
export function planAlerts(
  cfg: Config, original: Original, failures: Failure[], o: { isAlert: boolean; failed: Iterable<string>; secrets: readonly string[]; now?: number },
): Alert[] {
  if (o.isAlert) return [];
  const failed = new Set(o.failed);
  const alerts: Alert[] = [];
  for (const f of failures) {
    const targets = fallbackTargets(cfg, f.channel, failed);
    if (targets.length === 0) continue;
    const now = o.now ?? Date.now();
    const { title, text } = alertContent(original, f, o.secrets);
    alerts.push({
      failure: f,
      message: { id: newId(now), createdAt: now, title, text, format: "text", source: ALERT_SOURCE, targets: fallbackNames(cfg, f.channel) },
      targets,
    });
  }
  return alerts;
}

/** Whether a message is an alert or a replay of one: its failures raise no alert. `sourceOf` reads a message's source. */
export function isAlertFamily(m: { source: string; replayOf?: string | null }, sourceOf: (id: string) => string | undefined): boolean {
  if (m.source === ALERT_SOURCE) return true;
  return m.replayOf !== undefined && m.replayOf !== null && sourceOf(m.replayOf) === ALERT_SOURCE;
}

/** What the CLI reports of one alert: its message id and deliveries, or why it could not be sent. */
export interface AlertOutcome {
  about: string;
  result?: DispatchResult;
  error?: string;
}

export interface SendAlertsOptions {
  recorder: Recorder;
  limiter: Limiter;
  tokens?: DispatchOptions["tokens"];
  /** Each alert's own deadline, from when it starts: the original's may be what ran out. */
  deadlineMs: number;
  secrets: readonly string[];
  interrupt?: AbortSignal;
  storeWaitMs?: number;
  onEvent?: (e: DispatchEvent) => void;
  /** Whether the message (or the original it replays) is an alert. */
  isAlert: boolean;
}

/**
 * `pp send` and `pp replay`: after a message's dispatch, sends the alerts for its failed deliveries through the same
 * dispatch core, all at once. Never throws: an alert that cannot be recorded is reported as such.
 */
export async function sendAlerts(cfg: Config, original: Original, result: DispatchResult, o: SendAlertsOptions): Promise<AlertOutcome[]> {
  // Stopped by a signal, or the push log lost: what failed failed for that reason, and nothing new starts.
  if (o.interrupt?.aborted || result.unrecorded !== undefined || result.interrupted !== undefined) return [];
  const failed = result.deliveries.filter((d) => d.status === "failed");
  const alerts = planAlerts(cfg, original, failed, { isAlert: o.isAlert, failed: failed.map((d) => d.channel), secrets: o.secrets });
  return Promise.all(
    alerts.map(async (a): Promise<AlertOutcome> => {
      try {
        const result = await dispatch(a.message, a.targets, {
          recorder: o.recorder, limiter: o.limiter, deadline: Date.now() + o.deadlineMs, secrets: o.secrets, ...(o.tokens ? { tokens: o.tokens } : {}),
          ...(o.interrupt ? { interrupt: o.interrupt } : {}), ...(o.storeWaitMs !== undefined ? { storeWaitMs: o.storeWaitMs } : {}),
          ...(o.onEvent ? { onEvent: o.onEvent } : {}),
        });
        return { about: a.failure.channel, result };
      } catch (e) {
        return { about: a.failure.channel, error: `the alert could not be recorded: ${String((e as Error)?.message ?? e).split("\n")[0]}` };
      }
    }),
  );
}

/** The store as the daemon's fallback needs it: the push log to read the message, the queue to add the alert. */
export interface AlertQueue {
  enqueue(e: Enqueue): Promise<EnqueueResult>;
  log: {
    get(id: string): {
      message: { id: string; title: string | null; text: string; source: string; replay_of: string | null };
      deliveries: { channel: string; type: string; status: string; error: string | null }[];
    } | null;
  };
}

/**
 * The daemon: a queued delivery of `messageId` to `channel` has ended failed. Queues the alert (source "fallback")
 * for the workers to deliver like any message; resolves to its id, or null when none is due.
 */
export async function queueAlert(queue: AlertQueue, cfg: Config, messageId: string, channel: string, secrets: readonly string[]): Promise<string | null> {
  const detail = queue.log.get(messageId);
  if (!detail) return null;
  const m = detail.message;
  const isAlert = isAlertFamily({ source: m.source, replayOf: m.replay_of }, (id) => queue.log.get(id)?.message.source);
  const mine = detail.deliveries.find((d) => d.channel === channel && d.status === "failed");
  if (!mine) return null;
  const failed = detail.deliveries.filter((d) => d.status === "failed").map((d) => d.channel);
  const [alert] = planAlerts(cfg, { id: m.id, title: m.title, text: m.text }, [{ channel, type: mine.type, error: mine.error }], { isAlert, failed, secrets });
  if (!alert) return null;
  const r = await queue.enqueue({
    message: alert.message,
    deliveries: alert.targets.map((t) => ({ channel: t.name, type: t.def.type, target: t.def.target(t.opts), parts: 1 })),
  });
  return r.kind === "queued" ? r.id : null;
}
