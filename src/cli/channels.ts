import { defineCommand } from "citty";
import { loadConfig } from "../config/load.ts";
import { configArg, jsonArg } from "./args.ts";
import { out, table } from "./out.ts";

export default defineCommand({
  meta: { name: "channels", description: "List configured channels and groups (destinations redacted)" },
  args: {
    names: { type: "boolean", description: "Only the channel and group names, one per line (for shell completion)" },
    ...jsonArg,
    ...configArg,
  },
  run({ args }) {
    if (args.names) {
      // Completion calls this on every <TAB>: a broken or missing config prints nothing rather than an error.
      try {
        const cfg = loadConfig(args.config, { required: false });
        for (const n of [...cfg.channels.keys(), ...cfg.groups.keys()]) out(n);
      } catch {}
      return;
    }
    const cfg = loadConfig(args.config);
    const rows = [...cfg.channels.values()].map((t) => ({
      name: t.name, type: t.def.type, target: t.def.target(t.opts), rate: t.rateText || null, retries: t.retries, timeout_ms: t.timeoutMs,
    }));
    const groups = Object.fromEntries(cfg.groups);
    if (args.json) return out(JSON.stringify({ config: cfg.file, channels: rows, groups, defaults: cfg.defaults.channels }, null, 2));
    out(table(["NAME", "TYPE", "TARGET", "RATE"], rows.map((r) => [r.name, r.type, r.target, r.rate ?? "-"])));
    if (cfg.groups.size) out(`\n${table(["GROUP", "MEMBERS"], [...cfg.groups].map(([g, m]) => [g, m.join(", ")]))}`);
    if (cfg.defaults.channels.length) out(`\ndefault: ${cfg.defaults.channels.join(", ")}`);
  },
});
