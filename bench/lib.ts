import { join } from "node:path";

/**
 * Measuring whole processes: wall time and peak RSS of short commands, run round-robin so that the
 * noise of a shared machine falls on every command alike and ratios between them stay meaningful.
 */

export interface Cmd {
  name: string;
  argv: string[];
  env?: Record<string, string | undefined>;
  /** Exit codes that count as success (default [0]). */
  ok?: number[];
}

export interface Sample {
  ms: number;
  rssBytes: number;
}

export interface Summary {
  name: string;
  runs: number;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  medianRssBytes: number;
  maxRssBytes: number;
  /**
   * Median peak RSS after the page cache of the command's executable was dropped (evict), so its pages were read
   * back from disk as after a reboot: NaN when not measured. Right after the build wrote the file, the kernel
   * keeps it in large folios and maps each whole folio into a process that touches one page of it, which counts
   * megabytes of pages the process never used in its RSS.
   */
  readBackRssBytes: number;
  /** In round order, so two commands' samples can be paired by index. */
  samples: Sample[];
}

/**
 * Peak RSS needs a fork()ing parent: Bun starts children with vfork/posix_spawn, and Linux folds the parent's
 * RSS high-water mark into the child's at exec, so resourceUsage().maxRSS is never below the bench's own RSS.
 * GNU time forks from a tiny process, so its %M is the command's own peak.
 */
export const TIME = ["/usr/bin/time", "/bin/time"].find((p) => {
  try {
    return Bun.spawnSync([p, "-f", "%M", "true"], { stdout: "ignore", stderr: "pipe" }).exitCode === 0;
  } catch {
    return false;
  }
});
export const rssMethod = TIME
  ? `${TIME} -f %M`
  : "Bun resourceUsage().maxRSS (no GNU time found: an upper bound that includes the bench process's own RSS)";

/**
 * One run. spawnSync keeps the bench's own event loop out of the measurement; anything the command talks
 * to must therefore live in another process. With `rss`, the command runs under GNU time to read its peak
 * RSS; the wall time of such a run includes time's own fork and is not used.
 */
