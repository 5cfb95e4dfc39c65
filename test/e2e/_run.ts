/** Runs the compiled binary the way a user does: its own environment, a working directory, stdin as given. */
import { beforeAll } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");
// PP_BIN runs the suites against another build of pp (a binary built elsewhere, or for another target under emulation).
export const BIN = process.env.PP_BIN || join(ROOT, "dist", process.platform === "win32" ? "pp.exe" : "pp");

/** Call at the top of an end-to-end suite: builds dist/pp when it is missing. */
export function needBinary(): void {
  beforeAll(() => {
    if (!existsSync(BIN)) {
      const b = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
      if (b.exitCode !== 0) throw new Error("could not build dist/pp");
    }
  }, 120_000);
}

export interface Run { code: number; stdout: string; stderr: string; ms: number }

export async function pp(args: string[], opts: { cwd: string; stdin?: string; env?: Record<string, string> }): Promise<Run> {
  const started = performance.now();
  const p = Bun.spawn([BIN, ...args], {
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: opts.cwd, NO_COLOR: "1", ...opts.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, ms: performance.now() - started };
}
