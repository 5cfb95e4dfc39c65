import type { ArgsDef } from "citty";
import { PpError } from "../core/errors.ts";

export const atArg = {
  at: {
    type: "string",
    description: 'Mention someone: a phone number, a user id, or "all"; repeatable or comma-separated, first part of a split message only ($PP_AT)',
    valueHint: "who",
  },
} as const satisfies ArgsDef;

/**
 * Every --at value (citty keeps only the last one), else $PP_AT; checked by parseAt. An empty --at is a mistake
 * (`--at "$UNSET"`), an empty PP_AT counts as unset.
 */
export function atFrom(argv: string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    const value = a === "--at" ? argv[++i] : a.startsWith("--at=") ? a.slice(5) : undefined;
    if (value === undefined) continue;
    if (value.split(",").every((s) => s.trim() === "")) throw new PpError("usage", `--at ${JSON.stringify(value)} names no one; give a phone number, a user id or "all"`);
    values.push(value);
  }
  // The mentions' code loads only when someone is mentioned (a literal path, which the compiled binary bundles).
  const parseAt = () => (require("../core/mentions.ts") as typeof import("../core/mentions.ts")).parseAt;
  if (values.length > 0) return parseAt()(values);
  const env = process.env.PP_AT;
  return env ? parseAt()([env], "PP_AT") : [];
}
