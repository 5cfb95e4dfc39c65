/**
 * End-to-end: a SIGTERM'd `pp serve` exits as soon as its work is done, not when its grace period (20 s here) runs
 * out. The tests' own timeout (10 s) bounds a hang; nothing here times the exit.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server, Subprocess } from "bun";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp } from "./_run.ts";

needBinary();

const TOKEN = "serve-stop-token-4b1e8d";
const isRoot = process.getuid?.() === 0;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function workspace(hookUrl: string): string {
  const dir = tempDir("pp-serve-stop-");
  const text = `[log]
path = ${q(join(dir, "pp.db"))}
[channels.hook]
type = "webhook"
url = ${q(hookUrl)}
retries = 20
[serve]
listen = "127.0.0.1:0"
token = ${q(TOKEN)}
grace = "20s"
${isRoot ? 'user = "root"\n' : ""}`;
  writeFileSync(join(dir, "pp.toml"), text, { mode: 0o600 });
  chmodSync(join(dir, "pp.toml"), 0o600);
  return dir;
}

async function start(dir: string): Promise<{ proc: Subprocess<"ignore", "ignore", "pipe">; url: string; stderr: () => string }> {
  const proc = Bun.spawn([BIN, "serve", "--config", join(dir, "pp.toml")], { cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1" } });
  cleanup.push(() => proc.kill(9));
  let text = "";
  const decoder = new TextDecoder();
  const reader = proc.stderr.getReader();
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`pp serve exited before listening:\n${text}`);
    text += decoder.decode(value, { stream: true });
    url = /listening on (http:\/\/\S+)/.exec(text)?.[1];
  }
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
    }
  })();
  return { proc, url, stderr: () => text };
}

describe("pp serve stops when its work is done", () => {
  test("an idle daemon exits at once on SIGTERM, with a grace period of 20 s", async () => {
    const d = await start(workspace("http://127.0.0.1:9/hook"));
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    d.proc.kill("SIGTERM");
    expect(await d.proc.exited).toBe(0);
    expect(d.stderr()).toMatch(/stopped/);
  }, 10_000);

  test("a delivery waiting to try again (the platform asks for a pause) goes back to the queue; the daemon does not sit out the grace", async () => {
    let hits = 0;
    const platform: Server<undefined> = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await req.text();
        hits++;
        return new Response("slow down", { status: 429, headers: { "Retry-After": "1" } });
      },
    });
    cleanup.push(() => platform.stop(true));
    const dir = workspace(`http://127.0.0.1:${platform.port}/hook`);
    const d = await start(dir);
    const res = await fetch(`${d.url}/api/text`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify({ msg: "waits for the platform" }) });
    expect(res.status).toBe(200);
    while (hits < 2) await Bun.sleep(20);
    d.proc.kill("SIGTERM");
    expect(await d.proc.exited).toBe(0);
    const log = await pp(["log", "--json", "--config", join(dir, "pp.toml")], { cwd: dir });
    const rows = JSON.parse(log.stdout) as { status: string }[];
    expect(rows.map((r) => r.status)).toEqual(["queued"]);
  }, 10_000);
});
