import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore } from "../../src/store/index.ts";
import { tempDir } from "../helpers.ts";

describe("SqliteLimiter", () => {
  test("admits `count` per window, then says how long to wait", () => {
    const s = openStore(join(tempDir(), "pp.db"));
    const limits = [{ count: 3, windowMs: 10_000 }];
    const t0 = 1_000_000;
    expect([0, 1, 2].map((i) => s.limiter.acquire("k", limits, t0 + i).ms)).toEqual([0, 0, 0]);
    const wait = s.limiter.acquire("k", limits, t0 + 5).ms;
    // The oldest slot leaves the window 10 s (+ the safety margin) after it was taken.
    expect(wait).toBeGreaterThan(10_000 - 5);
    expect(wait).toBeLessThanOrEqual(10_000 + 500 + 1 - 5);
    expect(s.limiter.acquire("k", limits, t0 + 5 + wait).ms).toBe(0);
    // Short windows get at least 250 ms of margin for network jitter.
    expect(s.limiter.acquire("fast", [{ count: 1, windowMs: 1000 }], t0).ms).toBe(0);
    expect(s.limiter.acquire("fast", [{ count: 1, windowMs: 1000 }], t0).ms).toBe(1251);
    // Other destinations are independent.
    expect(s.limiter.acquire("other", limits, t0 + 5).ms).toBe(0);
    s.close();
  });

  test("applies every limit of a channel (Feishu: 5/s and 100/min)", () => {
    const s = openStore(join(tempDir(), "pp.db"));
    const limits = [{ count: 5, windowMs: 1000 }, { count: 7, windowMs: 60_000 }];
    let t = 0;
    let admitted = 0;
    for (let i = 0; i < 200 && t < 60_000; i++) {
      const w = s.limiter.acquire("f", limits, t).ms;
      if (w === 0) admitted++;
      else t += w;
    }
    expect(admitted).toBe(7);
    s.close();
  });

  test("a block from the platform holds back every sender until it ends", () => {
    const s = openStore(join(tempDir(), "pp.db"));
    s.limiter.block("d", { since: 5_000, until: 50_000, cause: "the platform asked" });
    expect(s.limiter.acquire("d", [], 10_000)).toEqual({ ms: 40_000, block: { since: 5_000, until: 50_000, cause: "the platform asked" } });
    expect(s.limiter.acquire("d", [], 50_000)).toEqual({ ms: 0 });
    s.close();
  });

  test("holds across separate processes sending at once", async () => {
    const db = join(tempDir(), "pp.db");
    openStore(db).close();
    const worker = join(import.meta.dir, "ratelimit-worker.ts");
    const procs = Array.from({ length: 8 }, () =>
      Bun.spawn(["bun", worker, db, "3"], { stdout: "pipe", stderr: "inherit" }),
    );
    const times = (await Promise.all(procs.map(async (p) => (await new Response(p.stdout).text()).trim().split("\n").map(Number)))).flat().sort((a, b) => a - b);
    expect(times).toHaveLength(24);
    // Limit 6 per 1000 ms: no 1000 ms window may hold more than 6 slots.
    for (let i = 6; i < times.length; i++) expect(times[i]! - times[i - 6]!).toBeGreaterThanOrEqual(1000);
  }, 30_000);
});
