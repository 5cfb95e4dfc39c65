import { defineCommand } from "./run.ts";
import { dispatch, type DeliveryResult, type DispatchResult, type Target } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import { isAlertFamily, sendAlerts, type AlertOutcome } from "../core/fallback.ts";
import { newId } from "../core/id.ts";
import { secretsOf } from "../core/redact.ts";
import type { Format } from "../core/types.ts";
import { expand, loadConfig, type Config } from "../config/load.ts";
import { EXIT_STORE, storeError } from "../store/errors.ts";
import type { MessageDetail } from "../store/pushlog.ts";
import { chArg, configArg, jsonArg, repeated, serverAddress, serverArg } from "./args.ts";
import { alertLines, alertsJson, deadlineMs, deliveryLine, interruptible, parseSince, reportUnrecorded, storeWaitMs, waitReporter } from "./common.ts";
import { c, clean, err, out } from "./out.ts";

/** A (original message, channel) that `replay --failed` could not even try: its channel is no longer configured. */
interface Unsendable { root: string; channel: string; error: string }

/** Recording a replay failed before it sent anything. */
class BeginFailed {
  constructor(readonly cause: unknown) {}
}

export default defineCommand({
  meta: { name: "replay", description: "Send a logged message again (to the channels where it was not delivered), or every undelivered one with --failed" },
  args: {
    id: { type: "positional", required: false, description: "Message id (or a unique prefix) from pp send / pp log" },
    ...chArg,
    failed: { type: "boolean", description: "Replay every failed, uncertain or abandoned delivery not yet delivered by a later replay (with --since)" },
    since: { type: "string", description: "With --failed: the window, 1h, 2d or ISO-8601 (default 24h)", valueHint: "when" },
    uncertain: { type: "boolean", description: "Also send deliveries whose outcome is uncertain (the platform may have them: pp stopped during the request, or its answer could not be read)" },
    deadline: { type: "string", description: "Overall deadline for each replayed message ($PP_DEADLINE, default defaults.deadline)", valueHint: "duration" },
    ...jsonArg,
    quiet: { type: "boolean", alias: ["q"], description: "No per-channel status lines" },
    ...serverArg,
    ...configArg,
  },
  async run({ args, rawArgs }) {
    const server = serverAddress(args.server, args.token);
    if (server !== undefined) {
      const client = await import("./client.ts");
      return client.replayThrough({
        server: client.serverOf(server, args.token), id: args.id, failed: !!args.failed, since: args.since, channels: repeated(rawArgs, ["ch", "c"]),
        uncertain: !!args.uncertain, deadlineMs: deadlineMs(args.deadline, 120_000), json: !!args.json, quiet: !!args.quiet,
      });
    }
    const cfg = loadConfig(args.config);
    const chosen = repeated(rawArgs, ["ch", "c"]);
    const deadline = deadlineMs(args.deadline, cfg.defaults.deadlineMs);
    if (args.failed && args.id) throw new PpError("usage", "give either a message id or --failed, not both");
    if (!args.failed && !args.id) throw new PpError("usage", "pp replay needs a message id (see pp log) or --failed");
    const since = args.failed ? parseSince(args.since ?? "24h") : 0;
    const storeWait = storeWaitMs();
    const quiet = !!args.quiet || !!args.json;
    const { openStore } = await import("../store/index.ts");
    const store = openStore(cfg.dbPath);
    const stop = interruptible(store.log, storeWait);
    const results: DispatchResult[] = [];
    const unsendable: Unsendable[] = [];
    const secrets = secretsOf(cfg.channels.values());
    const alerts: AlertOutcome[] = [];
    // `force` (channels named with --ch) sends the whole message again, delivered or not; otherwise each channel
    // is claimed for the original message, and the parts it already accepted are skipped.
    const send = async (found: MessageDetail, targets: Target[], force: boolean): Promise<DispatchResult> => {
      const m = found.message;
      const now = Date.now();
      let r: DispatchResult;
      try {
        r = await dispatch(
          { id: newId(now), createdAt: now, title: m.title ?? undefined, text: m.text, format: m.format as Format, source: "replay",
            replayOf: m.replay_of ?? m.id, targets: targets.map((t) => t.name), ...(found.at ? { at: found.at } : {}) },
          targets,
          {
            recorder: stop.recorder, limiter: store.limiter, tokens: store.tokens, deadline: now + deadline, onEvent: waitReporter(quiet),
            secrets, interrupt: stop.interrupt, storeWaitMs: storeWait,
            claim: { force, uncertain: !!args.uncertain },
          },
        );
      } catch (e) {
        throw new BeginFailed(e);
      }
      results.push(r);
      const isAlert = isAlertFamily({ source: m.source, replayOf: m.replay_of }, (id) => store.log.get(id)?.message.source);
      alerts.push(...await sendAlerts(cfg, { id: r.id, title: m.title, text: m.text }, r, {
        recorder: stop.recorder, limiter: store.limiter, tokens: store.tokens, deadlineMs: deadline, secrets, interrupt: stop.interrupt, storeWaitMs: storeWait,
        onEvent: waitReporter(quiet), isAlert,
      }));
      return r;
    };

    let beginError: unknown;
    try {
      if (args.failed) {
        const todo = store.log.unrecovered(since, chosen.length === 1 ? chosen[0] : undefined)
          .filter((x) => chosen.length === 0 || chosen.includes(x.channel));
        const byRoot = new Map<string, string[]>();
        for (const x of todo) byRoot.set(x.root, [...(byRoot.get(x.root) ?? []), x.channel]);
        if (byRoot.size === 0) {
          if (args.json) out(JSON.stringify(summary([], [])));
          else if (!args.quiet) err(c.dim("nothing to replay: no failed deliveries in that window that are still undelivered"));
          return;
        }
        const bar = progress(byRoot.size, quiet);
        let i = 0;
        for (const [root, names] of byRoot) {
          if (stop.interrupt.aborted) break;
          const found = store.log.get(root);
          // One message that cannot be sent (its channel was removed from the config) does not stop the others.
          const missing = found ? names.filter((n) => !cfg.channels.has(n)) : names;
          for (const n of missing) {
            const why = found ? `channel ${n} is no longer configured; send it elsewhere with: pp replay ${root} --ch NAME` : "the message is no longer in the push log";
            unsendable.push({ root, channel: n, error: why });
          }
          const targets = names.filter((n) => !missing.includes(n)).map((n) => cfg.channels.get(n)!);
          if (found && targets.length) {
            const r = await send(found, targets, false);
            if (r.unrecorded !== undefined) break;
          }
          bar(++i);
        }
      } else {
        const found = store.log.get(args.id!);
        if (!found) {
          throw new PpError("not_found", store.log.ambiguous(args.id!) ? `"${args.id}" matches more than one message; give more of the id` : `no message with id "${args.id}" in the push log ${cfg.dbPath}`);
        }
        if (chosen.length) await send(found, expand(cfg, chosen), true);
        else {
          const root = found.message.replay_of ?? found.message.id;
          // A channel that the original or any replay of it delivered is not sent again (the claim checks once more,
          // in its transaction); only the rest needs to be configured still.
          const names = [...new Set(found.deliveries.map((d) => d.channel))].filter((n) => !store.log.familyDelivered(root, n));
          if (names.length === 0) {
            if (args.json) out(JSON.stringify(summary([], [])));
            else if (!args.quiet) err(`pp: nothing to send: every delivery of message ${found.message.id} has been delivered (to send it again anyway: pp replay ${found.message.id} --ch NAME)`);
            return;
          }
          await send(found, configured(cfg, names, found.message.id), false);
        }
      }
    } catch (e) {
      if (!(e instanceof BeginFailed)) throw e;
      beginError = e.cause;
    } finally {
      store.close();
    }
    process.exitCode = report(results, unsendable, !!args.json, !!args.quiet, !!args.failed, alerts);
    const lost = results.find((r) => r.unrecorded !== undefined);
    if (lost) process.exitCode = reportUnrecorded(lost.unrecorded, cfg.dbPath, [lost]);
    else if (beginError !== undefined) {
      // Nothing of this message was sent; whatever went before is in the push log.
      if (!results.some((r) => r.deliveries.some((d) => d.sent))) throw storeError(beginError, cfg.dbPath, "record the replay");
      err(`pp: ${storeError(beginError, cfg.dbPath, "record the replay").message}`);
      process.exitCode = EXIT_STORE;
    } else if (stop.signalled()) process.exitCode = stop.signalled();
  },
});

