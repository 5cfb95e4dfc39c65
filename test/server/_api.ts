import { afterAll, expect } from "bun:test";
import { join } from "node:path";
import { parseConfig, type Config } from "../../src/config/load.ts";
import { createApp, type AppOptions } from "../../src/server/app.ts";
import type { AppContext, RequestLine, ServeSettings } from "../../src/server/context.ts";
import { createMetrics } from "../../src/server/metrics.ts";
import { openQueueStore } from "../../src/store/queue.ts";
import { tempDir } from "../helpers.ts";

export const TOKEN = "api-token-5f0c9d2e7b1a4836";
export const TOKEN2 = "second-token-a81b27c9e04d";
export const WECOM_KEY = "3c9a1f20-77d4-4e3b-9b1c-5d2e8f6a0b71";
export const FEISHU_SECRET = "feishu-sign-secret-4c2d81";
export const SLACK_PATH = "T0AAA/B0BBB/slackpathsecret42";
export const SECRETS = [TOKEN, TOKEN2, WECOM_KEY, FEISHU_SECRET, SLACK_PATH];

export const CONFIG = (dir: string) => `
[log]
path = ${JSON.stringify(join(dir, "pp.db"))}

[channels.ops]
type = "wecom"
webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"

[channels.ops-again]
type = "wecom"
webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"
rate = "10/min"

[channels.lark]
type = "feishu"
webhook = "https://open.feishu.cn/open-apis/bot/v2/hook/abcdef01-2345-6789-abcd-ef0123456789"
secret = "${FEISHU_SECRET}"

[channels.team]
type = "slack"
webhook = "https://hooks.slack.com/services/${SLACK_PATH}"

[groups]
all = ["ops", "lark"]
`;

export function serveSettings(over: Partial<ServeSettings> = {}): ServeSettings {
  return {
    listen: "127.0.0.1:39270", tokens: [TOKEN, TOKEN2], allowAnonymous: false, channels: ["ops"], idempotencyWindowMs: 120_000,
    maxBodyBytes: 1 << 20, rate: { count: 100_000, windowMs: 60_000 }, queueMax: 100_000, workers: 16, graceMs: 10_000,
    deadlineMs: 86_400_000, user: "pp", metricsAuth: false, ...over,
  };
}

/** The app around a real queue on a temp store; no socket, no workers (nothing is ever sent). */
export function harness(over: Partial<ServeSettings> = {}, o: AppOptions = {}) {
  const dir = tempDir("pp-api-");
  let config: Config = parseConfig(CONFIG(dir), join(dir, "pp.toml"));
  const settings = serveSettings(over);
  const store = openQueueStore(config.dbPath);
  const lines: RequestLine[] = [];
  const state = { draining: false, wakes: 0, reload: { ok: true } as { ok: true } | { ok: false; error: string } };
  const events = createMetrics();
  const ctx: AppContext = {
    config: () => config,
    settings: () => settings,
    inbox: store.queue,
    events,
    wake: () => void state.wakes++,
    reload: async () => state.reload,
    draining: () => state.draining,
    logRequest: (l) => void lines.push(l),
  };
  const app = createApp(ctx, o);
  /** Every answer's text and headers, to check that no secret ever leaves. */
  const seen: string[] = [];
  const call = async (path: string, init: RequestInit & { ip?: string } = {}) => {
    const res = await app(new Request(`http://pp.test${path}`, init), init.ip);
    const text = await res.text();
    seen.push(text, JSON.stringify([...res.headers]));
    let body: any = null;
    try {
      body = JSON.parse(text);
    } catch {}
    return { res, status: res.status, text, body };
  };
  const count = (sql: string) => (store.db.query(sql).get() as { n: number }).n;
  return {
    dir, ctx, settings, store, lines, state, app, call, seen, events,
    messages: () => count("SELECT count(*) AS n FROM messages"),
    deliveries: () => count("SELECT count(*) AS n FROM deliveries"),
    setConfig: (c: Config) => void (config = c),
    close: () => store.close(),
  };
}

export const bearer = (t = TOKEN) => ({ Authorization: `Bearer ${t}` });
export const jsonBody = (x: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST", headers: { "Content-Type": "application/json", ...bearer(), ...headers }, body: JSON.stringify(x),
});
export const formBody = (x: string, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", ...bearer(), ...headers }, body: x,
});
export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * A `harness` maker for one test file: after the file's tests each harness is closed, once checked that nothing
 * it answered, headers included, and no log line held a token or a channel secret. Call it at the top level.
 */
export function checkedHarnesses(): typeof harness {
  const all: ReturnType<typeof harness>[] = [];
  afterAll(() => {
    for (const x of all) {
      const everything = [...x.seen, JSON.stringify(x.lines)].join("\n");
      for (const s of SECRETS) expect(everything).not.toContain(s);
      x.close();
    }
  });
  return (...a) => {
    const x = harness(...a);
    all.push(x);
    return x;
  };
}
