import { configNames } from "../config/names.ts";
import { outAsync } from "./out.ts";

/**
 * `pp channels --names`: the channel and group names, one per line. Shell completion runs it on every <TAB>, so a
 * broken or missing config prints nothing rather than an error, and a plain config is read without the TOML parser
 * and the validation (config/names.ts), which would be most of this command's time.
 */
export async function printNames(configFlag: string | undefined): Promise<void> {
  try {
    let names = configNames(configFlag);
    if (names === undefined) {
      const cfg = (await import("../config/load.ts")).loadConfig(configFlag, { required: false });
      names = [...cfg.channels.keys(), ...cfg.groups.keys()];
    }
    if (names.length) await outAsync(names.join("\n"));
  } catch {}
}

/**
 * The config flag of a command line that is exactly `channels --names` with at most `--config PATH` (either order,
 * `--config=PATH` too), as the completion scripts run it: main() then answers before loading the command tree.
 * Undefined for any other command line, which takes the usual way (and its checks).
 */
export function namesOnly(argv: readonly string[]): { config: string | undefined } | undefined {
  if (argv[0] !== "channels" || argv.length > 4) return undefined;
  let names = false;
  let config: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--names" && !names) names = true;
    else if (a === "--config" && config === undefined && i + 1 < argv.length && argv[i + 1] !== "" && !argv[i + 1]!.startsWith("-")) config = argv[++i];
    else if (a.startsWith("--config=") && config === undefined && a.length > 9) config = a.slice(9);
    else return undefined;
  }
  return names ? { config } : undefined;
}
