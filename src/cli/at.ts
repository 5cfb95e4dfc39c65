import type { ArgsDef } from "citty";
import { PpError } from "../core/errors.ts";
import { occurrences } from "./args.ts";

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
  const values = occurrences(argv, ["at"]).map(({ value }) => {
    if (value.split(",").every((s) => s.trim() === "")) throw new PpError("usage", `--at ${JSON.stringify(value)} names no one; give a phone number, a user id or "all"`);
    return value;
  });
  // The mentions' code loads only when someone is mentioned (a literal path, which the compiled binary bundles).
  const parseAt = () => (require("../core/mentions.ts") as typeof import("../core/mentions.ts")).parseAt;
  if (values.length > 0) return parseAt()(values);
  const env = process.env.PP_AT;
  return env ? parseAt()([env], "PP_AT") : [];
}
