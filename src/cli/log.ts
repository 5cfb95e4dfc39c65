import { defineCommand } from "./run.ts";
import { PpError } from "../core/errors.ts";
import { loadConfig } from "../config/load.ts";
import type { LogRow, MessageDetail, PushLog, StatRow } from "../store/pushlog.ts";
import { configArg, jsonArg, serverAddress, serverArg } from "./args.ts";
import { parseLimit, parseSince } from "./flags.ts";
import { c, clean, cleanLine, fitTable, localTime, out, outAsync, outputWidth, preview, table, type Shrink } from "./out.ts";

// Only pp log --json, and pp log show, need these: the plain listing does without loading them.
const view = () => require("../store/view.ts") as typeof import("../store/view.ts");
const alertModule = () => require("../core/alert.ts") as typeof import("../core/alert.ts");

export default defineCommand({
  meta: { name: "log", description: "Show the push log (newest first); `pp log show ID` for one message with every attempt" },
  args: {
    show: { type: "positional", required: false, description: "`show ID`: one message, every delivery and attempt, with the platforms' answers" },
    failed: { type: "boolean", description: "What did not arrive: failed, uncertain and abandoned deliveries that no replay has delivered since" },
    all: { type: "boolean", description: "With --failed: also those a later replay delivered (the history)" },
    ch: { type: "string", alias: ["c"], description: "Only deliveries to this channel", valueHint: "name" },
    since: { type: "string", description: "Only deliveries since a time: 1h, 2d, 30m or ISO-8601", valueHint: "when" },
    limit: { type: "string", description: "How many rows (default 20)", valueHint: "n" },
    stats: { type: "boolean", description: "Per channel: deliveries, failures, success rate, p50/p95 latency" },
    ...jsonArg,
    ...serverArg,
    ...configArg,
  },
  async run({ args }) {
    const pos = args._ as string[];
    const server = serverAddress(args.server, args.token);
    if (server !== undefined) {
      const client = await import("./client.ts");
      return client.logThrough({
        server: client.serverOf(server, args.token), positionals: pos, failed: !!args.failed, all: !!args.all, stats: !!args.stats,
        ch: args.ch, since: args.since, limit: args.limit, json: !!args.json,
      });
    }
    const cfg = loadConfig(args.config, { required: false });
    // Bad arguments are usage errors even when the push log cannot be opened.
    const since = args.since ? parseSince(args.since) : undefined;
    const limit = parseLimit(args.limit, 20);
    // pp log only reads: the push log is opened read-only when it can be (a missing one is still created).
    const { openLogForReading } = await import("../store/index.ts");
    const store = openLogForReading(cfg.dbPath);
    try {
      if (pos[0] === "show") {
        if (!pos[1]) throw new PpError("usage", "pp log show needs a message id (as printed by pp send or listed by pp log)");
        return await showMessage(store.log, pos[1], !!args.json);
      }
      if (pos.length) throw new PpError("usage", `unexpected argument "${pos[0]}"; did you mean \`pp log show ${pos[0]}\`?`);
      if (args.stats) return showStats(store.log, since, args.ch, !!args.json);
      const rows = store.log.list({ failed: !!args.failed, all: !!args.all, channel: args.ch, since, limit });
      // outAsync: to a pipe, pp log does without node:fs.
      if (args.json) return await outAsync(JSON.stringify(rows.map(view().jsonRow), null, 2));
      if (rows.length === 0) return await outAsync(c.dim("no deliveries match"));
      await outAsync(listing(rows, outputWidth(), (id) => shortId(store.log, id)));
    } finally {
      store.close();
    }
  },
});

/**
 * The rows as a table that fits `width` columns: the text preview is cut first, then the error; if that is not
 * enough, the ATT and LATENCY columns go (pp log show has them), then the ids are shortened to a prefix that is
 * unique in the push log (pp log show and pp replay take one), then the year leaves the time.
 */