export function runOnce(cmd: Cmd, rss = false): Sample & { stdout: string; stderr: string } {
  const wrap = rss && TIME !== undefined;
  const argv = wrap ? [TIME!, "-f", "%M", ...cmd.argv] : cmd.argv;
  const started = performance.now();
  const r = Bun.spawnSync(argv, { env: cmd.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - started;
  const stdout = r.stdout?.toString() ?? "";
  let stderr = r.stderr?.toString() ?? "";
  let rssBytes = r.resourceUsage?.maxRSS ?? NaN; // bytes in Bun
  if (wrap) {
    const lines = stderr.trimEnd().split("\n");
    rssBytes = Number(lines.pop()) * 1024; // GNU time: kilobytes
    if (lines.at(-1)?.startsWith("Command exited with non-zero status")) lines.pop();
    stderr = lines.join("\n");
  }
  if (!(cmd.ok ?? [0]).includes(r.exitCode ?? -1)) {
    throw new Error(`${cmd.name}: exited ${r.exitCode}${r.signalCode ? ` (${r.signalCode})` : ""}\n${stderr.slice(0, 2000)}`);
  }
  return { ms, rssBytes, stdout, stderr };
}

/**
 * Warm-up rounds, then `runs` timed rounds in which every command runs once, then `rssRuns` rounds under GNU
 * time for the memory figures. The starting command rotates each round so none always follows the same one.
 */
export function roundRobin(
  cmds: Cmd[], runs: number, warmup: number, rssRuns: number, onRound?: (round: number) => void, readBack: readonly string[] = [],
): Summary[] {
  for (let w = 0; w < warmup; w++) for (const c of cmds) runOnce(c);
  const samples: Sample[][] = cmds.map(() => []);
  const rss: number[][] = cmds.map(() => []);
  const rssBack: number[][] = cmds.map(() => []);
  // With files to read back: rssRuns more rounds after their page cache is dropped (evict), once the others are done.
  const back = rssRuns > 0 && readBack.length > 0 && canEvict() ? rssRuns : 0;
  for (let round = 0; round < runs + rssRuns + back; round++) {
    if (back && round === runs + rssRuns && !evict(readBack)) throw new Error(`cannot drop the page cache of ${readBack.join(", ")}`);
    for (let k = 0; k < cmds.length; k++) {
      const i = (round + k) % cmds.length;
      const s = runOnce(cmds[i]!, round >= runs);
      if (round < runs) samples[i]!.push({ ms: s.ms, rssBytes: s.rssBytes });
      else if (round < runs + rssRuns) rss[i]!.push(s.rssBytes);
      else rssBack[i]!.push(s.rssBytes);
    }
    onRound?.(round);
  }
  return cmds.map((c, i) => {
    const s = summarize(c.name, samples[i]!);
    if (rss[i]!.length) {
      const sorted = rss[i]!.sort((a, b) => a - b);
      s.medianRssBytes = quantile(sorted, 0.5);
      s.maxRssBytes = sorted.at(-1)!;
    }
    if (rssBack[i]!.length) s.readBackRssBytes = quantile(rssBack[i]!.sort((a, b) => a - b), 0.5);
    return s;
  });
}

/** Whether evict() can work here: it needs GNU dd. */
export function canEvict(): boolean {
  try {
    return Bun.spawnSync(["dd", "--version"], { stdout: "pipe", stderr: "ignore" }).stdout.toString().includes("coreutils");
  } catch {
    return false;
  }
}

/**
 * Drops the page cache of these files (GNU dd's nocache: posix_fadvise DONTNEED, no root needed), so the next
 * process that maps them reads their pages from disk. False where that cannot be done.
 */
export function evict(files: readonly string[]): boolean {
  for (const f of files) {
    try {
      if (Bun.spawnSync(["dd", `if=${f}`, "iflag=nocache", "count=0", "status=none"], { stdout: "ignore", stderr: "ignore" }).exitCode !== 0) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export function summarize(name: string, samples: Sample[]): Summary {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const rss = samples.map((s) => s.rssBytes).sort((a, b) => a - b);
  return {
    name,
    runs: samples.length,
    medianMs: quantile(ms, 0.5),
    p90Ms: quantile(ms, 0.9),
    minMs: ms[0] ?? NaN,
    medianRssBytes: quantile(rss, 0.5),
    maxRssBytes: rss[rss.length - 1] ?? NaN,
    readBackRssBytes: NaN,
    samples,
  };
}

/** Linear interpolation between closest ranks, on sorted input. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Median over rounds of a[i] / b[i]: each pair ran back to back, so it shares that moment's load. */
export function pairedRatio(a: Summary, b: Summary): number {
  const r = a.samples.map((s, i) => s.ms / b.samples[i]!.ms).sort((x, y) => x - y);
  return quantile(r, 0.5);
}

export const fmtMs = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : "-");
export const fmtMiB = (bytes: number) => (Number.isFinite(bytes) && bytes > 0 ? `${(bytes / 1048576).toFixed(1)} MiB` : "-");
export const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : "-");

/** Plain text table, first column left-aligned, the others right-aligned. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * Starts bench/fake-server.ts (a WeCom fake that never refuses) in its own process, so measured commands never
 * wait on the bench's event loop. Returns its webhook URL; `cleanups` gets the function that stops it.
 */
export async function startFake(cleanups: (() => void)[]): Promise<string> {
  const p = Bun.spawn(["bun", join(import.meta.dir, "fake-server.ts"), "wecom", "--no-rate"], { stdout: "pipe", stderr: "inherit" });
  cleanups.push(() => p.kill("SIGTERM"));
  const reader = p.stdout.getReader();
  const timer = setTimeout(() => p.kill("SIGTERM"), 15_000);
  let buf = "";
  try {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the wecom fake exited before printing its URL (code ${await p.exited})`);
      buf += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return buf.split("\n")[0]!.trim();
}

/** The environment pp runs in: the caller's, minus any PP_* setting that would change what is measured. */
export function ppEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PP_")) env[k] = v;
  return { ...env, ...extra };
}

/** A pp config with one WeCom channel `w` whose limiter never throttles a benchmark loop. */
export function benchConfig(url: string, dbPath: string): string {
  return `[log]\npath = ${JSON.stringify(dbPath)}\n[channels.w]\ntype = "wecom"\nwebhook = ${JSON.stringify(url)}\nrate = "100000/s"\n`;
}


/** Steps to undo when a benchmark ends, however it ends (an error, Ctrl-C): fakes to stop, temp dirs to remove. */
export const cleanups: (() => void)[] = [];

function cleanup(): void {
  while (cleanups.length) {
    try {
      cleanups.pop()!();
    } catch {
      // Best effort: one failed step must not keep the others from running.
    }
  }
}

/** Runs a benchmark's main function, cleans up, and exits with 1 (and the reason) if it failed. */
export async function runBench(main: () => Promise<void>): Promise<never> {
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (cleanup(), process.exit(130)));
  let code = 0;
  try {
    await main();
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    code = 1;
  } finally {
    cleanup();
  }
  process.exit(code);
}
