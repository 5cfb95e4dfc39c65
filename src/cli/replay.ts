import { defineCommand } from "citty";
import { dispatch, type DispatchResult, type Target } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import { newId } from "../core/id.ts";
import type { Format } from "../core/types.ts";
import { expand, loadConfig, type Config } from "../config/load.ts";
import type { MessageDetail } from "../store/pushlog.ts";
import { chArg, configArg, jsonArg, repeated } from "./args.ts";
import { deadlineMs, deliveryLine, interruptible, parseSince, waitReporter } from "./common.ts";
import { c, err, out } from "./out.ts";

export default defineCommand({
  meta: { name: "replay", description: "Send a logged message again (to the channels where it failed), or every failed delivery with --failed" },
  args: {
    id: { type: "positional", required: false, description: "Message id (or a unique prefix) from pp send / pp log" },
    ...chArg,
    failed: { type: "boolean", description: "Replay every failed delivery not yet delivered by a later replay (with --since)" },
    since: { type: "string", description: "With --failed: the window, 1h, 2d or ISO-8601 (default 24h)", valueHint: "when" },
    deadline: { type: "string", description: "Overall deadline for each replayed message ($PP_DEADLINE, default defaults.deadline)", valueHint: "duration" },
    ...jsonArg,
    quiet: { type: "boolean", alias: ["q"], description: "No per-channel status lines" },
    ...configArg,
  },
  async run({ args, rawArgs }) {
    const cfg = loadConfig(args.config);
    const chosen = repeated(rawArgs, ["ch", "c"]);
    const deadline = deadlineMs(args.deadline, cfg.defaults.deadlineMs);
    const { openStore } = await import("../store/index.ts");
    const store = openStore(cfg.dbPath);
    const results: DispatchResult[] = [];
    const recorder = interruptible(store.log);
    try {
      // `resume`: skip the parts of a split message that a channel already accepted (not when the user
      // names channels with --ch, which asks for the whole message again).
      const send = async (m: MessageDetail["message"], all: Target[], resume: boolean) => {
        const root = m.replay_of ?? m.id;
        const targets = resume ? all.map((t) => ({ ...t, resume: store.log.acceptedParts(root, t.name) })) : all;
        const now = Date.now();
        const r = await dispatch(
          { id: newId(now), createdAt: now, title: m.title ?? undefined, text: m.text, format: m.format as Format, source: "replay",
            replayOf: m.replay_of ?? m.id, targets: targets.map((t) => t.name) },
          targets,
          { recorder, limiter: store.limiter, deadline: now + deadline, onEvent: waitReporter(!!args.quiet || !!args.json) },
        );
        results.push(r);
        return r;
      };

      if (args.failed) {
        if (args.id) throw new PpError("usage", "give either a message id or --failed, not both");
        const since = parseSince(args.since ?? "24h");
        const todo = store.log.unrecovered(since, chosen.length === 1 ? chosen[0] : undefined)
          .filter((x) => chosen.length === 0 || chosen.includes(x.channel));
        const byRoot = new Map<string, string[]>();
        for (const x of todo) byRoot.set(x.root, [...(byRoot.get(x.root) ?? []), x.channel]);
        if (byRoot.size === 0) {
          if (!args.json) err(c.dim("nothing to replay: no failed deliveries in that window that are still undelivered"));
          else out("[]");
          return;
        }
        const bar = progress(byRoot.size, !!args.quiet || !!args.json);
        let i = 0;
        for (const [root, names] of byRoot) {
          await send(store.log.get(root)!.message, configured(cfg, names, root), true);
          bar(++i);
        }
      } else {
        if (!args.id) throw new PpError("usage", "pp replay needs a message id (see pp log) or --failed");
        const found = store.log.get(args.id);
        if (!found) {
          throw new PpError("not_found", store.log.ambiguous(args.id) ? `"${args.id}" matches more than one message; give more of the id` : `no message with id "${args.id}" in the push log ${cfg.dbPath}`);
        }
        if (chosen.length) await send(found.message, expand(cfg, chosen), false);
        else {
          // Failed, or still pending after an interrupted pp; all of them, whole, when every one was delivered.
          const undelivered = found.deliveries.filter((d) => d.status !== "delivered").map((d) => d.channel);
          const names = undelivered.length ? undelivered : found.deliveries.map((d) => d.channel);
          await send(found.message, configured(cfg, names, found.message.id), undelivered.length > 0);
        }
      }
    } finally {
      store.close();
    }
    report(results, !!args.json, !!args.quiet);
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

function report(results: DispatchResult[], json: boolean, quiet: boolean): void {
  const failed = results.flatMap((r) => r.deliveries).filter((d) => d.status === "failed").length;
  if (json) {
    out(JSON.stringify(results.map((r) => ({ id: r.id, deliveries: r.deliveries.map((d) => ({ channel: d.channel, status: d.status, attempts: d.attempts, error: d.error })) }))));
  } else {
    for (const r of results) {
      out(r.id);
      if (quiet) continue;
      for (const d of r.deliveries) err(deliveryLine(d));
    }
  }
  process.exitCode = failed ? 1 : 0;
}
