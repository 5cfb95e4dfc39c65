import type { ArgsDef, CommandDef } from "citty";

/**
 * Runs a command with its arguments parsed as citty's runCommand parses them, for the forms checkFlags lets
 * through: `--name value`, `--name=value`, `-a value`, `-a=value` (a short flag's value is all that follows
 * the letter, "=value" here, as in citty), `--no-name`, `--bool=false`, `-` and everything after `--` as text.
 * citty's parser loads node:util, which costs every `pp send` a few milliseconds at start-up.
 */
export async function runWithArgs(cmd: CommandDef<any>, rawArgs: string[]): Promise<void> {
  const defs = ((typeof cmd.args === "function" ? await cmd.args() : cmd.args) ?? {}) as ArgsDef;
  const args = parseArgs(rawArgs, defs);
  await cmd.run?.({ rawArgs, args, cmd } as never);
}

/**
 * A command in citty's shape. citty's own defineCommand only returns its argument, but importing it loads citty
 * and node:util with it (several milliseconds for each short pp process): every command uses this one instead.
 */
export const defineCommand = <T extends ArgsDef>(def: CommandDef<T>): CommandDef<T> => def;

/** citty's error for arguments it cannot take; reportError shows it as a usage error. */
export class CLIError extends Error {
  override name = "CLIError";
  constructor(message: string, readonly code = "EARG") {
    super(message);
  }
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
const kebab = (s: string) => s.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);

type Parsed = Record<string, unknown> & { _: string[] };

export function parseArgs(rawArgs: string[], defs: ArgsDef): Parsed {
  // Every spelling of each option -> the option's name and type.
  const spelled = new Map<string, { name: string; type: string }>();
  const spellings = new Map<string, string[]>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const alias = (def as { alias?: string | string[] }).alias;
    const all = [...new Set([name, camel(name), kebab(name), ...(Array.isArray(alias) ? alias : alias ? [alias] : [])])];
    const type = def.type === "boolean" ? "boolean" : "string";
    for (const s of all) spelled.set(s, { name, type });
    spellings.set(name, all);
  }
  const values = new Map<string, unknown>();
  const positionals: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") {
      positionals.push(...rawArgs.slice(i + 1));
      break;
    }
    if (a.startsWith("--no-")) {
      const opt = spelled.get(a.slice(5));
      values.set(opt?.name ?? a.slice(5), false);
      continue;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    const long = a.startsWith("--");
    const eq = long ? a.indexOf("=") : -1;
    const flag = long ? a.slice(2, eq === -1 ? undefined : eq) : a[1]!;
    const opt = spelled.get(flag);
    const key = opt?.name ?? flag;
    let value: unknown;
    if (long && eq !== -1) value = a.slice(eq + 1);
    else if (!long && a.length > 2) value = opt?.type === "string" ? a.slice(2) : true;
    else if (opt?.type === "string" && i + 1 < rawArgs.length) value = rawArgs[++i];
    else value = true;
    if (opt?.type === "boolean" && typeof value === "string") value = value !== "false";
    else if (opt?.type === "string" && typeof value === "boolean") value = "";
    values.set(key, value);
  }
  const out = { _: positionals } as Parsed;
  for (const [key, value] of values) {
    for (const s of spellings.get(key) ?? [key]) out[s] = value;
  }
  const rest = [...positionals];
  for (const [name, def] of Object.entries(defs)) {
    const d = def as { type?: string; required?: boolean; default?: unknown; options?: string[] };
    if (d.type === "positional") {
      const next = rest.shift();
      if (next !== undefined) out[name] = next;
      else if (d.default === undefined && d.required !== false) throw new CLIError(`Missing required positional argument: ${name.toUpperCase()}`);
      else out[name] = d.default;
      continue;
    }
    if (out[name] === undefined && d.default !== undefined) {
      for (const s of spellings.get(name) ?? [name]) out[s] = d.default;
    }
    if (d.type === "enum") {
      const v = out[name];
      if (v !== undefined && d.options?.length && !d.options.includes(v as string)) {
        throw new CLIError(`Invalid value for argument: --${name} (${v}). Expected one of: ${d.options.join(", ")}.`);
      }
    } else if (d.required && out[name] === undefined) {
      throw new CLIError(`Missing required argument: --${name}`);
    }
  }
  return out;
}
