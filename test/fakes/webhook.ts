/**
 * A generic webhook receiver: any path and method. It checks required headers, applies an optional rate limit and
 * answers either "ok" or, with `successPath`, a JSON body such as {"errcode":0} for clients that check the body.
 */
import {
  type FakeOptions,
  type Platform,
  RateLimiter,
  alnum,
  json,
  serve,
  setPath,
  text,
} from "./_base.ts";

export function webhook(opts: FakeOptions = {}) {
  const token = alnum(32);
  const limiter = new RateLimiter([], opts.rate);
  const required = Object.entries(opts.requireHeaders ?? {}).map(
    ([k, v]) => [k.toLowerCase(), v] as const,
  );
  const limited = (s: number) =>
    text(429, "Too Many Requests", false, { "retry-after": String(s) });

  const platform: Platform = {
    type: "webhook",
    token,
    webhook: (base) => `${base}/hook/${token}`,
    handle(ctx) {
      if (required.some(([k, v]) => ctx.headers[k] !== v))
        return text(401, "unauthorized");
      const r = limiter.take(ctx.now);
      if (!r.ok) return limited(Math.ceil(r.retryAfterMs / 1000));
      if (opts.successPath)
        return json(
          200,
          setPath({}, opts.successPath.path, opts.successPath.value),
          true,
        );
      return text(200, "ok", true);
    },
    // With a success path the error code goes where the success value would be, as {"errcode":N,"errmsg":...} does.
    codeReply: (code, msg) =>
      json(200, {
        ...setPath({}, opts.successPath?.path ?? "code", code),
        msg: msg ?? "error",
      }),
    rateReply: (s) => limited(s ?? 1),
    reset: () => limiter.clear(),
  };
  return serve(platform);
}
