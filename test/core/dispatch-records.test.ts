/**
 * The dispatch core and the push log together: every request is recorded before it goes out, a store that
 * cannot be written stops sending without losing what happened, and an interrupt lets requests in flight finish.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { join } from "node:path";
import { dispatch, plan, type DispatchOptions, type Target } from "../../src/core/dispatch.ts";
import { newId } from "../../src/core/id.ts";
import type { MessageRecord, Recorder } from "../../src/core/ports.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { PushLog } from "../../src/store/pushlog.ts";
import { q, tempDir, virtualClock } from "../helpers.ts";

const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

/** A local platform that answers "ok" to every request, after running `onRequest` (with the request's body). */
function platform(onRequest: (body: string) => unknown = () => {}) {
  const bodies: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = await req.text();
      bodies.push(body);
      await onRequest(body);
      return new Response("ok");
    },
  });
  stops.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}/services/T0/B0/x`, bodies };
}

function channel(url: string, name = "c", extra = ""): Target {
  const rate = extra.includes("rate") ? "" : 'rate = "100/s"\n';
  return parseConfig(`[channels.${name}]\ntype = "slack"\nwebhook = ${q(url)}\n${rate}${extra}\n`, "t.toml").channels.get(name)!;
}

function workspace() {
  const path = join(tempDir(), "pp.db");
  const store = openStore(path);
  stops.push(() => store.close());
  return { path, store };
}

function msg(text = "disk full", replayOf?: string): MessageRecord {
  const now = Date.now();
  return { id: newId(now), createdAt: now, text, format: "text", source: replayOf ? "replay" : "cli", ...(replayOf ? { replayOf } : {}), targets: ["c"] };
}

function run(store: Store, recorder: Recorder, targets: Target[], m: MessageRecord, o: Partial<DispatchOptions> = {}) {
  return dispatch(m, targets, { recorder, limiter: store.limiter, deadline: Date.now() + 30_000, random: () => 0.5, ...o });
}

const attempts = (db: Database) => db.query("SELECT part, outcome FROM attempts ORDER BY id").all() as { part: number; outcome: string }[];

/** A process id that no longer exists: deliveries it owns count as abandoned once it is "gone". */
const deadOwner = () => `${hostname()}:${Bun.spawnSync(["true"]).pid}`;

describe("write-ahead attempts", () => {
  test("each request is in the push log as 'sending' before the platform sees it", async () => {
    const { path, store } = workspace();
    const reader = new Database(path, { readonly: true });
    const seen: unknown[] = [];
    const p = platform(() => seen.push(attempts(reader)));
    const r = await run(store, store.log, [channel(p.url)], msg());
    expect(seen).toEqual([[{ part: 1, outcome: "sending" }]]);
    expect(r.deliveries[0]).toMatchObject({ status: "delivered", recorded: true, sent: true });
    expect(attempts(reader)).toEqual([{ part: 1, outcome: "ok" }]);
    reader.close();
  });

  test("a request that cannot be recorded is not sent", async () => {
    const { store } = workspace();
    const p = platform();
    const full = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    const recorder: Recorder = {
      begin: (m, d, o) => store.log.begin(m, d, o),
      sending: () => {
        throw full;
      },
      answered: (id, a) => store.log.answered(id, a),
      finish: (id, f) => store.log.finish(id, f),
    };
    const clock = virtualClock();
    const r = await run(store, recorder, [channel(p.url)], msg(), { clock, storeWaitMs: 2_000 });
    expect(p.bodies).toEqual([]);
    expect(r.unrecorded).toBe(full);
    expect(r.deliveries[0]).toMatchObject({ status: "failed", sent: false, error: "not sent: the push log cannot be written" });
    // It was tried again, with backoff, for the whole budget before pp gave up.
    expect(clock.slept.length).toBeGreaterThan(3);
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2_000);
  });
});

describe("a push log locked after the request", () => {
  test("returns the real outcome, stops sending and leaves the part uncertain so no replay resends it", async () => {
    const { path, store } = workspace();
    const locker = new Database(path);
    stops.push(() => locker.close());
    // Another process takes the write lock the moment the platform receives the first part, and keeps it.
    const p = platform(() => {
      if (!locker.inTransaction) locker.run("BEGIN IMMEDIATE");
    });
    const t = channel(p.url);
    const text = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(3, "0")} of a long report`).join("\n");
    expect(plan(t, undefined, text, "text", 0).parts.length).toBeGreaterThan(1);
    const log = new PushLog(new Database(path, { strict: true }), deadOwner());
    log.busyTimeout(20);
    const m = msg(text);
    const r = await run(store, log, [t], m, { storeWaitMs: 300 });

    expect(p.bodies).toHaveLength(1);
    expect(r.unrecorded).toBeDefined();
    expect(r.deliveries[0]).toMatchObject({ status: "failed", recorded: false, sent: true });
    expect(r.deliveries[0]!.error).toContain("part 2/");
    expect(r.deliveries[0]!.error).toContain("not sent: the push log cannot be written");

    locker.run("ROLLBACK");
    expect(attempts(locker)).toEqual([{ part: 1, outcome: "sending" }]);
    // The owner is gone: a replay finds the part in flight when it stopped, and leaves the message alone.
    const replay = await run(store, store.log, [t], msg(text, m.id), { claim: { force: false, uncertain: false } });
    expect(replay.deliveries[0]).toMatchObject({ status: "skipped", skip: "uncertain" });
    expect(p.bodies).toHaveLength(1);
  });
});

