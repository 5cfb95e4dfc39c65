/**
 * Shared machinery for the platform fakes: the HTTP server, request recording, the fault queue and a
 * sliding-window rate limiter. Each platform file only describes how its platform validates and answers.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";

export type FakeType =
  | "wecom"
  | "feishu"
  | "dingtalk"
  | "slack"
  | "discord"
  | "mattermost"
  | "webhook"
  | "pushplus"
  | "serverchan"
  | "pushover"
  | "telegram"
  | "ntfy"
  | "gotify"
  | "bark"
  | "teams"
  | "wecom_app";

export interface FakeOptions {
  /** feishu/dingtalk: require a valid signature made with this secret. wecom_app: the application's secret. */
  secret?: string;
  /** feishu/dingtalk: require this keyword in the text (19024 / 310000). */
  keyword?: string;
  /** Override the platform's default limit; `false` turns rate limiting off. */
  rate?: { count: number; windowMs: number } | false;
  /** dingtalk: how long a robot stays blocked after exceeding its limit (default 10 minutes). */
  blockMs?: number;
  /** webhook: headers that must be present with exactly these values, e.g. { authorization: "Bearer t" }. */
  requireHeaders?: Record<string, string>;
  /** webhook: answer with a JSON body that has `value` at the dotted `path`, e.g. {"errcode":0}. */
  successPath?: { path: string; value: unknown };
  /** pushplus/serverchan/pushover: the credential the fake accepts instead of a random one (a ServerChan sctp… key). */
  token?: string;
  /** pushover: the user key the fake accepts instead of a random one. */
  user?: string;
  /** wecom_app: the CorpID and AgentId the fake accepts instead of its own. */
  corpId?: string;
  agentId?: number;
  /** wecom_app: how long an access token lives (default 7200 s, as WeCom lends them). */
  tokenTtlSec?: number;
  /** wecom_app: the user ids the application can reach (default WECOM_APP_USERS). */
  users?: string[];
}

export type Fault =
  | {
      kind: "status";
      status: number;
      body?: string;
      headers?: Record<string, string>;
    }
  | { kind: "code"; code: number; msg?: string }
  | { kind: "rate_limited"; retryAfterSec?: number }
  | { kind: "timeout"; ms: number }
  | { kind: "drop" };

export interface Received {
  /** Unix milliseconds when the request arrived. */
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  raw: string;
  /** The parsed JSON payload (for form posts, the parsed `payload` field), or null. */
  json: any;
  accepted: boolean;
  /** status 0 means the connection was dropped without an answer. */
  answer: { status: number; body: string };
  /** mattermost: how many posts the server would have made from this request (it splits long text). */
  posts?: number;
  /** slack: the text was longer than Slack shows and would have been truncated. */
  truncated?: boolean;
  /**
   * Who the platform would notify, decided from the payload as the platform does ("all" for everyone, else
   * user ids, usernames or phone numbers); absent on platforms without mentions and on refused requests.
   */
  pinged?: string[];
}

export interface Fake {
  type: FakeType;
  webhook: string;
  token: string;
  requests: Received[];
  accepted(): Received[];
  fault(f: Fault, times?: number): void;
  reset(): void;
  stop(): Promise<void>;
  /** wecom_app: the application's credentials, and its access tokens. */
  app?: {
    corpId: string;
    agentId: number;
    secret: string;
    /** How many gettoken requests the platform answered. */
    gettokens(): number;
    /** Every token lent so far, oldest first (`token` is the first). */
    lent(): string[];
    /** Makes every token lent so far expired: the next send with one gets 42001. */
    expireTokens(): void;
  };
}

/** What a platform handler decides about one request. */
export interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
  accepted: boolean;
  /** Replaces the recorded `json` (e.g. a form post whose JSON sits in a field). */
  json?: unknown;
  posts?: number;
  truncated?: boolean;
  pinged?: string[];
}

