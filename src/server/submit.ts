import { createHash } from "node:crypto";
import { parseAt } from "../core/mentions.ts";
import type { DeliveryStart, Enqueue, EnqueueResult, MessageRecord } from "../core/ports.ts";
import { didYouMean } from "../core/suggest.ts";
import { channelInput, INPUT_FORMATS, isInputFormat, type InputFormat } from "../core/format.ts";
import type { Config } from "../config/load.ts";
import { distinctTargets, tagAlternatives, taggedChannels } from "../config/targets.ts";
import type { Target } from "../core/dispatch.ts";
import { byToken, headerToken, withoutHeaderToken, type Caller, type RateGate } from "./auth.ts";
import { epochMs, firstStr, names, noFields, str, type Fields } from "./body.ts";
import type { AppContext } from "./context.ts";
import { ApiError, badRequest, retryAfter } from "./errors.ts";

/** One request as the routes see it. */
export interface Call {
  ctx: AppContext;
  req: Request;
  url: URL;
  /** pp's id for this request (a ULID): in error answers and the log line; a message the request queues has it too. */
  requestId: string;
  /** When the request came (by `now`): the time in its id, and a queued message's creation time. */
  at: number;
  ip?: string;
  now: () => number;
  gate: RateGate;
}

/**
 * Who calls, checked before the body is read when a header, the path or the query carries the token (a wrong one
 * costs nothing to refuse); else after, from the body's token field, a page session or anonymous access. Then the
 * caller's rate limit.
 */
export async function authorize(call: Call, o: { pathToken?: string; read?: () => Promise<Fields> } = {}): Promise<{ caller: Caller; fields: Fields }> {
  const s = call.ctx.settings();
  const early = headerToken(call.req, () => call.url, o.pathToken);
  let caller: Caller;
  let fields: Fields;
  if (early !== undefined) {
    caller = byToken(early, s, call.ip);
    call.gate.take(caller.rateKey, s.rate);
    fields = o.read ? await o.read() : noFields();
  } else {
    fields = o.read ? await o.read() : noFields();
    caller = withoutHeaderToken(call.req, s, { bodyToken: str(fields, "token"), csrfField: str(fields, "_csrf"), ip: call.ip });
    call.gate.take(caller.rateKey, s.rate);
  }
  return { caller, fields };
}

/** A message as a request asks for it, before it is queued. */
export interface Draft {
  text: string;
  title?: string;
  /** As the request gave it; the push log keeps html and json as written, and channels get what they become. */
  format: InputFormat;
  /** Channel and group names, as given (or the defaults). */
  names: string[];
  callbackUrl?: string;
  expiresAt?: number;
  /** Who to mention (parseAt's list), from `at`: a list or a comma-separated string, as pp send --at takes. */
  at?: string[];
}

/** Where the text can be, in order: PostPoint's msg, then text, content (pushplus) and body (MsgFlow). */
const TEXT_FIELDS = ["msg", "text", "content", "body"] as const;

/** `template` values (pushplus's) and `format` values -> how pp reads the text. */
const TEMPLATES = new Map<string, InputFormat>([
  ["text", "text"], ["txt", "text"], ["markdown", "markdown"], ["md", "markdown"], ["html", "html"], ["json", "json"],
]);

const show = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

/**
 * The draft from a request's fields. `text` and `title` come from a token route's path; `whole` is a body that is
 * the content as a whole (template=json in the URL of a POST).
 */
