import { defineCommand } from "./run.ts";
import { hostname } from "node:os";
import { dispatch } from "../core/dispatch.ts";
import { newId } from "../core/id.ts";
import { nullRecorder } from "../core/ports.ts";
import { secretsOf } from "../core/redact.ts";
import { expand, loadConfig } from "../config/load.ts";
import { PpError } from "../core/errors.ts";
import { quickTargets } from "../config/quick.ts";
import { tagAlternatives, taggedChannels } from "../config/targets.ts";
import { configArg, jsonArg } from "./args.ts";
import { flagValues, tagArg, toArgs } from "./route.ts";
import { waitReporter } from "./common.ts";
import { bad, c, cleanLine, err, ok, out } from "./out.ts";

export default defineCommand({
  meta: { name: "test", description: "Send a test message to channels (default: all) and show what each platform answered" },
  args: {
    names: { type: "positional", required: false, description: "Channels or groups to test (default: every configured channel)" },
    ...tagArg,
    ...toArgs,
    ...jsonArg,
    ...configArg,
  },
  async run({ args, rawArgs }) {
    const tags = flagValues(rawArgs, ["tag"], "tag");
    const urls = flagValues(rawArgs, ["to"], "URL");
    const given = args._ as string[];
    const cfg = loadConfig(args.config, { required: given.length > 0 || tags.length > 0 || urls.length === 0 });
    const chosen = [...given, ...taggedChannels(cfg, tagAlternatives(tags))];
    const names = chosen.length || urls.length ? chosen : [...cfg.channels.keys()];
    if (names.length === 0 && urls.length === 0) throw new PpError("config", `${cfg.file}: no channels configured; add a [channels.NAME] section`);
    if (args.type !== undefined && urls.length === 0) throw new PpError("usage", "--type gives the type of --to URLs; pass --to URL with it");
    const quick = quickTargets(urls, args.type, cfg.defaults);
    const targets = [...expand(cfg, names), ...quick.targets].map((t) => ({ ...t, retries: 0 }));
    const now = Date.now();
    const text = `pp test message from ${hostname()} at ${new Date(now).toISOString()}: if you can read this, the channel works.`;
    const { openStore } = await import("../store/index.ts");
    const store = openStore(cfg.dbPath);
    try {
      // Rate limits still apply (the platform counts test messages too); nothing goes to the push log.
      const result = await dispatch(
        { id: newId(now), createdAt: now, title: "pp test", text, format: "text", source: "cli", targets: targets.map((t) => t.name) },
        targets,
        { recorder: nullRecorder, limiter: store.limiter, tokens: store.tokens, deadline: now + cfg.defaults.deadlineMs, onEvent: waitReporter(!!args.json), secrets: [...secretsOf(cfg.channels.values()), ...quick.secrets] },
      );
      if (args.json) {
        out(JSON.stringify(result.deliveries.map((d) => ({ channel: d.channel, type: d.type, ok: d.status === "delivered", latency_ms: d.latencyMs, error: d.error }))));
      } else {
        for (const d of result.deliveries) {
          const t = targets.find((x) => x.name === d.channel)!;
          const where = c.dim(`${d.type} ${t.def.target(t.opts)}`);
          if (d.status === "delivered") err(ok(`${d.channel}  ${d.latencyMs}ms  ${where}${d.error ? `  ${c.yellow(cleanLine(d.error))}` : ""}`));
          else err(bad(`${d.channel}  ${c.red(cleanLine(d.error ?? "failed"))}  ${where}`));
        }
      }
      process.exitCode = result.deliveries.some((d) => d.status === "failed") ? 1 : 0;
    } finally {
      store.close();
    }
  },
});
