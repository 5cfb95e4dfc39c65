import { defineCommand } from "./run.ts";
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { loadConfig } from "../config/load.ts";
import { configCandidates, userConfigFile } from "../config/paths.ts";
import { starterConfig } from "../config/starter.ts";
import { PpError } from "../core/errors.ts";
import { configArg } from "./args.ts";
import { err, ok, out } from "./out.ts";

const plural = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;

/** `pp config init` writes here: --config or $PP_CONFIG when given (that is what pp will read), else the per-user file. */
function initTarget(flag?: string): string {
  const explicit = configCandidates(flag).find((c) => c.explicit);
  return resolve(explicit?.path ?? userConfigFile());
}

export default defineCommand({
  meta: { name: "config", description: "Create, check or locate the configuration" },
  subCommands: {
    init: defineCommand({
      meta: { name: "init", description: "Write a commented starter config (per-user file, or --config PATH); never overwrites" },
      args: { ...configArg },
      run({ args }) {
        const file = initTarget(args.config);
        if (existsSync(file)) {
          throw new PpError("config", `${file} already exists and was left as it is; edit it, or move it aside and run pp config init again, or pass --config NEW_PATH`);
        }
        let fd: number | undefined;
        try {
          // 0700/0600: the file is where webhook keys and signing secrets end up.
          mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
          // "wx" (O_EXCL): a file that appears meanwhile, or a symlink planted at the path, is never written through.
          fd = openSync(file, "wx", 0o600);
          writeSync(fd, starterConfig());
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "EEXIST") throw new PpError("config", `${file} already exists and was left as it is; edit it, or move it aside and run pp config init again`);
          const why = code === "EACCES" || code === "EPERM" ? "permission denied" : code === "ENOSPC" ? "the disk is full" : (code ?? (e as Error).message);
          throw new PpError("config", `cannot write ${file}: ${why}; pass --config PATH to write it somewhere else`);
        } finally {
          if (fd !== undefined) closeSync(fd);
        }
        out(file);
        err(ok(`wrote a starter config with one commented example per platform to ${file}`));
        err(`next: uncomment a channel there and set its webhook, then run pp config check and pp test`);
        // ./pp.toml comes before the per-user file, so the new file would be ignored in this directory.
        const used = configCandidates(args.config).find((c) => existsSync(c.path));
        if (used && resolve(used.path) !== file) err(`note: in this directory pp reads ${resolve(used.path)} first`);
      },
    }),
    check: defineCommand({
      meta: { name: "check", description: "Validate the config file; exit 2 with the problem when it is invalid" },
      args: { ...configArg },
      run({ args }) {
        const cfg = loadConfig(args.config);
        err(ok(`${cfg.file}: ${plural(cfg.channels.size, "channel")}, ${plural(cfg.groups.size, "group")}; push log ${cfg.dbPath}`));
        if (cfg.channels.size === 0) err(`next: no channel is configured; uncomment a [channels.NAME] section in ${cfg.file}, set its webhook, and run pp config check again`);
        else if (cfg.defaults.channels.length === 0) err(`next: pp test checks each channel; pp send needs --ch NAME (or set channels under [defaults])`);
        else err("next: pp test checks each channel; then pp send \"hello\"");
      },
    }),
    path: defineCommand({
      meta: { name: "path", description: "Print the config file pp would use (valid or not), and where it looks" },
      args: { ...configArg },
      run({ args }) {
        // Only where the file is, never its contents: this is how to find a config that does not validate.
        const candidates = configCandidates(args.config);
        const found = candidates.find((c) => existsSync(c.path));
        if (found) return out(resolve(found.path));
        const explicit = candidates.find((c) => c.explicit);
        if (explicit) throw new PpError("config", `config file ${explicit.path} does not exist; create it with pp config init --config ${explicit.path}`);
        throw new PpError("config", `no config file found (pp looks for ${candidates.map((c) => c.path).join(", ")}); create one with pp config init`);
      },
    }),
  },
});
