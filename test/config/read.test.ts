/**
 * The config file found and read without node:fs: the common case (a small regular file) is answered, and
 * anything else is left (undefined) to the careful node:fs read, which says exactly what is wrong. A FIFO
 * must never be opened for reading: that would wait for a writer.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { quickExists, quickRead } from "../../src/config/read.ts";
import { tempDir } from "../helpers.ts";

function fifo(dir: string): string {
  const path = join(dir, "fifo");
  expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
  return path;
}

describe("quickExists", () => {
  test("says what existsSync says: missing, a file, an empty file, a directory, a FIFO", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pp.toml"), "[channels]\n");
    writeFileSync(join(dir, "empty.toml"), "");
    mkdirSync(join(dir, "sub"));
    expect(quickExists(join(dir, "missing.toml"))).toBe(false);
    expect(quickExists(join(dir, "pp.toml"))).toBe(true);
    expect(quickExists(join(dir, "empty.toml"))).toBe(true);
    expect(quickExists(join(dir, "sub"))).not.toBe(false);
    expect(quickExists(fifo(dir))).toBe(true);
    expect(quickExists(join(dir, "pp.toml", "below-a-file"))).not.toBe(true);
  });
});

describe("quickRead", () => {
  test("reads a small regular file", () => {
    const file = join(tempDir(), "pp.toml");
    writeFileSync(file, "[defaults]\nchannels = \"ops\"\n");
    expect(new TextDecoder().decode(quickRead(file, 1024))).toBe("[defaults]\nchannels = \"ops\"\n");
  });

  test("leaves everything else to the careful read: missing, empty, too big, a directory, a FIFO, a device", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "empty.toml"), "");
    writeFileSync(join(dir, "big.toml"), "x".repeat(2048));
    mkdirSync(join(dir, "sub"));
    expect(quickRead(join(dir, "missing.toml"), 1024)).toBeUndefined();
    expect(quickRead(join(dir, "empty.toml"), 1024)).toBeUndefined();
    expect(quickRead(join(dir, "big.toml"), 1024)).toBeUndefined();
    expect(quickRead(join(dir, "sub"), 1024)).toBeUndefined();
    // Returns at once: no writer ever opens it.
    expect(quickRead(fifo(dir), 1024)).toBeUndefined();
    expect(quickRead("/dev/zero", 1024)).toBeUndefined();
  });
});
