import * as v from "valibot";
import type { ChannelDef, Format, HttpResponse, PartContext } from "../../src/core/types.ts";

/** A fixed signing clock: 2023-11-14T22:13:20.002Z. */
export const NOW = 1_700_000_000_002;

export function res(status: number, body: string | object = "", headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: new Headers(headers), body: typeof body === "string" ? body : JSON.stringify(body) };
}

export function ctx(over: Partial<PartContext> = {}): PartContext {
  return { format: "text", index: 0, total: 1, now: NOW, ...over };
}

/** Parses a config section, failing the test with every problem when it is invalid. */
export function opts<O extends { type: string }>(def: ChannelDef<O>, input: Record<string, unknown>): O {
  const r = v.safeParse(def.schema, input);
  if (!r.success) throw new Error(problems(def, input).join("; "));
  return r.output;
}

/** "path: message" for every problem (empty when the input is valid). */
export function problems(def: ChannelDef, input: unknown): string[] {
  const r = v.safeParse(def.schema, input);
  return r.success ? [] : r.issues.map((i) => `${v.getDotPath(i) ?? ""}: ${i.message}`);
}

/** Renders, builds one part and returns the request with its parsed JSON body. */
export function send<O extends { type: string }>(def: ChannelDef<O>, o: O, text: string, c: Partial<PartContext> = {}) {
  const format: Format = c.format ?? "text";
  const req = def.build(def.render(text, format, o), ctx({ ...c, format }), o);
  return { req, json: JSON.parse(req.body ?? "null") };
}
