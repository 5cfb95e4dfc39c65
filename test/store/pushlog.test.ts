import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { join } from "node:path";
import type { MessageRecord } from "../../src/core/ports.ts";
import { newId } from "../../src/core/id.ts";
import { openStore } from "../../src/store/index.ts";
import { abandoned, PushLog } from "../../src/store/pushlog.ts";
import { tempDir } from "../helpers.ts";

/** The pid of a process that has exited: its deliveries are abandoned. */
function deadPid(): number {
  return Bun.spawnSync(["true"]).pid;
}

function open() {
  const path = join(tempDir(), "pp.db");
  const store = openStore(path);
  const db = new Database(path, { strict: true });
  return { path, store, db, as: (owner: string) => new PushLog(db, owner) };
}

const FAR = () => Date.now() + 3_600_000;

function message(replayOf?: string): MessageRecord {
  const now = Date.now();
  return { id: newId(now), createdAt: now, text: "disk full", format: "text", source: replayOf ? "replay" : "cli", ...(replayOf ? { replayOf } : {}), targets: ["ops"] };
}
const start = (channel: string) => ({ channel, type: "webhook", target: "http://127.0.0.1", parts: 1 });

/** Records a delivery as `log` would for a send that got as far as `until`. */
function sent(log: PushLog, until: "pending" | "in_flight" | "delivered" | "failed", replayOf?: string, channel = "ops") {
  const m = message(replayOf);
  const [b] = log.begin(m, [start(channel)], { leaseUntil: FAR() });
  const id = b!.id!;
  if (until === "pending") return { m, id };
  const attempt = log.sending({ deliveryId: id, part: 1, parts: 1, attempt: 1, startedAt: Date.now() });
  if (until === "in_flight") return { m, id };
  const ok = until === "delivered";
  log.answered(attempt, { latencyMs: 5, httpStatus: ok ? 200 : 500, outcome: ok ? "ok" : "retryable", error: ok ? null : "500", response: "" });
  log.finish(id, { status: ok ? "delivered" : "failed", attempts: 1, latencyMs: 5, error: ok ? null : "500" });
  return { m, id };
}

describe("ownership", () => {
  test("a delivery is recorded with its owner and a lease", () => {
    const { store, db } = open();
    const lease = FAR();
    const [b] = store.log.begin(message(), [start("ops")], { leaseUntil: lease });
    const row = db.query("SELECT status, owner, lease_until FROM deliveries WHERE id = ?").get(b!.id) as any;
    expect(row).toEqual({ status: "pending", owner: `${hostname()}:${process.pid}`, lease_until: lease });
  });

  test.each([
    ["this process, lease running", (): string => `${hostname()}:${process.pid}`, 60_000, false],
    ["a process that exited", (): string => `${hostname()}:${deadPid()}`, 60_000, true],
    ["this process, lease run out", (): string => `${hostname()}:${process.pid}`, -1, true],
    ["another machine, lease running", (): string => "elsewhere:1", 60_000, false],
    ["another machine, lease run out", (): string => "elsewhere:1", -1, true],
  ] as const)("abandoned: %s", (_, owner, lease, expected) => {
    const now = Date.now();
    expect(abandoned(owner(), now + lease, now)).toBe(expected);
  });
});

describe("pp log --failed", () => {
  test("lists failed, uncertain and abandoned deliveries, not those in flight or recovered by a replay", () => {
    const { store, as } = open();
    const gone = as(`${hostname()}:${deadPid()}`);
    const failed = sent(store.log, "failed");
    const crashed = sent(gone, "pending");
    const killedInFlight = sent(gone, "in_flight");
    sent(store.log, "pending"); // this process is alive: still being sent
    const recovered = sent(store.log, "failed");
    sent(store.log, "delivered", recovered.m.id);
    store.log.finish(sent(store.log, "pending").id, { status: "uncertain", attempts: 1, latencyMs: 0, error: "second signal" });

    const listed = store.log.list({ failed: true });
    expect(listed.map((r) => r.id).sort()).toEqual(
      [failed.m.id, crashed.m.id, killedInFlight.m.id, listed.find((r) => r.status === "uncertain")!.id].sort(),
    );
    expect(listed.find((r) => r.id === crashed.m.id)!.error).toContain("stopped before finishing");
    expect(listed.find((r) => r.id === killedInFlight.m.id)!.error).toContain("may have received it");
    // --all keeps the history: the failure a replay delivered since.
    expect(store.log.list({ failed: true, all: true }).map((r) => r.id)).toContain(recovered.m.id);
    expect(store.log.list({ failed: true, limit: 2 })).toHaveLength(2);
  });

  test("replay --failed finds abandoned and uncertain deliveries, not those in flight", () => {
    const { store, as } = open();
    const gone = as(`${hostname()}:${deadPid()}`);
    const crashed = sent(gone, "pending");
    const inFlight = sent(gone, "in_flight");
    sent(store.log, "pending");
    const done = sent(store.log, "failed");
    sent(store.log, "delivered", done.m.id);
    expect(store.log.unrecovered(0)).toEqual([
      { root: crashed.m.id, channel: "ops" },
      { root: inFlight.m.id, channel: "ops" },
    ]);
  });
});

