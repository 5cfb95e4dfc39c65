import type { LogRow, MessageDetail } from "./pushlog.ts";

/**
 * The push log as JSON, in one shape for every surface: `pp log --json`, `pp log show --json` and the daemon's
 * API (GET /api/messages). Times are ISO-8601 strings.
 */
const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : iso(ms));

export type RowView = ReturnType<typeof jsonRow>;

export function jsonRow(r: LogRow) {
  return {
    id: r.id, channel: r.channel, type: r.type, status: r.status, attempts: r.attempts, parts: r.parts, latency_ms: r.latency_ms,
    error: r.error, created_at: iso(r.created_at), updated_at: iso(r.updated_at), title: r.title, text: r.text, format: r.format,
    replay_of: r.replay_of, possible_duplicate: r.possible_duplicate === 1,
    // Only a queued delivery is waiting for a time; once it ran, when it was due says nothing more.
    due_at: r.status === "queued" ? isoOrNull(r.due_at) : null,
  };
}

export type MessageView = ReturnType<typeof messageJson>;

/** One message with every delivery and attempt (`pp log show --json`). */
export function messageJson(m: MessageDetail) {
  const cb = m.callback;
  return {
    ...m.message, created_at: iso(m.message.created_at), expires_at: isoOrNull(m.message.expires_at), request_id: m.message.request_id ?? null,
    at: m.at ?? [],
    deliveries: m.deliveries.map((d) => ({
      ...jsonRow(d), target: d.target,
      attempts_log: d.attempts_log.map((a) => ({ ...a, started_at: iso(a.started_at) })),
    })),
    callback: cb
      ? { status: cb.status, attempts: cb.attempts, due_at: cb.status === "queued" ? isoOrNull(cb.due_at) : null, http_status: cb.http_status, error: cb.error, updated_at: iso(cb.updated_at) }
      : null,
  };
}