export function listing(rows: LogRow[], width: number, short: (id: string) => string): string {
  const layouts = [
    { stats: true, shortId: false, year: true },
    { stats: false, shortId: false, year: true },
    { stats: false, shortId: true, year: true },
    { stats: false, shortId: true, year: false },
  ];
  // Each row's cells once, whichever layout takes them; a short id (a push-log look-up) only when a layout uses it.
  const shortIds = new Map<string, string>();
  const shortOf = (id: string) => {
    let s = shortIds.get(id);
    if (s === undefined) shortIds.set(id, (s = clean(short(id))));
    return s;
  };
  const cells = rows.map((r) => {
    const time = localTime(r.created_at);
    return {
      time, day: time.slice(5), rawId: r.id, id: clean(r.id), channel: clean(r.channel), status: status(r.status),
      attempts: String(r.attempts), latency: r.latency_ms === null ? "-" : `${r.latency_ms}ms`,
      error: preview(r.error ?? "", 48) || "-", text: preview(r.title ? `${r.title}: ${r.text}` : r.text, 72),
    };
  });
  const build = (l: (typeof layouts)[number], shrink: (text: number, error: number) => Shrink[]) => {
    const head = ["TIME", "ID", "CHANNEL", "STATUS", ...(l.stats ? ["ATT", "LATENCY"] : []), "ERROR", "TEXT"];
    const body = cells.map((x) => [
      l.year ? x.time : x.day, l.shortId ? shortOf(x.rawId) : x.id, x.channel, x.status,
      ...(l.stats ? [x.attempts, x.latency] : []), x.error, x.text,
    ]);
    return fitTable(head, body, { width, shrink: shrink(head.length - 1, head.length - 2) });
  };
  // A layout is taken while it leaves the text a readable preview; the last one cuts the text, then the error,
  // as far as needed.
  for (const l of layouts.slice(0, -1)) {
    const t = build(l, (text, error) => [{ col: text, min: 24 }, { col: error, min: 16 }]);
    if (t.fits) return t.text();
  }
  return build(layouts[layouts.length - 1]!, (text, error) => [{ col: text, min: 16 }, { col: error, min: 12 }, { col: text, min: 8 }, { col: error, min: 8 }]).text();
}

/** The shortest prefix of `id` (12 characters at least: the time and some randomness) that names one message. */
function shortId(log: PushLog, id: string): string {
  for (let n = 12; n < id.length; n++) if (!log.ambiguous(id.slice(0, n))) return id.slice(0, n);
  return id;
}

function status(s: string): string {
  return s === "delivered" ? c.green(s) : s === "failed" || s === "expired" ? c.red(s) : s === "queued" ? c.cyan(s) : c.yellow(clean(s));
}

/** A time from the push log (unix ms) or from a daemon's JSON (ISO-8601). */
const when = (t: number | string | null | undefined): number | undefined =>
  typeof t === "number" ? t : typeof t === "string" && Number.isFinite(Date.parse(t)) ? Date.parse(t) : undefined;

// outAsync: to a pipe, pp log show does without node:fs too.
async function showMessage(log: PushLog, id: string, json: boolean): Promise<void> {
  const m: MessageDetail | null = log.get(id);
  if (!m) {
    const why = log.ambiguous(id) ? `"${id}" matches more than one message; give more of the id` : `no message with id "${id}" in the push log`;
    throw new PpError("not_found", why);
  }
  if (json) {
    return await outAsync(JSON.stringify(view().messageJson(m), null, 2));
  }
  // An original finds its alerts by their first line; an alert names its original there (renderMessage reads it).
  const created = m.message.created_at;
  const { ALERT_SOURCE, ALERT_WINDOW_MS, alertPrefix } = alertModule();
  await outAsync(messageText(m, log.startingWith(ALERT_SOURCE, alertPrefix(m.message.id), created, created + ALERT_WINDOW_MS)));
}

/** `pp log show ID` as text, from the push log or from a daemon's answer. */
export function renderMessage(m: MessageDetail, alerts: readonly string[] = []): void {
  out(messageText(m, alerts));
}

