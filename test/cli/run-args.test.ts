import { describe, expect, test } from "bun:test";
import { parseArgs as cittyParse, type ArgsDef, type CommandDef } from "citty";
import { commands } from "../../src/cli/main.ts";
import { CLIError, parseArgs } from "../../src/cli/run.ts";

/** Every command's argument definitions, nested ones included (`pp config init`). */
async function allDefs(): Promise<[string, ArgsDef][]> {
  const found: [string, ArgsDef][] = [];
  const walk = async (name: string, cmd: CommandDef<any>) => {
    found.push([name, ((typeof cmd.args === "function" ? await cmd.args() : cmd.args) ?? {}) as ArgsDef]);
    const subs = (typeof cmd.subCommands === "function" ? await cmd.subCommands() : cmd.subCommands) as Record<string, any> | undefined;
    for (const [sub, c] of Object.entries(subs ?? {})) await walk(`${name} ${sub}`, typeof c === "function" ? await c() : c);
  };
  for (const [name, load] of Object.entries(commands)) await walk(name, (await load()).default);
  return found;
}

/** What a command sees of its arguments: the keys it reads, with their values. */
function view(parsed: Record<string, unknown>, defs: ArgsDef): Record<string, unknown> {
  const seen: Record<string, unknown> = { _: parsed._ };
  for (const [name, def] of Object.entries(defs)) {
    const alias = (def as { alias?: string | string[] }).alias;
    for (const key of [name, ...(Array.isArray(alias) ? alias : alias ? [alias] : [])]) seen[key] = parsed[key];
  }
  return seen;
}

function outcome(run: () => Record<string, unknown>, defs: ArgsDef): unknown {
  try {
    return view(run(), defs);
  } catch (e) {
    // citty colours the names in its messages; reportError strips that before showing them.
    return { error: (e as Error).message.replace(/\x1b\[[0-9;]*m/g, ""), name: (e as Error).name };
  }
}

/** Argument lists of the forms checkFlags accepts, built from a command's own options. */
function samples(defs: ArgsDef): string[][] {
  const lists: string[][] = [[], ["-"], ["hello", "world"], ["--", "--json", "-q"], ["a", "--", "b"]];
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const alias = (def as { alias?: string | string[] }).alias;
    const shorts = (Array.isArray(alias) ? alias : alias ? [alias] : []).filter((a) => a.length === 1);
    if (def.type === "boolean") {
      lists.push([`--${name}`], [`--no-${name}`], [`--${name}=false`], [`--${name}=yes`], ["text", `--${name}`, "more"]);
      for (const s of shorts) lists.push([`-${s}`], [`-${s}`, "text"]);
    } else {
      const value = def.type === "enum" ? ((def as { options?: string[] }).options?.[0] ?? "x") : "v1";
      lists.push(
        [`--${name}`, value], [`--${name}=${value}`], [`--${name}=`], [`--${name}`, "-"], [`--${name}`, value, "text"],
        [`--${name}`, value, `--${name}`, value === "v1" ? "v2" : value], [`--${name}`, "--", "x"],
      );
      if (def.type === "enum") lists.push([`--${name}`, "nope"], [`--${name}=NOPE`]);
      for (const s of shorts) lists.push([`-${s}`, value], [`-${s}=${value}`], ["text", `-${s}`, value]);
    }
  }
  return lists;
}

describe("the argument parser used instead of citty's", () => {
  test("gives every command the same arguments and the same errors as citty, for every option form", async () => {
    let compared = 0;
    for (const [name, defs] of await allDefs()) {
      for (const argv of samples(defs)) {
        const mine = outcome(() => parseArgs(argv, defs), defs);
        const theirs = outcome(() => cittyParse(argv, defs) as Record<string, unknown>, defs);
        expect({ command: name, argv, result: mine }).toEqual({ command: name, argv, result: theirs });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
  });

  test("a missing required positional and a bad enum value are CLIErrors, as citty's are", () => {
    expect(() => parseArgs([], { what: { type: "positional", required: true } })).toThrow(CLIError);
    expect(() => parseArgs(["--format", "html"], { format: { type: "enum", options: ["text", "markdown"] } })).toThrow(
      "Invalid value for argument: --format (html). Expected one of: text, markdown.",
    );
  });
});