export interface Ctx {
  method: string;
  url: URL;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  raw: string;
  /** Byte length of the raw body as sent. */
  bytes: number;
  /** JSON.parse of the body, or undefined when it is not JSON. */
  json: unknown;
  /** Server wall clock, Unix milliseconds, taken when the handler runs (after any injected delay). */
  now: number;
  ip: string;
}

export interface Platform {
  type: FakeType;
  token: string;
  /** The URL a user would configure, given the server's base URL (no trailing slash). */
  webhook(base: string): string;
  handle(ctx: Ctx): Reply;
  /** The platform's own answer for a body-level error code. */
  codeReply(code: number, msg: string | undefined, ctx: Ctx): Reply;
  /** The platform's own rate-limit answer. */
  rateReply(retryAfterSec: number | undefined, ctx: Ctx): Reply;
  /** Clears rate-limit and other per-platform state. */
  reset(): void;
}

export const json = (
  status: number,
  body: unknown,
  accepted = false,
  headers?: Record<string, string>,
): Reply => ({
  status,
  body: JSON.stringify(body),
  headers: { "content-type": "application/json; charset=utf-8", ...headers },
  accepted,
});

export const text = (
  status: number,
  body: string,
  accepted = false,
  headers?: Record<string, string>,
): Reply => ({
  status,
  body,
  headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  accepted,
});

/** A sliding-window log: at most `count` admitted hits in any `windowMs` span. */
export class SlidingWindow {
  private hits: number[] = [];
  constructor(
    readonly count: number,
    readonly windowMs: number,
  ) {}

  private prune(now: number): void {
    while (this.hits.length > 0 && this.hits[0]! <= now - this.windowMs)
      this.hits.shift();
  }

  /** Milliseconds until one more hit would be admitted (0 if it would be now). */
  waitMs(now: number): number {
    this.prune(now);
    if (this.hits.length < this.count) return 0;
    return this.hits[this.hits.length - this.count]! + this.windowMs - now;
  }

  add(now: number): void {
    this.hits.push(now);
  }

  remaining(now: number): number {
    this.prune(now);
    return Math.max(0, this.count - this.hits.length);
  }

  /** Milliseconds until the oldest hit in the window expires and `remaining` grows again. */
  resetAfterMs(now: number): number {
    this.prune(now);
    return this.hits.length === 0 ? 0 : this.hits[0]! + this.windowMs - now;
  }

  clear(): void {
    this.hits = [];
  }
}

/** Several windows that must all admit a hit (e.g. Feishu's 5/s and 100/min). */
export class RateLimiter {
  readonly windows: SlidingWindow[];
  constructor(
    defaults: { count: number; windowMs: number }[],
    override: FakeOptions["rate"],
  ) {
    const specs = override === false ? [] : override ? [override] : defaults;
    this.windows = specs.map((s) => new SlidingWindow(s.count, s.windowMs));
  }

  /** Admits and counts the hit, or reports how long to wait. */
  take(now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    const wait = Math.max(0, ...this.windows.map((w) => w.waitMs(now)));
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    for (const w of this.windows) w.add(now);
    return { ok: true };
  }

  clear(): void {
    for (const w of this.windows) w.clear();
  }
}

export const hex = (bytes: number): string =>
  randomBytes(bytes).toString("hex");
export const alnum = (n: number): string => {
  const chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const b = randomBytes(n);
  let out = "";
  for (let i = 0; i < n; i++) out += chars[b[i]! % chars.length];
  return out;
};
export const uuid = (): string => randomUUID();

export const hmacBase64 = (key: string, msg: string): string =>
  createHmac("sha256", key).update(msg).digest("base64");

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, "utf8");
/** Unicode code points (Go's runes). */
export const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export const isObject = (v: unknown): v is Record<string, any> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The body of a Slack-style incoming webhook: JSON, or the Slack-1 form encoding `payload=<json>` that Slack and
 * Mattermost both accept. undefined when neither parses.
 */
export function webhookPayload(ctx: Ctx): unknown {
  const type = (ctx.headers["content-type"] ?? "").split(";")[0]!.trim();
  if (type !== "application/x-www-form-urlencoded") return ctx.json;
  try {
    return JSON.parse(new URLSearchParams(ctx.raw).get("payload") ?? "");
  } catch {
    return undefined;
  }
}

