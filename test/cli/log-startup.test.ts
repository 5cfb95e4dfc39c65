/**
 * What pp log loads. Each module costs a short pp process start-up time: the plain listing leaves out what only
 * --json and `pp log show` use. These count modules (from source), never time.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { newId } from "../../src/core/id.ts";
import { openStore } from "../../src/store/index.ts";
import { tempDir } from "../helpers.ts";

const ROOT = join(import.meta.dir, "../..");

/** Runs pp from source in a fresh process; returns its stdout and the modules it loaded (paths under the repository). */
async function run(args: string[], cwd: string): Promise<{ stdout: string; code: number; loaded: string[] }> {
  const script = join(cwd, "loaded.ts");
  writeFileSync(script, `const { main } = await import(${JSON.stringify(join(ROOT, "src/cli/main.ts"))});
const code = await main(process.argv.slice(2));
process.stderr.write("\\nLOADED " + JSON.stringify({ code, loaded: Object.keys(require.cache) }));
`);
  const p = Bun.spawn(["bun", script, ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1", COLUMNS: "200" } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  const { code, loaded } = JSON.parse(stderr.slice(stderr.lastIndexOf("LOADED ") + 7)) as { code: number; loaded: string[] };
  return { stdout, code, loaded: loaded.filter((k) => k.startsWith(ROOT)).map((k) => k.slice(ROOT.length + 1)) };
}

/** A directory with a pp.toml and a push log holding one delivered message; returns it and the message id. */
function workspace(): { dir: string; id: string } {
  const dir = tempDir();
  writeFileSync(join(dir, "pp.toml"), `[log]\npath = "pp.db"\n[channels.ops]\ntype = "slack"\nwebhook = "http://127.0.0.1:9/hook"\n`);
  const store = openStore(join(dir, "pp.db"));
  const now = Date.now();
  const id = newId(now);
  const [b] = store.log.begin({ id, createdAt: now, text: "disk usage 91% on /var (web-3)", format: "text", source: "cli", targets: ["ops"] }, [{ channel: "ops", type: "slack", target: "http://127.0.0.1", parts: 1 }], { leaseUntil: now + 60_000 });
  store.log.finish(b!.id!, { status: "delivered", attempts: 1, latencyMs: 5, error: null });
  store.close();
  return { dir, id };
}

const ONLY_FOR_JSON = "src/store/view.ts";
const ONLY_FOR_SHOW = "src/core/alert.ts";

describe("pp log", () => {
  test("the plain listing and --failed load neither the JSON views nor the fallback-alert helpers", async () => {
    const { dir, id } = workspace();
    for (const args of [["log"], ["log", "--failed"]]) {
      const r = await run(args, dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(args.length === 1 ? id : "no deliveries match");
      expect(r.loaded).toContain("src/cli/log.ts");
      expect(r.loaded).not.toContain(ONLY_FOR_JSON);
      expect(r.loaded).not.toContain(ONLY_FOR_SHOW);
    }
  });

  test("--json and show load what they need, and work", async () => {
    const { dir, id } = workspace();
    const json = await run(["log", "--json"], dir);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { id: string }[]).map((r) => r.id)).toEqual([id]);
    expect(json.loaded).toContain(ONLY_FOR_JSON);
    const show = await run(["log", "show", id], dir);
    expect(show.code).toBe(0);
    expect(show.stdout).toStartWith(`message  ${id}\n`);
    expect(show.loaded).toContain(ONLY_FOR_SHOW);
    const showJson = await run(["log", "show", id, "--json"], dir);
    expect((JSON.parse(showJson.stdout) as { id: string }).id).toBe(id);
  });
});
