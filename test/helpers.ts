import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../src/core/dispatch.ts";

/** A fresh directory removed when the test process exits. */
export function tempDir(prefix = "pp-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Real time plus whatever the code under test "slept"; sleeping returns at once and is recorded. */
export function virtualClock(): Clock & { slept: number[] } {
  let offset = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => Date.now() + offset,
    sleep: async (ms) => {
      slept.push(ms);
      offset += ms;
    },
  };
}

/** A TOML string literal. */
export const q = (s: string) => JSON.stringify(s);