function configured(cfg: Config, names: string[], id: string): Target[] {
  const missing = names.filter((n) => !cfg.channels.has(n));
  if (missing.length) {
    throw new PpError("config", `message ${id} went to ${missing.join(", ")}, which ${missing.length > 1 ? "are" : "is"} no longer configured; replay it with --ch NAME`);
  }
  return names.map((n) => cfg.channels.get(n)!);
}

/** A one-line progress bar on a terminal; nothing when stderr is not one. */
function progress(total: number, quiet: boolean): (done: number) => void {
  if (quiet || !process.stderr.isTTY) return () => {};
  const draw = (done: number) => {
    const width = 30;
    const fill = Math.round((done / total) * width);
    process.stderr.write(`\r[${"#".repeat(fill)}${".".repeat(width - fill)}] ${done}/${total}${done === total ? "\n" : ""}`);
  };
  draw(0);
  return draw;
}

/** One replay's deliveries, with the original message each belongs to. */
function rows(results: DispatchResult[]): { r: DispatchResult; d: DeliveryResult; root: string }[] {
  return results.flatMap((r) => r.deliveries.map((d) => ({ r, d, root: r.replayOf ?? r.id })));
}

/** The --json answer: what was replayed (new message ids), what was skipped and why, and the counts. */
function summary(results: DispatchResult[], unsendable: Unsendable[]) {
  const all = rows(results);
  const sent = results.filter((r) => r.deliveries.some((d) => d.status !== "skipped"));
  const skipped = all.filter(({ d }) => d.status === "skipped");
  const failed = all.filter(({ d }) => d.status === "failed" || d.status === "uncertain").length + unsendable.length;
  return {
    replays: sent.map((r) => ({
      id: r.id, replay_of: r.replayOf ?? null,
      deliveries: r.deliveries.filter((d) => d.status !== "skipped").map((d) => ({ channel: d.channel, status: d.status, attempts: d.attempts, error: d.error })),
    })),
    skipped: [
      ...skipped.map(({ d, root }) => ({ replay_of: root, channel: d.channel, reason: d.skip ?? "delivered", error: d.error })),
      ...unsendable.map((u) => ({ replay_of: u.root, channel: u.channel, reason: "not_configured", error: u.error })),
    ],
    replayed: sent.length,
    delivered: all.filter(({ d }) => d.status === "delivered").length,
    failed,
  };
}

