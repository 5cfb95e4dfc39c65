import { defineCommand } from "citty";
import { loadConfig } from "../config/load.ts";
import { configCandidates } from "../config/paths.ts";
import { configArg } from "./args.ts";
import { err, ok, out } from "./out.ts";

export default defineCommand({
  meta: { name: "config", description: "Check the configuration or show where it is read from" },
  subCommands: {
    check: defineCommand({
      meta: { name: "check", description: "Validate the config file; exit 2 with the problem when it is invalid" },
      args: { ...configArg },
      run({ args }) {
        const cfg = loadConfig(args.config);
        err(ok(`${cfg.file}: ${cfg.channels.size} channel${cfg.channels.size === 1 ? "" : "s"}, ${cfg.groups.size} group${cfg.groups.size === 1 ? "" : "s"}; push log ${cfg.dbPath}`));
      },
    }),
    path: defineCommand({
      meta: { name: "path", description: "Print the config file pp would use, and where it looks" },
      args: { ...configArg },
      run({ args }) {
        const cfg = loadConfig(args.config, { required: false });
        if (cfg.file) out(cfg.file);
        else err(`no config file found; pp looks for: ${configCandidates(args.config).map((c) => c.path).join(", ")}`);
        process.exitCode = cfg.file ? 0 : 2;
      },
    }),
  },
});
