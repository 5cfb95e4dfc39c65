import type { ArgsDef } from "citty";
import { PpError } from "../core/errors.ts";
import { didYouMean } from "../core/suggest.ts";

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * citty accepts unknown flags silently, so a typo such as `--chanel ops` would send to the default
 * channels. Refuse anything the command does not declare.
 */
export function checkFlags(argv: string[], defs: ArgsDef): void {
  const known = new Map<string, string>(); // flag spelling -> type
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const type = def.type ?? "string";
    const alias = (def as { alias?: string | string[] }).alias;
    const names = [name, kebab(name), ...(Array.isArray(alias) ? alias : alias ? [alias] : [])];
    for (const n of names) {
      known.set(n, type);
      if (type === "boolean") known.set(`no-${n}`, type);
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") continue;
    const flag = a.replace(/^--?/, "").split("=")[0]!;
    const type = known.get(flag);
    if (!type) {
      // The spellings help shows (kebab-case), long ones only: a one-letter typo is one edit from any other letter.
      const list = [...known.keys()].filter((k) => !k.startsWith("no-") && k.length > 1 && k === kebab(k));
      const hint = didYouMean(flag, [...list, "help"], (n) => `"--${n}"`) || `; this command accepts ${list.map((k) => `--${k}`).join(", ") || "no options"}`;
      throw new PpError("usage", `unknown option "${a.split("=")[0]}"${hint}`);
    }
    if (type !== "boolean" && !a.includes("=")) {
      if (i + 1 >= argv.length) throw new PpError("usage", `option "${a}" needs a value`);
      i++;
    }
  }
}

/**
 * Each time one of the flags `names` (`ch`, `c`...) is given, as `--flag value` or `--flag=value`, with the
 * spelling used; up to `--`. citty keeps only the last value of a flag.
 */
export function occurrences(argv: readonly string[], names: readonly string[]): { flag: string; value: string }[] {
  const out: { flag: string; value: string }[] = [];
  const spellings = new Set(names.map((n) => (n.length === 1 ? `-${n}` : `--${n}`)));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    const eq = a.indexOf("=");
    const flag = eq === -1 ? a : a.slice(0, eq);
    if (!spellings.has(flag)) continue;
    const value = eq === -1 ? argv[++i] : a.slice(eq + 1);
    if (value !== undefined) out.push({ flag, value });
  }
  return out;
}

/** Every value of a repeatable string flag (`--ch a --ch b,c` -> [a, b, c]); citty keeps only the last one. */
export function repeated(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (const { flag, value } of occurrences(argv, names)) {
    const names = value.split(",").map((s) => s.trim()).filter(Boolean);
    // `--ch "$UNSET"` must not fall back to the default channels: an empty value is a mistake, not a choice.
    if (names.length === 0) throw new PpError("usage", `${flag} ${JSON.stringify(value)} names no channel; give a channel or group name (pp channels lists them)`);
    out.push(...names);
  }
  return out;
}

/** Arguments shared by several commands. */
export const configArg = {
  config: { type: "string", description: "Config file (default: $PP_CONFIG, ./pp.toml, user config dir, /etc/pp/config.toml)", valueHint: "path" },
} as const satisfies ArgsDef;

export const jsonArg = {
  json: { type: "boolean", description: "Print the result as JSON on stdout" },
} as const satisfies ArgsDef;

export const chArg = {
  ch: { type: "string", alias: ["c"], description: "Channel or group name; repeatable or comma-separated ($PP_CHANNELS)", valueHint: "name" },
} as const satisfies ArgsDef;

/** pp as a client of a daemon (src/cli/client.ts, loaded only when a server is named). */
export const serverArg = {
  server: { type: "string", description: "Go through a pp daemon (pp serve) at this address instead: http://host:39270, https://... or unix:/path ($PP_SERVER)", valueHint: "url" },
  token: { type: "string", description: "The daemon's token, with --server ($PP_TOKEN, which keeps it out of the process list)", valueHint: "token" },
} as const satisfies ArgsDef;

/** --server, else $PP_SERVER; an empty PP_SERVER counts as unset, so `PP_SERVER= pp send ...` sends directly. */
export function serverAddress(flag: string | undefined, token: string | undefined): string | undefined {
  const address = flag ?? (process.env.PP_SERVER || undefined);
  if (address === undefined && token !== undefined) throw new PpError("usage", "--token is the daemon's token and goes with --server URL (or PP_SERVER)");
  return address;
}
