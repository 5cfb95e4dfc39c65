import { afterEach, expect, test } from "bun:test";
import { Workers } from "../../src/server/workers.ts";
import { secretsOf } from "../../src/core/redact.ts";
import { harness, jsonBody } from "./_api.ts";

let x: ReturnType<typeof harness> | undefined;
afterEach(() => {
  x?.close();
  x = undefined;
});

/** Fills the store up to its page limit, as a full disk does: a new message then no longer fits. */
function fill(h: ReturnType<typeof harness>): void {
  const pages = (h.store.db.query("PRAGMA page_count").get() as { page_count: number }).page_count;
  h.store.db.run(`PRAGMA max_page_count = ${pages}`);
}

test("healthz answers 503 after a message could not be stored for a full store, and 200 once a write succeeds", async () => {
  x = harness();
  expect((await x.call("/healthz")).status).toBe(200);
  fill(x);
  // Large enough to need new pages whatever free space the store still has.
  const r = await x.call("/api/text", jsonBody({ msg: "x".repeat(64 * 1024) }));
  expect(r.status).toBe(503);
  expect(r.body.code).toBe("unavailable");
  const hz = await x.call("/healthz");
  expect(hz.status).toBe(503);
  expect(hz.body).toEqual({ status: "unavailable", reason: "the store cannot be written" });
  expect((await x.call("/healthz")).status).toBe(503);
  // Room again: the next write that succeeds (a message here) makes it healthy.
  x.store.db.run("PRAGMA max_page_count = 1073741823");
  expect((await x.call("/api/text", jsonBody({ msg: "y" }))).status).toBe(200);
  expect((await x.call("/healthz")).status).toBe(200);
});

test("the heartbeat's retry write clears a remembered store failure", async () => {
  x = harness();
  fill(x);
  expect((await x.call("/api/text", jsonBody({ msg: "x".repeat(64 * 1024) }))).status).toBe(503);
  expect((await x.call("/healthz")).status).toBe(503);
  x.store.db.run("PRAGMA max_page_count = 1073741823");
  expect(x.store.queue.retryWrite()).toBe(true);
  expect((await x.call("/healthz")).status).toBe(200);
  // Nothing was changed by the retry: the schema version is what it was.
  expect(x.messages()).toBe(0);
});

test("an idle daemon's heartbeat retries the store, and /healthz recovers without a new message", async () => {
  const h = (x = harness());
  const workers = new Workers({
    queue: h.store.queue, limiter: h.store.limiter, config: h.ctx.config, settings: h.ctx.settings, events: h.events,
    secrets: () => secretsOf(h.ctx.config().channels.values()), leaseMs: 40, onError: () => {},
  });
  workers.start();
  try {
    fill(h);
    expect((await h.call("/api/text", jsonBody({ msg: "x".repeat(64 * 1024) }))).status).toBe(503);
    expect((await h.call("/healthz")).status).toBe(503);
    h.store.db.run("PRAGMA max_page_count = 1073741823");
    let status = 503;
    for (let i = 0; i < 500 && status !== 200; i++) {
      await Bun.sleep(10);
      status = (await h.call("/healthz")).status;
    }
    expect(status).toBe(200);
  } finally {
    await workers.stop(100);
  }
});
