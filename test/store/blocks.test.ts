import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openStore } from "../../src/store/index.ts";
import { tempDir } from "../helpers.ts";

describe("platform blocks in the store", () => {
  test("a wait says whether a platform's block or our own limit is the reason", () => {
    const s = openStore(join(tempDir(), "pp.db"));
    const limits = [{ count: 1, windowMs: 60_000 }];
    expect(s.limiter.acquire("k", limits, 1000)).toEqual({ ms: 0 });
    const own = s.limiter.acquire("k", limits, 2000);
    expect(own.ms).toBeGreaterThan(0);
    expect(own.block).toBeUndefined();
    s.limiter.block("k", { since: 2000, until: 900_000, cause: "Slack asked to wait 100000s (Retry-After), capped at 15m" });
    expect(s.limiter.acquire("k", limits, 3000)).toEqual({
      ms: 897_000,
      block: { since: 2000, until: 900_000, cause: "Slack asked to wait 100000s (Retry-After), capped at 15m" },
    });
    s.close();
  });

  test("the longer block wins, with its own cause", () => {
    const s = openStore(join(tempDir(), "pp.db"));
    s.limiter.block("k", { since: 0, until: 600_000, cause: "long" });
    s.limiter.block("k", { since: 10, until: 5_000, cause: "short" });
    expect(s.limiter.blocks(20).get("k")).toEqual({ since: 0, until: 600_000, cause: "long" });
    s.limiter.block("k", { since: 30, until: 700_000, cause: "longer" });
    expect(s.limiter.blocks(40).get("k")).toEqual({ since: 30, until: 700_000, cause: "longer" });
    s.close();
  });

  test("blocks lists only blocks in force; unblock lifts one", () => {
    const s = openStore(join(tempDir(), "pp.db"));
    s.limiter.block("a", { since: 0, until: 100, cause: "over" });
    s.limiter.block("b", { since: 0, until: 10_000, cause: "in force" });
    expect([...s.limiter.blocks(500).keys()]).toEqual(["b"]);
    expect(s.limiter.unblock("a", 500)).toBe(false);
    expect(s.limiter.unblock("b", 500)).toBe(true);
    expect(s.limiter.blocks(500).size).toBe(0);
    expect(s.limiter.acquire("b", [], 500)).toEqual({ ms: 0 });
    s.close();
  });
});
