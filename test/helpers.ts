import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../src/core/dispatch.ts";

const made: string[] = [];

/** A fresh directory, removed after the whole run (test/setup.ts). */
export function tempDir(prefix = "pp-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
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
