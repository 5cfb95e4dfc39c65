import type { Target } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import { didYouMean } from "../core/suggest.ts";
import { expand, type Config } from "./load.ts";

/**
 * Channel and group names -> the channels they stand for, each destination once (`pp send` and the daemon alike).
 * `note` hears about channels left out because another one already goes to the same place.
 */
export function distinctTargets(cfg: Config, names: string[], note: (line: string) => void = () => {}): Target[] {
  const all = expand(cfg, names);
  // A single channel has none to share its destination with.
  if (all.length < 2) return all;
  const byDestination = new Map<string, Target>();
  for (const t of all) {
    const key = destination(t);
    const first = byDestination.get(key);
    if (first) note(`pp: channels ${first.name} and ${t.name} are the same ${t.def.type} destination; sending once, as ${first.name}`);
    else byDestination.set(key, t);
  }
  return [...byDestination.values()];
}

/** Settings that only shape how pp paces, routes, retries and alerts; two channels that differ only in them send the same request to the same place. */
const PACING = new Set(["rate", "timeout", "retries", "fallback", "proxy"]);

/**
 * What makes two channels one destination: the same type and the same settings that go into the request
 * (URL, secret, templates, mentions...). A generic webhook with another body template is another destination.
 */
function destination(t: Target): string {
  const canonical = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(canonical);
    if (x && typeof x === "object" && !(x instanceof Date)) {
      return Object.keys(x).sort().map((k) => [k, canonical((x as Record<string, unknown>)[k])]);
    }
    return x;
  };
  // Routing tags only choose channels, except on ntfy, where the same `tags` are sent with each message.
  const opts = Object.keys(t.opts).filter((k) => !PACING.has(k) && !(k === "tags" && t.def.type !== "ntfy")).sort().map((k) => [k, canonical(t.opts[k])]);
  return JSON.stringify([t.def.type, opts]);
}

/**
 * `--tag` values as alternatives: each value is one (repeated `--tag` is OR), its comma-separated tags must all be
 * on a channel (`--tag prod,db` is AND), as Apprise reads them.
 */
export function tagAlternatives(values: readonly string[]): string[][] {
  return values.map((v) => v.split(",").map((s) => s.trim()).filter(Boolean)).filter((a) => a.length > 0);
}

/**
 * The configured channels that carry every tag of at least one alternative, in config order. A tag no channel
 * carries is a mistake (a typo would otherwise send nowhere, or to fewer places than meant), and so is a
 * selection that matches nothing; `where` says what the tags came from ("--tag", "PP_TAGS", "field tags").
 */
export function taggedChannels(cfg: Config, alternatives: readonly string[][], where = "--tag"): string[] {
  if (alternatives.length === 0) return [];
  const known = new Set<string>();
  for (const t of cfg.channels.values()) for (const tag of (t.opts.tags as string[] | undefined) ?? []) known.add(tag);
  for (const tag of alternatives.flat()) {
    if (known.has(tag)) continue;
    const shown = [...known].sort();
    const list = shown.length > 30 ? [...shown.slice(0, 30), `and ${shown.length - 30} more`] : shown;
    const hint = didYouMean(tag, known) || (known.size ? `; tags in use: ${list.join(", ")}` : `; no channel has tags (add tags = ["..."] to a channel${cfg.file ? ` in ${cfg.file}` : ""})`);
    throw new PpError("unknown_channel", `${where}: no channel has the tag ${JSON.stringify(tag)}${hint}`);
  }
  const out: string[] = [];
  for (const [name, t] of cfg.channels) {
    const tags = new Set((t.opts.tags as string[] | undefined) ?? []);
    if (alternatives.some((all) => all.every((tag) => tags.has(tag)))) out.push(name);
  }
  if (out.length === 0) {
    const asked = alternatives.map((a) => a.join(" and ")).join(", or ");
    throw new PpError("unknown_channel", `${where}: no channel has ${alternatives.every((a) => a.length === 1) ? "the tag" : "the tags"} ${asked}; pp channels shows each channel's tags`);
  }
  return out;
}
