import { parseDuration } from "../../channels/_common.ts";
import type { MessageQuery } from "../../core/ports.ts";
import type { Format } from "../../core/types.ts";
import type { Target } from "../../core/dispatch.ts";
import { bool, names, readFields } from "../body.ts";
import { ApiError, acceptedAnswer, badRequest, json } from "../errors.ts";
import { authorize, draftFrom, submit, targetsOf, type Call } from "../submit.ts";

const body = (call: Call) => () => readFields(call.req, call.ctx.settings().maxBodyBytes);

/** POST /api/text: PostPoint's route (JSON or a form), answered once the message is committed. */
export async function postText(call: Call): Promise<Response> {
  const { caller, fields } = await authorize(call, { read: body(call) });
  const r = await submit(call, caller, draftFrom(call, fields));
  if (r.kind === "nothing") throw new Error("a new message was refused as if it were a replay");
  return acceptedAnswer("native", r.id, r.requestId);
}

const STATUSES = new Set(["queued", "pending", "delivered", "failed", "uncertain", "expired"]);

/** `since`: ISO-8601, epoch milliseconds, or a duration back from now (1h, 2d). */
export function parseSince(s: string, now: number): number {
  if (/^\d{1,16}$/.test(s)) return Number(s);
  if (/^\d+(?:\.\d+)?\s*[a-z]/i.test(s)) {
    try {
      const ago = parseDuration(s);
      if (Number.isFinite(ago)) return Math.max(0, now - ago);
    } catch {}
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw badRequest(`since must be an ISO-8601 time, epoch milliseconds or a duration such as 1h or 2d`);
  return t;
}

/** A yes/no query parameter: 1, true or yes; 0, false, no or empty; absent is no. */
function flag(p: URLSearchParams, name: string): boolean {
  const v = p.get(name);
  if (v === null) return false;
  const l = v.toLowerCase();
  if (l === "1" || l === "true" || l === "yes") return true;
  if (l === "0" || l === "false" || l === "no" || l === "") return false;
  throw badRequest(`${name} must be 1 or 0 (true or false)`);
}

/** `channel` and `since`, as the listing and the statistics read them. */
function windowOf(call: Call): { channel?: string; since?: number } {
  const p = call.url.searchParams;
  const out: { channel?: string; since?: number } = {};
  const channel = p.get("channel");
  if (channel) {
    if (channel.length > 200) throw badRequest("channel is too long");
    out.channel = channel;
  }
  const since = p.get("since");
  if (since) out.since = parseSince(since, call.now());
  return out;
}

/**
 * GET /api/messages: messages newest first, with cursor paging. With failed=1, what `pp log --failed` lists
 * instead: one row per delivery that did not arrive (`pp log --json`'s rows); all=1 keeps those a later replay
 * delivered.
 */
export async function listMessages(call: Call): Promise<Response> {
  await authorize(call);
  const p = call.url.searchParams;
  const failed = flag(p, "failed");
  const all = flag(p, "all");
  if (all && !failed) throw badRequest("all=1 goes with failed=1 (what did not arrive, with what a later replay delivered)");
  const q: MessageQuery = { limit: 20, ...windowOf(call) };
  const status = p.get("status");
  if (status !== null && status !== "") {
    if (failed) throw badRequest("status and failed=1 do not go together: failed=1 lists failed, uncertain, expired and abandoned deliveries");
    if (!STATUSES.has(status)) throw badRequest(`status must be one of ${[...STATUSES].join(", ")}`);
    q.status = status as MessageQuery["status"];
  }
  const limit = p.get("limit");
  if (limit !== null && limit !== "") {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 500) throw badRequest("limit must be a whole number from 1 to 500");
    q.limit = Number(limit);
  }
  const cursor = p.get("cursor");
  if (cursor) {
    if (!/^[A-Za-z0-9_\-.:=~+/]{1,200}$/.test(cursor)) throw badRequest("cursor is not one this server gave");
    q.cursor = cursor;
  }
  const inbox = call.ctx.inbox;
  if (failed && !inbox.undelivered) throw badRequest("this server's store cannot list what did not arrive (failed=1)");
  let page: { data: unknown[]; next: string | null };
  try {
    if (failed) {
      const r = inbox.undelivered!({ ...q, all });
      page = { data: r.rows, next: r.next };
    } else {
      const r = inbox.messages(q);
      page = { data: r.messages, next: r.next };
    }
  } catch (e) {
    // Only a cursor can make a well-formed query fail; without one, the store is at fault.
    if (q.cursor !== undefined) throw badRequest("cursor is not one this server gave");
    throw e;
  }
  return json(200, { code: "ok", msg: "success", id: call.requestId, data: page.data, next_cursor: page.next ?? null });
}

