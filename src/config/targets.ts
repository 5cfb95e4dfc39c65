import type { Target } from "../core/dispatch.ts";
import { expand, type Config } from "./load.ts";

/**
 * Channel and group names -> the channels they stand for, each destination once (`pp send` and the daemon alike).
 * `note` hears about channels left out because another one already goes to the same place.
 */
export function distinctTargets(cfg: Config, names: string[], note: (line: string) => void = () => {}): Target[] {
  const byDestination = new Map<string, Target>();
  for (const t of expand(cfg, names)) {
    const key = destination(t);
    const first = byDestination.get(key);
    if (first) note(`pp: channels ${first.name} and ${t.name} are the same ${t.def.type} destination; sending once, as ${first.name}`);
    else byDestination.set(key, t);
  }
  return [...byDestination.values()];
}

/** Settings that only shape how pp paces and retries; two channels that differ only in them send the same request. */
const PACING = new Set(["rate", "timeout", "retries"]);

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
  const opts = Object.keys(t.opts).filter((k) => !PACING.has(k)).sort().map((k) => [k, canonical(t.opts[k])]);
  return JSON.stringify([t.def.type, opts]);
}
