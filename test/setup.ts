// Preloaded by bun test (bunfig.toml): removes every temporary directory the tests made, once all have run.
import { afterAll } from "bun:test";
import { cleanupTempDirs } from "./helpers.ts";

afterAll(cleanupTempDirs);
