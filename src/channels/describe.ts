import type { ChannelDef } from "../core/types.ts";

// No runtime import here: `pp --help` uses keysText, and must not load valibot for it.

/** A channel type as `pp channels --types` and `pp --help` list it. */
export interface TypeInfo {
  type: string;
  label: string;
  /** Its own config keys (not those every type takes), in the schema's order. */
  required: string[];
  optional: string[];
  /** Default rate limits. */
  rate: string[];
}

/**
 * Read off the channel's config schema, so the listing cannot fall out of step with what the config accepts.
 * `common`: the keys every type takes (commonFields), left out.
 */
export function describeType(def: ChannelDef, commonKeys: readonly string[]): TypeInfo {
  const entries = (def.schema as unknown as { entries?: Record<string, { type: string }> }).entries ?? {};
  const common = new Set(["type", ...commonKeys]);
  const own = Object.entries(entries).filter(([k]) => !common.has(k));
  const optional = (s: { type: string }) => s.type === "optional" || s.type === "exact_optional" || s.type === "nullish";
  return {
    type: def.type,
    label: def.label,
    required: own.filter(([, s]) => !optional(s)).map(([k]) => k),
    optional: own.filter(([, s]) => optional(s)).map(([k]) => k),
    rate: [...def.rate],
  };
}

/** "corp_id agent_id secret [to_user to_party]": the required keys, then the optional ones in brackets. */
export function keysText(t: TypeInfo): string {
  return [...t.required, ...(t.optional.length ? [`[${t.optional.join(" ")}]`] : [])].join(" ");
}

/**
 * The text of src/channels/catalog.ts: the listing as data, so that `pp --help` shows every type's keys without
 * loading every channel module and valibot.
 */
export function catalogModule(types: readonly TypeInfo[], commonKeys: readonly string[]): string {
  return [
    "// Generated from the channel schemas by `bun scripts/catalog.ts`; do not edit. test/cli/types.test.ts fails when",
    "// it no longer matches them. `pp --help` reads it rather than load every channel module.",
    'import type { TypeInfo } from "./describe.ts";',
    "",
    `export const COMMON: readonly string[] = ${JSON.stringify(commonKeys)};`,
    "",
    "export const CATALOG: readonly TypeInfo[] = [",
    ...types.map((t) => `  ${JSON.stringify(t)},`),
    "];",
    "",
  ].join("\n");
}
