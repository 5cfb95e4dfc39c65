import type { LogRow, MessageDetail } from "./pushlog.ts";

/**
 * The push log as JSON, in one shape for every surface: `pp log --json`, `pp log show --json` and the daemon's
 * API (GET /api/messages). Times are ISO-8601 strings.
 */
const iso = (ms: number) => new Date(ms).toISOString();

export type RowView = ReturnType<typeof jsonRow>;

export function jsonRow(r: LogRow) {
  return {
    id: r.id, channel: r.channel, type: r.type, status: r.status, attempts: r.attempts, parts: r.parts, latency_ms: r.latency_ms,
    error: r.error, created_at: iso(r.created_at), updated_at: iso(r.updated_at), title: r.title, text: r.text, format: r.format,
    replay_of: r.replay_of,
  };
}

export type MessageView = ReturnType<typeof messageJson>;

/** One message with every delivery and attempt (`pp log show --json`). */
export function messageJson(m: MessageDetail) {
  return {
    ...m.message, created_at: iso(m.message.created_at),
    deliveries: m.deliveries.map((d) => ({
      ...jsonRow(d), target: d.target,
      attempts_log: d.attempts_log.map((a) => ({ ...a, started_at: iso(a.started_at) })),
    })),
  };
}