/** GET /api/stats: `pp log --stats --json`'s rows, per channel, for the window. */
export async function stats(call: Call): Promise<Response> {
  await authorize(call);
  const w = windowOf(call);
  if (!call.ctx.inbox.stats) throw badRequest("this server's store cannot count deliveries");
  return json(200, { code: "ok", msg: "success", id: call.requestId, data: call.ctx.inbox.stats(w) });
}

function messageId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new ApiError("not_found", "no such message");
  }
  if (!/^[0-9A-Za-z]{1,64}$/.test(id)) throw new ApiError("not_found", "no such message");
  return id;
}

/** GET /api/messages/{id}: the message with every delivery and attempt, as `pp log show --json`. */
export async function getMessage(call: Call, params: Map<string, string>): Promise<Response> {
  await authorize(call);
  const id = messageId(params.get("id")!);
  const m = call.ctx.inbox.message(id);
  if (!m) throw new ApiError("not_found", `no message with id ${id}`);
  return json(200, { code: "ok", msg: "success", id: m.id, data: m });
}

/** POST /api/messages/{id}/replay: what `pp replay ID` does (`channels` names where, as --ch), through the queue. */
export async function replay(call: Call, params: Map<string, string>): Promise<Response> {
  const { caller, fields } = await authorize(call, { read: body(call) });
  const id = messageId(params.get("id")!);
  const chosen = names(fields, "channels");
  const uncertain = bool(fields, "uncertain") ?? false;
  const m = call.ctx.inbox.message(id);
  if (!m) throw new ApiError("not_found", `no message with id ${id}`);
  const root = m.replay_of ?? m.id;
  const cfg = call.ctx.config();
  let targets: Target[];
  const force = !!chosen?.length;
  if (force) targets = targetsOf(call, chosen!);
  else {
    const went = [...new Set(m.deliveries.map((d) => d.channel))];
    const missing = went.filter((n) => !cfg.channels.has(n));
    if (missing.length) {
      throw badRequest(`message ${m.id} went to ${missing.join(", ")}, which ${missing.length > 1 ? "are" : "is"} no longer configured; name channels to replay it to`);
    }
    targets = went.map((n) => cfg.channels.get(n)!);
  }
  const draft = { text: m.text, title: m.title ?? undefined, format: m.format as Format, names: targets.map((t) => t.name), ...(m.at.length ? { at: m.at } : {}) };
  const r = await submit(call, caller, draft, { replayOf: root, claim: { force, uncertain }, targets });
  if (r.kind === "nothing") {
    const why = r.skipped.map((s) => `${s.channel}: ${s.reason}`).join("; ");
    return json(200, { code: "ok", msg: `nothing to replay: ${why || "every delivery has been delivered"}`, id: m.id, replay_of: root, skipped: r.skipped });
  }
  return json(200, {
    code: "ok", msg: "queued", id: r.id, replay_of: root, skipped: r.kind === "repeat" ? skippedBy(call, r.id) : r.skipped,
    ...(r.requestId === undefined ? {} : { request_id: r.requestId }),
  });
}

/**
 * A repeated replay request answers as the first did: the channels its replay left out are those it names without
 * a delivery. Why each was left out is not kept, so the reason says where to look.
 */
function skippedBy(call: Call, replayId: string): { channel: string; reason: string }[] {
  const m = call.ctx.inbox.message(replayId);
  if (!m) return [];
  const sent = new Set(m.deliveries.map((d) => d.channel));
  return m.targets.filter((n) => !sent.has(n)).map((channel) => ({ channel, reason: `skipped when this request was first made (replay ${replayId})` }));
}

/** POST /-/reload: the config file read again; one that does not validate is refused and the old one stays. */
export async function reload(call: Call): Promise<Response> {
  await authorize(call);
  const r = await call.ctx.reload();
  if (!r.ok) throw badRequest(`the config was not reloaded: ${r.error}`);
  return json(200, { code: "ok", msg: "reloaded", id: call.requestId });
}

/** GET /healthz: no token; 200 when the process is up and the store can be written. */
export async function healthz(call: Call): Promise<Response> {
  if (call.ctx.draining()) return json(503, { status: "unavailable", reason: "shutting down" });
  let ok = false;
  try {
    ok = call.ctx.inbox.writable();
  } catch {}
  return ok ? json(200, { status: "ok" }) : json(503, { status: "unavailable", reason: "the store cannot be written" });
}

/** GET /metrics: Prometheus text; the token is needed only with metrics_auth. */
export async function metrics(call: Call): Promise<Response> {
  if (call.ctx.settings().metricsAuth) await authorize(call);
  let depth = 0;
  try {
    depth = call.ctx.inbox.depth();
  } catch {}
  return new Response(call.ctx.events.metricsText(depth), {
    headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" },
  });
}
