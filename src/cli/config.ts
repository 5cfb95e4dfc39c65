import { defineCommand } from "citty";
import { createConsola } from "consola";
import { loadConfig } from "../config/load.ts";
import { configCandidates } from "../config/paths.ts";
import { configArg } from "./args.ts";
import { out } from "./out.ts";

// Diagnostics on stderr; stdout carries only data (the path).
const log = createConsola({ stdout: process.stderr, stderr: process.stderr });

export default defineCommand({
  meta: { name: "config", description: "Check the configuration or show where it is read from" },
  subCommands: {
    check: defineCommand({
      meta: { name: "check", description: "Validate the config file; exit 2 with the problem when it is invalid" },
      args: { ...configArg },
      run({ args }) {
        const cfg = loadConfig(args.config);
        const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
        log.success(`${cfg.file}: ${n(cfg.channels.size, "channel")}, ${n(cfg.groups.size, "group")}; push log ${cfg.dbPath}`);
        if (cfg.defaults.channels.length === 0) log.info("no defaults.channels: pp send needs --ch NAME");
      },
    }),
    path: defineCommand({
      meta: { name: "path", description: "Print the config file pp would use, and where it looks" },
      args: { ...configArg },
      run({ args }) {
        const cfg = loadConfig(args.config, { required: false });
        if (cfg.file) out(cfg.file);
        else log.warn(`no config file found; pp looks for: ${configCandidates(args.config).map((c) => c.path).join(", ")}`);
        process.exitCode = cfg.file ? 0 : 2;
      },
    }),
  },
});