/** Prints the outcome and returns the exit status: 1 when anything failed, else 0. */
function report(results: DispatchResult[], unsendable: Unsendable[], json: boolean, quiet: boolean, all: boolean, alerts: AlertOutcome[] = []): number {
  const s = summary(results, unsendable);
  if (json) out(JSON.stringify(alerts.length ? { ...s, fallback: alertsJson(alerts) } : s));
  else {
    for (const r of s.replays) out(r.id);
    if (!quiet) {
      // With --failed, each original message heads its channels' lines: two ids on every line would not fit 80 columns.
      let heading: DispatchResult | undefined;
      for (const { r, d, root } of rows(results)) {
        if (all && r !== heading) {
          heading = r;
          const sent = r.deliveries.some((x) => x.status !== "skipped");
          err(c.dim(`message ${root}${sent ? ` → replay ${r.id}` : ""}`));
        }
        err(all ? `  ${deliveryLine(d)}` : deliveryLine(d));
      }
      for (const u of unsendable) err(`${c.red("✖")} ${clean(u.channel)} ${c.red(clean(u.error))} ${c.dim(`(message ${u.root})`)}`);
      const uncertain = s.skipped.filter((x) => x.reason === "uncertain").length;
      if (all) {
        const total = s.skipped.length - unsendable.length;
        err(`pp: replayed ${s.replayed} message${s.replayed === 1 ? "" : "s"}: ${s.delivered} delivered, ${s.failed} failed, ${total} skipped`);
      }
      if (uncertain) {
        err(`pp: ${uncertain} skipped as uncertain (the platform may have ${uncertain === 1 ? "it" : "them"}); send ${uncertain === 1 ? "it" : "them"} anyway with ${all ? "pp replay --failed --uncertain" : "--uncertain"}`);
      }
      for (const line of alertLines(alerts)) err(line);
    }
  }
  return s.failed ? 1 : 0;
}