/** Sets `value` at a dotted path, creating objects on the way. */
export function setPath(
  target: Record<string, any>,
  path: string,
  value: unknown,
): Record<string, any> {
  const keys = path.split(".");
  let cur = target;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(cur[k])) cur[k] = {};
    cur = cur[k];
  }
  cur[keys[keys.length - 1]!] = value;
  return target;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts the server for one platform. Faults are consumed one per request, in queue order, before the platform
 * sees the request, so a faulted request never counts against the platform's rate limit.
 */
export async function serve(platform: Platform): Promise<Fake> {
  const requests: Received[] = [];
  let faults: { fault: Fault; left: number }[] = [];

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    async fetch(req, srv) {
      const at = Date.now();
      const url = new URL(req.url);
      const raw = await req.text();
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => {
        headers[k.toLowerCase()] = v;
      });
      let parsed: unknown;
      try {
        parsed = raw === "" ? undefined : JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      const rec: Received = {
        at,
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        raw,
        json: parsed ?? null,
        accepted: false,
        answer: { status: 0, body: "" },
      };
      // Recorded on arrival so the order is arrival order even when a delayed answer finishes later.
      requests.push(rec);

      const head = faults[0];
      let fault: Fault | undefined;
      if (head) {
        fault = head.fault;
        if (--head.left <= 0) faults.shift();
      }

      const ctx = (): Ctx => ({
        method: req.method,
        url,
        path: url.pathname,
        query: rec.query,
        headers,
        raw,
        bytes: utf8Bytes(raw),
        json: parsed,
        now: Date.now(),
        ip: srv.requestIP(req)?.address ?? "127.0.0.1",
      });

      let reply: Reply;
      switch (fault?.kind) {
        case "drop":
          // Erroring the body stream before anything is written makes Bun reset the connection, so the client's
          // fetch rejects (ECONNRESET). Erroring with undefined keeps Bun from printing a stack trace.
          return new Response(
            new ReadableStream({
              start(c) {
                c.error(undefined);
              },
            }),
          );
        case "status":
          reply = {
            status: fault.status,
            body: fault.body ?? "",
            headers: {
              "content-type": "text/plain; charset=utf-8",
              ...fault.headers,
            },
            accepted: false,
          };
          break;
        case "code":
          reply = platform.codeReply(fault.code, fault.msg, ctx());
          break;
        case "rate_limited":
          reply = platform.rateReply(fault.retryAfterSec, ctx());
          break;
        case "timeout":
          // The idle timeout would otherwise cut a long hold short.
          srv.timeout(req, 0);
          await sleep(fault.ms);
          reply = platform.handle(ctx());
          break;
        default:
          reply = platform.handle(ctx());
      }

      rec.accepted = reply.accepted;
      rec.answer = { status: reply.status, body: reply.body };
      if (reply.json !== undefined) rec.json = reply.json;
      if (reply.posts !== undefined) rec.posts = reply.posts;
      if (reply.truncated !== undefined) rec.truncated = reply.truncated;
      if (reply.pinged !== undefined) rec.pinged = reply.pinged;
      const noBody = reply.status === 204 || reply.status === 304;
      return new Response(noBody ? null : reply.body, {
        status: reply.status,
        headers: reply.headers,
      });
    },
  });

  const base = `http://127.0.0.1:${server.port}`;
  return {
    type: platform.type,
    webhook: platform.webhook(base),
    token: platform.token,
    requests,
    accepted: () => requests.filter((r) => r.accepted),
    fault(f: Fault, times = 1) {
      if (times > 0) faults.push({ fault: f, left: times });
    },
    reset() {
      requests.length = 0;
      faults = [];
      platform.reset();
    },
    async stop() {
      // Forceful: a client that gave up on a held ("timeout") request must not keep the server alive.
      await server.stop(true);
    },
  };
}
