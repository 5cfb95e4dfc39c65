import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { backoff, dispatch, fmtMs, plan, type Target } from "../../src/core/dispatch.ts";
import { newId, idTime } from "../../src/core/id.ts";
import type { Recorder } from "../../src/core/ports.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir, virtualClock } from "../helpers.ts";

let fakes: Fake[] = [];
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await Promise.all(fakes.map((f) => f.stop()));
  fakes = [];
});

async function target(type: "wecom" | "webhook" | "slack", extra = ""): Promise<{ t: Target; fake: Fake }> {
  const fake = await startFake(type, { rate: false });
  fakes.push(fake);
  const key = type === "webhook" ? "url" : "webhook";
  const cfg = parseConfig(`[channels.c]\ntype = ${q(type)}\n${key} = ${q(fake.webhook)}\n${extra}\n`, "t.toml");
  return { t: cfg.channels.get("c")!, fake };
}

function send(targets: Target[], text: string, deadlineIn = 60_000, clock = virtualClock()) {
  store ??= openStore(join(tempDir(), "pp.db"));
  const now = Date.now();
  return dispatch(
    { id: newId(now), createdAt: now, text, format: "text", source: "cli", targets: targets.map((t) => t.name) },
    targets,
    { recorder: store.log, limiter: store.limiter, deadline: now + deadlineIn, clock, random: () => 0.5 },
  );
}

describe("plan", () => {
  test("a message that fits is one part, untouched", async () => {
    const { t } = await target("wecom");
    expect(plan(t, "T", "hello", "text", 0)).toEqual({ parts: ["hello"], titles: ["T"] });
  });

  test("split parts each fit the platform's byte limit and carry (i/n) in the title", async () => {
    const { t } = await target("wecom");
    const text = Array.from({ length: 400 }, (_, i) => `${i} 磁盘空间不足 on host-${i}`).join("\n");
    const p = plan(t, "Disk", text, "text", 0);
    expect(p.parts.length).toBeGreaterThan(3);
    p.parts.forEach((part, i) => {
      expect(p.titles[i]).toBe(`Disk (${i + 1}/${p.parts.length})`);
      const req = t.def.build(part, { title: p.titles[i], format: "text", index: i, total: p.parts.length, now: 0 }, t.opts);
      expect(t.def.measure(req, t.opts, { format: "text" })).toBeLessThanOrEqual(2048);
    });
    expect(p.parts.join("\n")).toBe(text);
  });

  test("without a title the marker opens each part", async () => {
    const { t } = await target("slack");
    const p = plan(t, undefined, "x".repeat(50) + "\n" + "y ".repeat(4000), "text", 0);
    expect(p.parts.length).toBeGreaterThan(1);
    p.parts.forEach((part, i) => expect(part.startsWith(`(${i + 1}/${p.parts.length})\n`)).toBe(true));
  });

  test("a title that leaves no room is a clear failure, not a loop", async () => {
    const { t } = await target("wecom");
    const p = plan(t, "T".repeat(2100), "body ".repeat(1000), "text", 0);
    expect(p.parts).toEqual([]);
    expect(p.error).toContain("no room for text");
  });
});

