/** The daemon's fallback alerts: workers over a real queue store, sending to local fakes. */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { alertOrigin } from "../../src/core/fallback.ts";
import { newId } from "../../src/core/id.ts";
import { secretsOf } from "../../src/core/redact.ts";
import type { DeliveryEvents } from "../../src/server/context.ts";
import { serveSettings } from "../../src/server/settings.ts";
import { Workers } from "../../src/server/workers.ts";
import { openQueueStore, type QueueStore } from "../../src/store/queue.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const quiet: DeliveryEvents = { accepted() {}, delivered() {}, failed() {}, retried() {}, expired() {}, rateWait() {} };

async function fake(): Promise<Fake> {
  const f = await startFake("webhook", { rate: false });
  cleanup.push(() => f.stop());
  return f;
}

const channel = (name: string, f: Fake, extra = "") => `[channels.${name}]\ntype = "webhook"\nurl = ${q(f.webhook)}\nretries = 0\n${extra}\n`;

async function daemon(channels: string) {
  const dir = tempDir("pp-fallback-serve-");
  writeFileSync(join(dir, "pp.toml"), `[log]\npath = ${q(join(dir, "pp.db"))}\n${channels}`);
  const cfg = loadConfig(join(dir, "pp.toml"));
  const settings = { ...serveSettings(cfg, { token: "t0ken-for-tests" }, {}), workers: 4 };
  const store: QueueStore = openQueueStore(cfg.dbPath);
  const workers = new Workers({
    queue: store.queue, limiter: store.limiter, config: () => cfg, settings: () => settings, events: quiet, secrets: () => secretsOf(cfg.channels.values()),
  });
  cleanup.push(async () => {
    await workers.stop(200);
    store.close();
  });
  workers.start();
  const send = async (names: string[], text: string) => {
    const now = Date.now();
    const id = newId(now);
    const deliveries = names.map((n) => {
      const t = cfg.channels.get(n);
      return { channel: n, type: t?.def.type ?? "webhook", target: t?.def.target(t.opts) ?? "http://127.0.0.1:9/", parts: 1 };
    });
    expect((await store.queue.enqueue({ message: { id, createdAt: now, text, format: "text", source: "api", targets: names }, deliveries })).kind).toBe("queued");
    workers.wake();
    return id;
  };
  const messages = () =>
    (store.db.query("SELECT id, source, text FROM messages ORDER BY created_at, id").all() as { id: string; source: string; text: string }[]);
  const open = () => (store.db.query("SELECT count(*) AS n FROM deliveries WHERE status IN ('queued', 'pending')").get() as { n: number }).n;
  return { cfg, store, send, messages, open };
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("daemon fallback", () => {
  test("a queued delivery that fails for good queues an alert, which the workers deliver to the fallback channel", async () => {
    const x = await fake();
    const y = await fake();
    x.fault({ kind: "status", status: 400, body: "no such hook" });
    const d = await daemon(channel("x", x, 'fallback = ["y"]') + channel("y", y));
    const id = await d.send(["x"], "backup of db1 failed");
    await until(() => y.accepted().length === 1, "the alert at y");
    const got = y.accepted()[0]!.raw;
    expect(got).toContain(`pp could not deliver message ${id} to channel x`);
    expect(got).toContain("HTTP 400");
    expect(got).toContain("backup of db1 failed");
    await until(() => d.open() === 0, "every delivery to end");
    const [original, alert] = d.messages();
    expect(original!.id).toBe(id);
    expect(alert!.source).toBe("fallback");
    expect(alertOrigin(alert!)).toBe(id);
    expect(d.store.log.get(alert!.id)!.deliveries.map((r) => [r.channel, r.status])).toEqual([["y", "delivered"]]);
  });

  test("an alert that fails raises none, though its channel has a fallback back to the first", async () => {
    const x = await fake();
    const y = await fake();
    x.fault({ kind: "status", status: 400 });
    y.fault({ kind: "status", status: 403 });
    const d = await daemon(channel("x", x, 'fallback = ["y"]') + channel("y", y, 'fallback = ["x"]'));
    const id = await d.send(["x"], "first");
    await until(() => d.messages().length === 2 && d.open() === 0, "the alert to fail");
    // Time for a second alert to be queued, were one raised.
    await Bun.sleep(300);
    expect(d.messages().map((m) => m.source)).toEqual(["api", "fallback"]);
    expect(alertOrigin(d.messages()[1]!)).toBe(id);
    expect(x.requests).toHaveLength(1);
    expect(y.requests).toHaveLength(1);
  });

  test("a delivery that succeeds, or one whose channel has no fallback, queues nothing", async () => {
    const x = await fake();
    const y = await fake();
    y.fault({ kind: "status", status: 400 });
    const d = await daemon(channel("x", x, 'fallback = ["y"]') + channel("y", y));
    await d.send(["x"], "fine");
    await d.send(["y"], "y has no fallback");
    await until(() => d.messages().length === 2 && d.open() === 0, "both messages to end");
    await Bun.sleep(300);
    expect(d.messages().map((m) => m.source)).toEqual(["api", "api"]);
  });

  test("a delivery the queue ends (its channel removed by a reload) alerts through [defaults] fallback", async () => {
    const y = await fake();
    const d = await daemon(`[defaults]\nfallback = ["y"]\n${channel("y", y)}`);
    const id = await d.send(["gone"], "for a channel since removed");
    await until(() => y.accepted().length === 1, "the alert at y");
    expect(y.accepted()[0]!.raw).toContain(`pp could not deliver message ${id} to channel gone`);
    expect(y.accepted()[0]!.raw).toContain("no longer configured");
  });
});
