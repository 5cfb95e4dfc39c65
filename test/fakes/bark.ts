/**
 * Bark server: https://github.com/Finb/bark-server (docs/API_V2.md). POST /push with a JSON body holding
 * device_key (or device_keys for a batch), title, body and options; answers {"code":200,"message":"success",
 * "timestamp":…} with the HTTP status mirroring `code`. An unknown key answers 400 "failed to get device token"
 * quoting the key, as bark-server does. APNs refuses a payload over 4096 bytes (bark-server then answers 500).
 */
import { type FakeOptions, type Platform, RateLimiter, alnum, isObject, json, serve, utf8Bytes } from "./_base.ts";

const LEVELS = new Set(["active", "timeSensitive", "passive", "critical"]);
const APNS_MAX = 4096;

export function bark(opts: FakeOptions = {}) {
  const token = alnum(22);
  // More devices the fake knows, for batch pushes.
  const known = new Set([token, ...(opts.token ? [opts.token] : [])]);
  // Bark has no limit of its own; `rate` stands for a proxy in front of it.
  const limiter = new RateLimiter([], opts.rate);
  const reply = (code: number, message: string, extra: Record<string, unknown> = {}, accepted = false) =>
    json(code, { code, message, timestamp: Math.floor(Date.now() / 1000), ...extra }, accepted);

  const platform: Platform = {
    type: "bark",
    token,
    webhook: (base) => `${base}/${token}`,
    handle(ctx) {
      // POST /push, or a JSON body POSTed to /:device_key (newer servers route both to the V2 handler).
      const byPath = /^\/([A-Za-z0-9_-]+)\/?$/.exec(ctx.path)?.[1];
      if ((ctx.path !== "/push" && byPath === undefined) || ctx.method !== "POST") return reply(404, "404 page not found");
      const r = limiter.take(ctx.now);
      if (!r.ok) return { ...reply(429, "too many requests"), headers: { "content-type": "application/json", "retry-after": String(Math.ceil(r.retryAfterMs / 1000)) } };
      const p = isObject(ctx.json) && byPath !== undefined && byPath !== "push" ? { device_key: byPath, ...ctx.json } : ctx.json;
      if (!isObject(p)) return reply(400, "request bind failed: invalid JSON");
      const keys: unknown[] = Array.isArray(p.device_keys) && p.device_keys.length > 0 ? p.device_keys : [p.device_key];
      if (keys.some((k) => typeof k !== "string" || k === "")) return { ...reply(400, "device key is empty"), json: p };
      if (p.level !== undefined && !LEVELS.has(p.level)) return { ...reply(400, `request bind failed: invalid level ${String(p.level)}`), json: p };
      for (const f of ["title", "body", "group", "sound", "icon", "url"]) {
        if (p[f] !== undefined && typeof p[f] !== "string") return { ...reply(400, `request bind failed: ${f} must be a string`), json: p };
      }
      const apns = { aps: { alert: { title: p.title ?? "", body: p.body ?? "" }, sound: p.sound ?? "1107", "thread-id": p.group ?? "Default" }, icon: p.icon, url: p.url, group: p.group, level: p.level };
      if (utf8Bytes(JSON.stringify(apns)) > APNS_MAX) return { ...reply(500, "push failed: PayloadTooLarge"), json: p };
      const results = (keys as string[]).map((k) =>
        known.has(k) ? { code: 200, device_key: k, message: "success" } : { code: 400, device_key: k, message: `failed to get device token: failed to get [${k}] device token from database` },
      );
      if (keys.length === 1) {
        const r = results[0]!;
        return r.code === 200 ? { ...reply(200, "success", {}, true), json: ctx.json } : { ...reply(400, r.message), json: p };
      }
      const ok = results.every((r) => r.code === 200);
      return { ...reply(200, "success", { data: results }, ok), json: ctx.json };
    },
    codeReply: (code, msg) => reply(code >= 400 && code < 600 ? code : 400, msg ?? "error"),
    rateReply: (s) => ({ ...reply(429, "too many requests"), headers: { "content-type": "application/json", "retry-after": String(s ?? 1) } }),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
