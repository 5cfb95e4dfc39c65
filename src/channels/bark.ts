import * as v from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import {
  markdown,
  bodyJson,
  byteLength,
  classifyHttp,
  commonFields,
  errorText,
  httpUrl,
  parseJson,
  postJson,
  rateKeyOf,
  showUrl,
  unexpected,
} from "./_common.ts";
import { apiSecrets } from "./_api.ts";

// Bark app: https://github.com/Finb/Bark ; server API: https://github.com/Finb/bark-server/blob/master/docs/API_V2.md
const DOCS = "https://github.com/Finb/bark-server/blob/master/docs/API_V2.md";
const DEFAULT_SERVER = "https://api.day.app";
/**
 * Not documented by Bark: an APNs payload is at most 4 KB, and it carries the title, the body and Bark's
 * fields. 3000 bytes of title and body leave room for the rest.
 */
const MAX_BYTES = 3000;
/** Bark documents no rate limit; APNs throttles a device that gets too many. */
const RATE: string[] = [];

const key = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/, "must be a Bark device key (letters and digits)"));

const schema = v.pipe(
  v.strictObject({
    type: v.literal("bark"),
    key: v.optional(key),
    /** Several devices; sent in one request with the batch field device_keys. */
    keys: v.optional(v.pipe(v.array(key), v.minLength(1, "must list at least one key"))),
    server: v.optional(httpUrl, DEFAULT_SERVER),
    group: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
    level: v.optional(v.picklist(["active", "timeSensitive", "passive", "critical"], "must be active, timeSensitive, passive or critical")),
    sound: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
    icon: v.optional(httpUrl),
    /** Opened when the notification is tapped; any scheme the phone knows (https:, or an app's own). */
    url: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, "must be a URL"))),
    ...commonFields,
  }),
  v.forward(v.check((o) => o.key !== undefined || o.keys !== undefined, "is required (or keys, for several devices)"), ["key"]),
  v.forward(v.check((o) => o.key === undefined || o.keys === undefined, "set key or keys, not both"), ["keys"]),
  // Bark's own documentation: batch push needs bark-server 2.1.9 or later, and the public api.day.app does not take it.
  v.forward(
    v.check(
      (o) => (o.keys?.length ?? 0) < 2 || new URL(o.server).host !== new URL(DEFAULT_SERVER).host,
      "several keys go in one batch request, which api.day.app does not accept; set server to your own bark-server (2.1.9 or later), or make one bark channel per key and put them in a group",
    ),
    ["keys"],
  ),
);
export type BarkOptions = v.InferOutput<typeof schema>;

function allKeys(o: BarkOptions): string[] {
  return o.keys ?? (o.key === undefined ? [] : [o.key]);
}

function pushUrl(o: BarkOptions): string {
  return `${o.server.replace(/\/+$/, "")}/push`;
}

function build(part: string, ctx: PartContext, o: BarkOptions): HttpRequest {
  const keys = allKeys(o);
  const payload: Record<string, unknown> = keys.length === 1 ? { device_key: keys[0] } : { device_keys: keys };
  if (ctx.title !== undefined) payload.title = ctx.title;
  payload.body = part;
  for (const f of ["group", "level", "sound", "icon", "url"] as const) if (o[f] !== undefined) payload[f] = o[f];
  return postJson(pushUrl(o), payload);
}

/** Answers are {"code":200,"message":"success"}; a batch adds one such result per key in `data`. */
function classify(res: HttpResponse): Outcome {
  const json = parseJson(res.body) as { code?: unknown; message?: unknown; data?: unknown } | undefined;
  if (res.status >= 200 && res.status < 300) {
    if (json?.code !== 200) return unexpected(res);
    const failed = Array.isArray(json.data)
      ? json.data.find((d) => d !== null && typeof d === "object" && typeof d.code === "number" && d.code !== 200)
      : undefined;
    if (failed === undefined) return { kind: "ok" };
    return { kind: "permanent", code: failed.code, error: errorText(`a device failed: ${String(failed.message ?? failed.code)}`) };
  }
  const http = classifyHttp(res);
  if (typeof json?.message !== "string") return http;
  const hint = /device token|device key/i.test(json.message) ? " (check key: copy it again from the Bark app)" : "";
  return { ...http, code: typeof json.code === "number" ? json.code : res.status, error: errorText(json.message) + hint };
}

const bark: ChannelDef<BarkOptions> = {
  type: "bark",
  label: "Bark (iOS push)",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_BYTES, unit: "bytes", scope: "content" }),
  measure: (req) => {
    const body = bodyJson(req.body);
    return byteLength(body.body) + byteLength(body.title ?? "");
  },
  // A notification shows plain text: Markdown is reduced to it.
  render: (text, format) => (format === "markdown" ? markdown().toPlain(text) : text),
  build,
  classify,
  secrets: (o) => [...allKeys(o), ...apiSecrets(o.server)],
  // Only "push" shows: a key (in Bark's older URL forms) or a relay's path may be secret.
  target: (o, url = pushUrl(o)) => showUrl(url, ["push"]),
  rateKey: (o) => rateKeyOf("bark", `${pushUrl(o)}\n${allKeys(o).join(",")}`),
};

export default bark;