export function draftFrom(call: Call, fields: Fields, o: { text?: string; title?: string; whole?: string } = {}): Draft {
  const template = str(fields, "template");
  const formatField = str(fields, "format");
  let kind: InputFormat = "text";
  if (formatField !== undefined) {
    if (!isInputFormat(formatField)) throw badRequest(`unknown format ${show(formatField)}; use ${INPUT_FORMATS.join(", ")}`);
    kind = formatField;
  } else if (template !== undefined) {
    const k = TEMPLATES.get(template.toLowerCase());
    if (!k) throw badRequest(`unknown template ${show(template)}; use txt, markdown, html or json`);
    kind = k;
  }
  let text = o.whole ?? o.text ?? firstStr(fields, TEXT_FIELDS)?.value;
  if (text === undefined) throw badRequest("missing text: send it as msg, text, content or body");
  if (o.whole !== undefined) kind = "json";
  if (text.includes("\r")) text = text.replace(/\r\n?/g, "\n");
  text = text.trimEnd();
  if (text.trim() === "" || (kind === "html" && channelInput({ text, format: kind }).text.trim() === "")) {
    throw badRequest("the text is empty: send it as msg, text, content or body");
  }
  const title = (o.title ?? str(fields, "title"))?.trim() || undefined;
  const callbackUrl = firstStr(fields, ["callback_url", "callbackUrl"]);
  if (callbackUrl !== undefined && !isCallbackUrl(callbackUrl.value)) {
    throw badRequest(`field "${callbackUrl.name}" must be an http or https URL`);
  }
  const expiresAt = epochMs(fields, "expires_at") ?? epochMs(fields, "timestamp");
  const atField = names(fields, "at");
  let at: string[] = [];
  try {
    at = atField ? parseAt(atField, 'field "at"') : [];
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const draft: Draft = { text, title, format: kind, names: channelNames(call, fields) };
  if (callbackUrl) draft.callbackUrl = callbackUrl.value;
  if (expiresAt !== undefined) draft.expiresAt = expiresAt;
  if (at.length) draft.at = at;
  return draft;
}

function isCallbackUrl(s: string): boolean {
  if (s.length > 2048 || !URL.canParse(s)) return false;
  const u = new URL(s);
  return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
}

/**
 * The channels a request names: the `channels` list, then the `ch` field, then `?ch=` (repeatable), then
 * pushplus's `webhook` (a channel) or `topic` (a group), then [serve] channels.
 */
export function channelNames(call: Call, fields: Fields): string[] {
  const fromQuery = !call.req.url.includes("?") ? [] : call.url.searchParams.getAll("ch").flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
  const webhook = str(fields, "webhook");
  const topic = str(fields, "topic");
  const pushplus = webhook === undefined && topic === undefined ? [] : [webhook, topic].map((s) => s?.trim()).filter((s): s is string => !!s);
  const tagged = tagsOf(call, fields);
  for (const list of [names(fields, "channels"), names(fields, "ch"), fromQuery, pushplus]) {
    if (list && list.length) return tagged.length ? [...new Set([...list, ...tagged])] : list;
  }
  if (tagged.length) return tagged;
  const defaults = call.ctx.settings().channels;
  if (defaults.length === 0) throw badRequest("no channel named: send channels or ch, or set channels in the [serve] section");
  return defaults;
}

/**
 * The channels `tags` selects, as pp send --tag does: each item of a list is one choice (any of them), and the
 * comma-separated tags of one must all be on a channel.
 */
function tagsOf(call: Call, fields: Fields): string[] {
  if (!Object.hasOwn(fields, "tags")) return [];
  const x = fields.tags;
  const list = typeof x === "string" ? [x] : Array.isArray(x) && x.every((s) => typeof s === "string") ? (x as string[]) : undefined;
  if (!list) throw badRequest('field "tags" must be a list of tags or a comma-separated string');
  const alternatives = tagAlternatives(list);
  if (alternatives.length === 0) throw badRequest('field "tags" names no tag');
  try {
    return taggedChannels(call.ctx.config(), alternatives, 'field "tags"');
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

/**
 * Resolved name lists by config: most requests name the same few, and comparing destinations canonicalises every
 * channel's settings. A reload brings a new Config, and with it an empty cache.
 */
const resolved = new WeakMap<Config, Map<string, Target[]>>();
/** Each channel's delivery record as the queue stores it; showing the destination redacted is not free either. */
const starts = new WeakMap<Target, DeliveryStart>();

const startOf = (t: Target): DeliveryStart => {
  let d = starts.get(t);
  if (!d) starts.set(t, (d = { channel: t.name, type: t.def.type, target: t.def.target(t.opts), parts: 1 }));
  return d;
};

/** The configured channels the names stand for, each destination once; an unknown name is a 400 naming it. */
export function targetsOf(call: Call, list: string[]): Target[] {
  const cfg = call.ctx.config();
  let cache = resolved.get(cfg);
  if (!cache) resolved.set(cfg, (cache = new Map()));
  const key = list.join("\n");
  const hit = cache.get(key);
  if (hit) return hit;
  if (list.length > 200) throw badRequest(`${list.length} channels named; name at most 200`);
  for (const n of list) {
    if (cfg.channels.has(n) || cfg.groups.has(n)) continue;
    const all = [...cfg.channels.keys(), ...cfg.groups.keys()];
    throw badRequest(`unknown channel or group ${show(n)}${didYouMean(n, all) || `; configured: ${all.slice(0, 20).join(", ") || "none"}`}`);
  }
  const targets = distinctTargets(cfg, list);
  if (cache.size >= 1000) cache.clear();
  cache.set(key, targets);
  return targets;
}

/** The client's idempotency key: PostPoint's X-Ppt-Request-ID, else the standard Idempotency-Key. */
export function clientKey(req: Request): string | undefined {
  let name = "X-Ppt-Request-ID";
  let raw = req.headers.get(name);
  if (raw === null) raw = req.headers.get((name = "Idempotency-Key"));
  if (raw === null) return undefined;
  const key = raw.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw badRequest(`${name} must be 1 to 255 visible ASCII characters`);
  return key;
}

/** How many idempotency hashes were made: tests hold a request without a key to none. */
export const submitWork = { sha256: 0 };

const sha = (s: string) => {
  submitWork.sha256++;
  return createHash("sha256").update(s).digest("hex");
};

/**
 * Queues a message (or finds the first answer to a repeated request) and returns its id. The answer waits for
 * the commit that holds the message.
 */
export async function submit(
  call: Call, caller: Caller, draft: Draft,
  o: { replayOf?: string; claim?: { force: boolean; uncertain: boolean }; targets?: Target[] } = {},
): Promise<{ kind: "queued" | "repeat"; id: string; requestId?: string; skipped: { channel: string; reason: string }[] } | { kind: "nothing"; skipped: { channel: string; reason: string }[] }> {
  const { ctx } = call;
  const s = ctx.settings();
  const targets = o.targets ?? targetsOf(call, draft.names);
  const key = clientKey(call.req);
  // The request's own id names its message: one id made per request, and its time is the message's.
  const now = call.at;
  const message: MessageRecord = {
    id: call.requestId, createdAt: now, title: draft.title, text: draft.text, format: draft.format,
    source: o.replayOf ? "replay" : "api", targets: targets.map((t) => t.name),
  };
  if (o.replayOf) message.replayOf = o.replayOf;
  if (draft.at) message.at = draft.at;
  // What a repeat of the key must match; only a request with a key is ever compared, so only then is it hashed.
  const fingerprint = () => sha(JSON.stringify([draft.title ?? null, draft.text, draft.format, message.targets.toSorted(), draft.callbackUrl ?? null, draft.expiresAt ?? null, o.replayOf ?? null, o.claim ?? null, ...(draft.at ? [draft.at] : [])]));
  let r: EnqueueResult;
  try {
    const e: Enqueue = { message, deliveries: targets.map((t) => ({ ...startOf(t) })), queueMax: s.queueMax };
    if (draft.callbackUrl) e.callbackUrl = draft.callbackUrl;
    if (draft.expiresAt !== undefined) e.expiresAt = draft.expiresAt;
    if (key !== undefined) {
      e.requestId = key;
      e.idempotency = { key: sha(`${caller.scope}\n${key}`), fingerprint: fingerprint(), windowMs: s.idempotencyWindowMs };
    }
    if (o.claim) e.claim = o.claim;
    r = await ctx.inbox.enqueue(e);
  } catch (e) {
    throw new ApiError("unavailable", "the message could not be stored; try again later", {}, `enqueue: ${(e as Error)?.message ?? String(e)}`);
  }
  switch (r.kind) {
    case "queued": {
      if (r.skipped.length === 0) for (const t of targets) ctx.events.accepted(t.name);
      else {
        const skipped = new Set(r.skipped.map((x) => x.channel));
        for (const t of targets) if (!skipped.has(t.name)) ctx.events.accepted(t.name);
      }
      ctx.wake();
      return { kind: "queued", id: r.id, requestId: key, skipped: r.skipped };
    }
    case "repeat":
      return { kind: "repeat", id: r.id, requestId: key, skipped: [] };
    case "conflict":
      throw new ApiError("conflict", `the idempotency key was already used within the idempotency window for a different request (message ${r.id}); use a new key for a new message`);
    case "nothing":
      return { kind: "nothing", skipped: r.skipped };
    case "full":
      throw new ApiError("resource_exhausted", "the queue is full; try again later", retryAfter(r.retryAfterMs));
  }
}