describe("interrupt", () => {
  test("a request in flight finishes and is recorded; a delivery waiting for its turn stops at once", async () => {
    const { store } = workspace();
    const stop = new AbortController();
    let release!: () => void;
    const answered = new Promise<void>((r) => (release = r));
    const slow = platform(async () => {
      stop.abort("interrupted by SIGTERM");
      await Bun.sleep(200);
      release();
    });
    const waiting = platform();
    // Its only slot is taken: the second message waits an hour, unless interrupted.
    const limited = channel(waiting.url, "w", 'rate = "1/h"');
    await run(store, store.log, [limited], msg("first"));
    const r = await run(store, store.log, [channel(slow.url, "s"), limited], msg("second"), { interrupt: stop.signal, deadline: Date.now() + 2 * 3_600_000 });
    await answered;
    expect(r.interrupted).toBe("interrupted by SIGTERM");
    expect(r.deliveries.map((d) => [d.channel, d.status, d.error])).toEqual([
      ["s", "delivered", null],
      ["w", "failed", "interrupted by SIGTERM before sending"],
    ]);
    expect(waiting.bodies).toHaveLength(1);
    expect(store.log.get(r.id)!.deliveries.map((d) => d.status)).toEqual(["delivered", "failed"]);
  });

  test("a retry waiting out its backoff is not tried again and keeps the error that caused it", async () => {
    const { store } = workspace();
    const stop = new AbortController();
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => {
        stop.abort("interrupted by SIGINT");
        return new Response("boom", { status: 503 });
      },
    });
    stops.push(() => server.stop(true));
    const t = channel(`http://127.0.0.1:${server.port}/services/T0/B0/x`, "c", "retries = 5");
    const r = await run(store, store.log, [t], msg(), { interrupt: stop.signal });
    expect(r.deliveries[0]!.status).toBe("failed");
    expect(r.deliveries[0]!.attempts).toBe(1);
    expect(r.deliveries[0]!.error).toContain("not retried: interrupted by SIGINT");
  });
});

describe("replays", () => {
  test("a part the family already had accepted is not sent again, even for a one-part message", async () => {
    const { path, store } = workspace();
    const p = platform();
    const t = channel(p.url);
    // Accepted, then the process died before it marked the delivery delivered.
    const gone = new PushLog(new Database(path, { strict: true }), deadOwner());
    const m = msg();
    const [b] = gone.begin(m, [{ channel: "c", type: "slack", target: "x", parts: 1 }], { leaseUntil: Date.now() + 60_000 });
    gone.answered(gone.sending({ deliveryId: b!.id!, part: 1, parts: 1, attempt: 1, startedAt: Date.now() }), {
      latencyMs: 1, httpStatus: 200, outcome: "ok", error: null, response: "ok",
    });
    const r = await run(store, store.log, [t], msg(m.text, m.id), { claim: { force: false, uncertain: false } });
    expect(r.deliveries[0]).toMatchObject({ status: "delivered", attempts: 0 });
    expect(p.bodies).toEqual([]);
  });
});