describe("claims", () => {
  const claim = { force: false, uncertain: false };

  test("a channel a replay delivered is not claimed again, unless forced", () => {
    const { store } = open();
    const orig = sent(store.log, "failed");
    const first = store.log.begin(message(orig.m.id), [start("ops")], { leaseUntil: FAR(), claim });
    expect(first[0]!.id).toBeNumber();
    store.log.finish(first[0]!.id!, { status: "delivered", attempts: 1, latencyMs: 1, error: null });
    const again = store.log.begin(message(orig.m.id), [start("ops")], { leaseUntil: FAR(), claim });
    expect(again[0]).toMatchObject({ id: null, skip: "delivered" });
    // Nothing claimed: no replay message is recorded either.
    expect(store.log.list({ limit: 100 })).toHaveLength(2);
    const forced = store.log.begin(message(orig.m.id), [start("ops")], { leaseUntil: FAR(), claim: { force: true, uncertain: false } });
    expect(forced[0]!.id).toBeNumber();
  });

  test("a channel another live process is sending is skipped and names that process", () => {
    const { store, as } = open();
    const other = as(`${hostname()}:${process.ppid}`);
    const orig = sent(other, "in_flight");
    const r = store.log.begin(message(orig.m.id), [start("ops")], { leaseUntil: FAR(), claim });
    expect(r[0]).toMatchObject({ id: null, skip: "sending" });
    expect((r[0] as any).reason).toContain(`being sent by process ${process.ppid}`);
  });

  test("an abandoned delivery is settled: resent when nothing was in flight, held back as uncertain when something was", () => {
    const { store, as } = open();
    const gone = as(`${hostname()}:${deadPid()}`);
    const crashed = sent(gone, "pending");
    const inFlight = sent(gone, "in_flight");
    const [a] = store.log.begin(message(crashed.m.id), [start("ops")], { leaseUntil: FAR(), claim });
    expect(a!.id).toBeNumber();
    const [b] = store.log.begin(message(inFlight.m.id), [start("ops")], { leaseUntil: FAR(), claim });
    expect(b).toMatchObject({ id: null, skip: "uncertain" });
    const status = (id: string) => store.log.get(id)!.deliveries[0]!;
    expect(status(crashed.m.id)).toMatchObject({ status: "failed" });
    expect(status(crashed.m.id).error).toContain("stopped before finishing");
    expect(status(inFlight.m.id)).toMatchObject({ status: "uncertain" });
    const [c] = store.log.begin(message(inFlight.m.id), [start("ops")], { leaseUntil: FAR(), claim: { force: false, uncertain: true } });
    expect(c!.id).toBeNumber();
  });

  test("a claim carries the parts the family already had accepted", () => {
    const { store, as } = open();
    const gone = as(`${hostname()}:${deadPid()}`);
    // Accepted, but the process died before it could mark the delivery delivered.
    const m = message();
    const [b] = gone.begin(m, [start("ops")], { leaseUntil: FAR() });
    const a = gone.sending({ deliveryId: b!.id!, part: 1, parts: 1, attempt: 1, startedAt: Date.now() });
    gone.answered(a, { latencyMs: 1, httpStatus: 200, outcome: "ok", error: null, response: "" });
    const [c] = store.log.begin(message(m.id), [start("ops")], { leaseUntil: FAR(), claim });
    expect(c).toMatchObject({ accepted: new Map([[1, new Set([1])]]) });
  });

  test("abandon: what was in flight becomes uncertain, what never started failed; other processes' rows stay", () => {
    const { store, as } = open();
    const other = as("elsewhere:7");
    const inFlight = sent(store.log, "in_flight");
    const waiting = sent(store.log, "pending");
    const theirs = sent(other, "pending");
    store.log.abandon([inFlight.m.id, waiting.m.id, theirs.m.id], "second SIGTERM", "interrupted by SIGTERM before sending");
    expect(store.log.get(inFlight.m.id)!.deliveries[0]).toMatchObject({ status: "uncertain", error: "second SIGTERM" });
    expect(store.log.get(waiting.m.id)!.deliveries[0]).toMatchObject({ status: "failed", error: "interrupted by SIGTERM before sending" });
    expect(store.log.get(theirs.m.id)!.deliveries[0]).toMatchObject({ status: "pending" });
  });
});