describe("dispatch", () => {
  test("records the delivery as pending before the platform answers", async () => {
    const { t, fake } = await target("webhook");
    fake.fault({ kind: "timeout", ms: 800 });
    const sending = send([t], "slow one", 60_000, { slept: [], now: Date.now, sleep: (ms: number) => Bun.sleep(ms) });
    await Bun.sleep(300);
    const rows = store!.log.list({});
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe("pending");
    const res = await sending;
    expect(res.deliveries[0]!.status).toBe("delivered");
    expect(store!.log.list({})[0]!.status).toBe("delivered");
  });

  test("channels are sent concurrently; one failing does not hold back the other", async () => {
    // Each server answers only once the other has a request: sent one after the other, the first would time out.
    const arrived = { a: Promise.withResolvers<void>(), b: Promise.withResolvers<void>() };
    const server = (me: "a" | "b", other: "a" | "b", status: number) =>
      Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: async (req) => {
          await req.text();
          arrived[me].resolve();
          await arrived[other].promise;
          return new Response(status === 200 ? "ok" : "bad", { status });
        },
      });
    const servers = [server("a", "b", 200), server("b", "a", 400)];
    try {
      const cfg = parseConfig(
        servers.map((s, i) => `[channels.${"ab"[i]}]\ntype = "webhook"\nurl = "http://127.0.0.1:${s.port}/x"\ntimeout = "3s"\nretries = 0\n`).join(""),
        "t.toml",
      );
      const res = await send([cfg.channels.get("a")!, cfg.channels.get("b")!], "both");
      expect(res.deliveries.map((d) => [d.channel, d.status])).toEqual([["a", "delivered"], ["b", "failed"]]);
      expect(res.deliveries[1]!.error).toContain("400");
    } finally {
      for (const s of servers) s.stop(true);
    }
  });

  test("a rate-limit wait past the deadline fails at once with the reason", async () => {
    const { t } = await target("wecom", 'rate = "1/h"');
    const first = await send([t], "one", 60_000);
    expect(first.deliveries[0]!.status).toBe("delivered");
    const clock = virtualClock();
    const second = await send([t], "two", 60_000, clock);
    expect(second.deliveries[0]!.status).toBe("failed");
    expect(second.deliveries[0]!.error).toContain("deadline reached: the next rate-limit slot is");
    expect(second.deliveries[0]!.error).toContain("1/h");
    expect(clock.slept).toEqual([]);
    expect(store!.log.list({ failed: true })[0]!.error).toContain("deadline");
  });

  test("a bucket the platform says is empty is waited out, not run into", async () => {
    const fake = await startFake("discord", { rate: { count: 2, windowMs: 1500 } });
    fakes.push(fake);
    // pp's own limit is far above the platform's: only the platform's headers can hold the third message back.
    const cfg = parseConfig(`[channels.d]\ntype = "discord"\nwebhook = ${q(fake.webhook)}\nrate = "100/s"\n`, "t.toml");
    const t = cfg.channels.get("d")!;
    const real = { slept: [], now: Date.now, sleep: (ms: number) => Bun.sleep(ms) };
    for (const text of ["one", "two", "three"]) expect((await send([t], text, 60_000, real)).deliveries[0]!.status).toBe("delivered");
    expect(fake.requests.map((r) => r.answer.status)).toEqual([200, 200, 200]);
  });

  test("a resumed delivery skips the parts already accepted when the message splits the same way", async () => {
    const { t, fake } = await target("slack", 'rate = "100/s"');
    const text = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(3, "0")} of a long report`).join("\n");
    const n = plan(t, undefined, text, "text", 0).parts.length;
    expect(n).toBe(3);
    await send([{ ...t, resume: new Map([[n, new Set([1, 3])], [2, new Set([2])]]) }], text);
    expect(fake.accepted().map((r) => r.json.text.split("\n")[0])).toEqual(["(2/3)"]);
    // Split differently (another config), nothing is skipped.
    fake.reset();
    await send([{ ...t, resume: new Map([[5, new Set([1, 2, 3])]]) }], text);
    expect(fake.accepted().map((r) => r.json.text.split("\n")[0])).toEqual(["(1/3)", "(2/3)", "(3/3)"]);
  });

  test("long rate-limit waits are announced", async () => {
    const { t } = await target("wecom", 'rate = "1/5s"');
    const events: string[] = [];
    store ??= openStore(join(tempDir(), "pp.db"));
    const clock = virtualClock();
    for (const text of ["a", "b"]) {
      const now = clock.now();
      await dispatch({ id: newId(now), createdAt: now, text, format: "text", source: "cli", targets: ["c"] }, [t], {
        recorder: store.log, limiter: store.limiter, deadline: now + 60_000, clock, onEvent: (e) => e.type === "wait" && events.push(`${e.reason} ${e.ms > 4000}`),
      });
    }
    expect(events).toEqual(["rate_limit true"]);
  });
});

describe("backoff", () => {
  test.each([
    [1, "retryable", undefined, 0.5, 375],
    [2, "retryable", undefined, 0.5, 750],
    [3, "retryable", undefined, 0, 1000],
    [3, "retryable", undefined, 1, 2000],
    [20, "retryable", undefined, 1, 30_000],
    [1, "rate_limited", 7000, 0.5, 7000],
    [1, "rate_limited", 10, 0.5, 10],
    [3, "retryable", 10, 0.5, 1500],
    [1, "rate_limited", undefined, 0.5, 1000],
    [5, "rate_limited", undefined, 1, 8000],
  ] as const)("attempt %i %s retry-after %p jitter %p -> %i ms", (attempt, kind, retryAfterMs, r, expected) => {
    expect(backoff(attempt, { kind, retryAfterMs }, () => r)).toBe(expected);
  });
});

describe("fmtMs", () => {
  test.each([
    [0, "0ms"],
    [999, "999ms"],
    [1000, "1.0s"],
    [9_949, "9.9s"],
    [9_960, "10s"],
    [59_400, "59s"],
    [59_600, "1m0s"],
    [61_000, "1m1s"],
    [119_500, "2m0s"],
    [600_000, "10m0s"],
  ])("%i ms -> %s", (ms, text) => expect(fmtMs(ms)).toBe(text));
});

describe("ids", () => {
  test("sort by creation time, also within one millisecond", () => {
    const ids = [newId(1000), newId(1000), newId(1000), newId(2000), newId(1_700_000_000_000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(idTime(ids[4]!)).toBe(1_700_000_000_000);
  });
});

test("a channel that takes the text as written sends before another channel renders", async () => {
  const slack = await startFake("slack", { rate: false });
  const hook = await startFake("webhook", { rate: false });
  fakes.push(slack, hook);
  const cfg = parseConfig(
    `[channels.chat]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\n[channels.hook]\ntype = "webhook"\nurl = ${q(hook.webhook)}\n`,
    "t.toml",
  );
  const seq: string[] = [];
  const real = cfg.channels.get("chat")!;
  // The real Slack rendering, observed: it must not run before the webhook's request is on its way.
  const chat: Target = { ...real, def: { ...real.def, render: (text, format, opts) => (seq.push("render chat"), real.def.render(text, format, opts)) } };
  store = openStore(join(tempDir(), "pp.db"));
  const log = store.log;
  const names = new Map<number, string>();
  const recorder: Recorder = {
    begin: (m, d, o) => {
      const b = log.begin(m, d, o);
      b.forEach((x, i) => x.id !== null && names.set(x.id, d[i]!.channel));
      return b;
    },
    sending: (a) => (seq.push(`send ${names.get(a.deliveryId)}`), log.sending(a)),
    answered: (id, a) => log.answered(id, a),
    finish: (id, f) => log.finish(id, f),
  };
  const now = Date.now();
  const r = await dispatch(
    { id: newId(now), createdAt: now, text: "**deploy** done", format: "markdown", source: "cli", targets: ["chat", "hook"] },
    [chat, cfg.channels.get("hook")!],
    { recorder, limiter: store.limiter, deadline: now + 20_000 },
  );
  expect(r.deliveries.map((d) => [d.channel, d.status])).toEqual([["chat", "delivered"], ["hook", "delivered"]]);
  expect(seq).toEqual(["send hook", "render chat", "send chat"]);
});
