/**
 * A large push log for measuring `pp log`: N messages, two deliveries each, about 5% failed, spread over the
 * last 30 days. The schema comes from the real migrations (openDb); rows go in with plain bulk inserts.
 * The file is cached under the OS temp dir, keyed by schema version, generator version and size.
 *
 *   bun bench/pushlog.ts [messages]    # prints the path of the (cached) database
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId } from "../src/core/id.ts";
import { openDb, SCHEMA_VERSION } from "../src/store/db.ts";
import { prng } from "../test/helpers.ts";

/** Bump when the generated content changes, so stale caches are not reused. */
const GENERATOR_VERSION = 1;
const DAY = 86_400_000;

/** channel name -> type; every message goes to two different channels. */
export const CHANNELS: [string, string][] = [
  ["ops", "wecom"],
  ["dev", "slack"],
  ["alerts", "feishu"],
  ["oncall", "dingtalk"],
  ["team", "discord"],
  ["infra", "mattermost"],
  ["hook", "webhook"],
];

const ERRORS = [
  "HTTP 500: upstream error",
  "no answer within 10000 ms",
  "connection refused",
  "45009 api freq out of limit",
  "HTTP 429: rate limited (retry after 30s)",
  "93000 invalid webhook url",
];

const TEXTS = [
  "disk usage 91% on /var (host-%)",
  "backup finished in 4m12s on db-%",
  "deploy of api v2.%.0 succeeded",
  "**CPU** above 90% for 5 minutes on worker-%\n\n- load 7.9\n- top: java",
  "cron job nightly-report exited 1 on batch-%",
  "certificate for svc-%.example.com expires in 14 days",
];

export function pushlogPath(messages: number): string {
  return join(tmpdir(), "pp-bench", `pushlog-s${SCHEMA_VERSION}-g${GENERATOR_VERSION}-${messages}.db`);
}

export interface Generated {
  path: string;
  cached: boolean;
  ms: number;
  messages: number;
  deliveries: number;
  failed: number;
  /** Unix ms of the newest row; relative windows (--since) are measured against the time of generation. */
  newest: number;
}

/** The cached database for `messages` messages, generating it first when absent. */
export function ensurePushlog(messages: number, now = Date.now()): Generated {
  const path = pushlogPath(messages);
  if (existsSync(path)) {
    const db = new Database(path, { readonly: true });
    try {
      const c = db
        .query("SELECT count(*) AS n, sum(status = 'failed') AS f, max(created_at) AS newest FROM deliveries")
        .get() as { n: number; f: number; newest: number };
      const m = (db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
      return { path, cached: true, ms: 0, messages: m, deliveries: c.n, failed: c.f, newest: c.newest };
    } finally {
      db.close();
    }
  }
  mkdirSync(join(tmpdir(), "pp-bench"), { recursive: true });
  // Written under another name and renamed at the end, so an interrupted run never leaves a half-filled cache.
  const tmp = `${path}.${process.pid}.tmp`;
  const started = performance.now();
  try {
    const r = generate(tmp, messages, now);
    renameSync(tmp, path);
    return { path, cached: false, ms: performance.now() - started, ...r };
  } finally {
    for (const p of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(p, { force: true });
  }
}

function generate(path: string, messages: number, now: number): Omit<Generated, "path" | "cached" | "ms"> {
  openDb(path).close();
  const db = new Database(path, { strict: true });
  // Bulk load only: nothing else reads this file until it is complete, so durability can wait for the end.
  db.run("PRAGMA journal_mode = OFF");
  db.run("PRAGMA synchronous = OFF");
  db.run("PRAGMA cache_size = -262144");
  const rand = prng(42);
  const start = now - 30 * DAY;
  const step = (30 * DAY) / messages;
  const insMsg = db.prepare(
    "INSERT INTO messages (id, created_at, title, text, format, source, replay_of, targets) VALUES (?, ?, ?, ?, ?, 'cli', NULL, ?)",
  );
  const insDel = db.prepare(
    "INSERT INTO deliveries (message_id, channel, type, target, status, attempts, parts, latency_ms, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
  );
  let deliveries = 0;
  let failed = 0;
  let newest = 0;
  const BATCH = 50_000;
  for (let from = 0; from < messages; from += BATCH) {
    db.transaction(() => {
      for (let i = from; i < Math.min(messages, from + BATCH); i++) {
        const at = Math.round(start + i * step + rand() * step * 0.9);
        const id = newId(at);
        const a = i % CHANNELS.length;
        const b = (a + 1 + (i % (CHANNELS.length - 1))) % CHANNELS.length;
        const markdown = i % 6 === 3;
        const text = TEXTS[i % TEXTS.length]!.replace("%", String(i % 97));
        insMsg.run(id, at, i % 4 === 0 ? "nightly" : null, text, markdown ? "markdown" : "text", JSON.stringify([CHANNELS[a]![0], CHANNELS[b]![0]]));
        for (const c of [a, b]) {
          const [channel, type] = CHANNELS[c]!;
          const fail = rand() < 0.05;
          // The very newest sends may still be in flight.
          const pending = !fail && i >= messages - 3;
          const latency = fail ? 10_000 + Math.round(rand() * 20_000) : Math.round(30 + rand() * rand() * 900);
          const status = fail ? "failed" : pending ? "pending" : "delivered";
          insDel.run(
            id, channel, type, `${type}:…${String(c).padStart(4, "0")}`, status, fail ? 4 : 1,
            pending ? null : latency, fail ? ERRORS[Math.floor(rand() * ERRORS.length)]! : null, at, at + (pending ? 0 : latency),
          );
          deliveries++;
          if (fail) failed++;
          newest = Math.max(newest, at);
        }
      }
    })();
  }
  db.close();
  // Leave it as pp itself would have: WAL mode, as openDb sets.
  openDb(path).close();
  return { messages, deliveries, failed, newest };
}

if (import.meta.main) {
  const n = Number(process.argv[2] ?? 500_000);
  const g = ensurePushlog(n);
  console.log(
    `${g.path}  ${g.messages} messages, ${g.deliveries} deliveries (${g.failed} failed)  ${g.cached ? "cached" : `generated in ${(g.ms / 1000).toFixed(1)} s`}`,
  );
}