/** What renderMessage prints, without the last line break. */
function messageText(m: MessageDetail, alerts: readonly string[]): string {
  const lines: string[] = [];
  const put = (line: string) => lines.push(line);
  const msg = m.message;
  const origin = alertModule().alertOrigin(msg);
  // Everything below comes from the push log: the user's text and titles, platforms' answers. Printed escaped.
  put(`${c.bold("message")}  ${clean(msg.id)}${msg.replay_of ? c.dim(`  (replay of ${clean(msg.replay_of)})`) : ""}${origin ? c.dim(`  (fallback alert about message ${origin})`) : ""}`);
  put(`${c.bold("time")}     ${localTime(msg.created_at)}  ${c.dim(clean(`${msg.source}, ${msg.format}, asked for ${msg.targets.join(", ")}`))}`);
  if (msg.title) put(`${c.bold("title")}    ${clean(msg.title)}`);
  if (alerts.length) put(`${c.bold("alerts")}   ${alerts.map(clean).join(", ")}  ${c.dim("(fallback alerts about this message's failed deliveries)")}`);
  const expires = when(msg.expires_at);
  if (expires !== undefined) put(`${c.bold("expires")}  ${localTime(expires)}`);
  const cb = m.callback;
  if (cb) {
    const tries = cb.attempts ? `, ${cb.attempts} ${cb.attempts === 1 ? "try" : "tries"}` : "";
    const http = cb.http_status === null || cb.http_status === undefined ? "" : `, HTTP ${cb.http_status}`;
    put(`${c.bold("callback")} ${clean(cb.status)}${http}${tries}${cb.error ? ` — ${cleanLine(cb.error)}` : ""}`);
  }
  put(`${c.bold("text")}\n${clean(msg.text).replace(/^/gm, "  ")}\n`);
  for (const d of m.deliveries) {
    const due = d.status === "queued" ? when(d.due_at) : undefined;
    put(`${c.bold(clean(d.channel))} (${clean(`${d.type}, ${d.target}`)}): ${status(d.status)}${due !== undefined ? ` (due ${localTime(due)})` : ""}${d.parts > 1 ? `, ${d.parts} parts` : ""}${d.error ? ` — ${cleanLine(d.error)}` : ""}`);
    // The daemon sent it again after stopping during its request: the platform may show it twice.
    if (d.possible_duplicate) put(c.yellow("  possible duplicate: pp stopped during a request for it, so it is sent again and may arrive twice"));
    for (const a of d.attempts_log) {
      const http = a.http_status === null ? "no answer" : `HTTP ${a.http_status}`;
      put(`  ${localTime(a.started_at)}  part ${a.part} try ${a.attempt}  ${a.outcome}  ${http}  ${a.latency_ms}ms${a.error ? `  ${cleanLine(a.error)}` : ""}`);
      if (a.response) put(c.dim(`    ${preview(a.response, 160)}`));
    }
  }
  return lines.join("\n");
}

function showStats(log: PushLog, since: number | undefined, channel: string | undefined, json: boolean): void {
  renderStats(log.stats(since, channel), json);
}

/** `pp log --stats`'s table (or its --json), from the push log's rows or a daemon's. */
export function renderStats(rows: StatRow[], json: boolean): void {
  if (json) return out(JSON.stringify(rows, null, 2));
  if (rows.length === 0) return out(c.dim("no deliveries in this window"));
  const pct = (r: number | null) => (r === null ? "-" : `${(r * 100).toFixed(1)}%`);
  // Only the daemon queues or expires deliveries: without one, the table stays as narrow as it was.
  const daemon = rows.some((r) => r.queued || r.expired);
  out(
    table(
      ["CHANNEL", "DELIVERIES", "FAILED", "PENDING", ...(daemon ? ["QUEUED", "EXPIRED"] : []), "SUCCESS", "P50", "P95"],
      rows.map((r) => {
        const rate = pct(r.success_rate);
        const colored = r.success_rate === null ? rate : r.success_rate >= 0.99 ? c.green(rate) : r.success_rate >= 0.9 ? c.yellow(rate) : c.red(rate);
        return [r.channel, String(r.deliveries), r.failed ? c.red(String(r.failed)) : "0", String(r.pending),
          ...(daemon ? [String(r.queued ?? 0), r.expired ? c.red(String(r.expired)) : "0"] : []), colored,
          r.p50_ms === null ? "-" : `${r.p50_ms}ms`, r.p95_ms === null ? "-" : `${r.p95_ms}ms`];
      }),
    ),
  );
}
