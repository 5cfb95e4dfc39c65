/**
 * What loading a config loads. Every pp send loads the config, so code only some files need is loaded only for
 * them: the [serve] section's schema and module for a file that has the section. Counted in modules, from
 * source, in a fresh process; never timed. The section's errors stay the same either way (test/server/settings.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { q, tempDir } from "../helpers.ts";

const ROOT = join(import.meta.dir, "../..");

/** Loads `toml` as pp does, in a fresh process; the modules it loaded (paths in the repository) or its error. */
function load(toml: string): { loaded: string[]; error?: string } {
  const dir = tempDir();
  writeFileSync(join(dir, "pp.toml"), toml);
  const script = join(dir, "load.ts");
  writeFileSync(script, `const { loadConfig } = await import(${q(join(ROOT, "src/config/load.ts"))});
let error;
try { loadConfig(${q(join(dir, "pp.toml"))}); } catch (e) { error = e.message; }
process.stdout.write(JSON.stringify({ error, loaded: Object.keys(require.cache) }));
`);
  const r = Bun.spawnSync(["bun", script], { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: dir } });
  const out = JSON.parse(r.stdout.toString()) as { error?: string; loaded: string[] };
  return { ...out, loaded: out.loaded.filter((k) => k.startsWith(ROOT)).map((k) => k.slice(ROOT.length + 1)) };
}

const WECOM = `[channels.w]\ntype = "wecom"\nwebhook = "http://127.0.0.1:1/cgi-bin/webhook/send?key=k"\n`;

describe("loading a config", () => {
  test("without a [serve] section, the daemon's settings module is not loaded", () => {
    const r = load(`[log]\npath = "/tmp/x.db"\n${WECOM}`);
    expect(r.error).toBeUndefined();
    expect(r.loaded).toContain("src/channels/wecom.ts");
    expect(r.loaded).not.toContain("src/server/settings.ts");
  });

  test("a WeCom channel loads its own module and the shared helpers, no other", () => {
    const r = load(WECOM);
    expect(r.loaded.filter((m) => m.startsWith("src/channels/") || m === "src/core/mentions.ts").sort()).toEqual([
      "src/channels/_common.ts", "src/channels/index.ts", "src/channels/wecom.ts",
    ]);
  });

  test("with one, it is, and its errors name the section's settings", () => {
    const ok = load(`${WECOM}[serve]\nlisten = "127.0.0.1:1"\nallow_anonymous = true\n`);
    expect(ok.error).toBeUndefined();
    expect(ok.loaded).toContain("src/server/settings.ts");
    const typo = load(`${WECOM}[serve]\nlisen = "127.0.0.1:1"\n`);
    expect(typo.error).toEndWith(`serve.lisen: unknown setting "lisen"; did you mean "listen"?`);
  });

  test("an unknown section still lists [serve] among the sections there are", () => {
    expect(() => parseConfig(`${WECOM}[zzz]\na = 1\n`, "f.toml")).toThrow("f.toml: zzz: unknown section [zzz]; sections are [defaults], [log], [channels], [groups], [serve]");
    expect(() => parseConfig(`${WECOM}[serv]\na = 1\n`, "f.toml")).toThrow('f.toml: serv: unknown section [serv]; did you mean [serve]?');
  });

  test("the default timeout and deadline, unset, are those of 10s and 2m", () => {
    const unset = parseConfig(WECOM, "f.toml");
    const set = parseConfig(`[defaults]\ntimeout = "10s"\ndeadline = "2m"\n${WECOM}`, "f.toml");
    expect({ timeout: unset.defaults.timeoutMs, deadline: unset.defaults.deadlineMs, channel: unset.channels.get("w")!.timeoutMs }).toEqual({ timeout: 10_000, deadline: 120_000, channel: 10_000 });
    expect({ timeout: set.defaults.timeoutMs, deadline: set.defaults.deadlineMs, channel: set.channels.get("w")!.timeoutMs }).toEqual({ timeout: 10_000, deadline: 120_000, channel: 10_000 });
  });

  test("[serve] that is not a table is refused as before", () => {
    expect(() => parseConfig(`serve = 1\n${WECOM}`, "f.toml")).toThrow("f.toml: serve: must be Object, not a number");
  });
});
