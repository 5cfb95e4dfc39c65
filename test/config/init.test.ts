/**
 * `pp config init` and its starter config: the starter loads as an empty config, each channel type has an example
 * that is valid once uncommented, examples/pp.toml and the README follow it, and `pp config init`, `check` and
 * `path` behave as documented when run from the compiled binary.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { channelTypes } from "../../src/channels/index.ts";
import { parseConfig } from "../../src/config/load.ts";
import { CHANNEL_EXAMPLES, starterConfig } from "../../src/config/starter.ts";
import { needBinary, pp, ROOT } from "../e2e/_run.ts";
import { tempDir } from "../helpers.ts";

const ENV = {
  WECOM_KEY: "k1",
  FEISHU_TOKEN: "t1",
  FEISHU_SECRET: "s1",
  DINGTALK_TOKEN: "t2",
  DINGTALK_SECRET: "SECs2",
  SLACK_HOOK: "T1/B1/x",
  DISCORD_HOOK: "1/x",
  MATTERMOST_HOOK: "h1",
  ALERTS_TOKEN: "a1",
  PUSHPLUS_TOKEN: "p1",
  SERVERCHAN_KEY: "SCT1Tk1",
  PUSHOVER_TOKEN: "po1",
  PUSHOVER_USER: "pu1",
  SMTP_PASSWORD: "s1",
  TELEGRAM_TOKEN: "123:abc",
  NTFY_TOPIC: "alerts",
  GOTIFY_TOKEN: "Ag1",
  BARK_KEY: "b1",
  TEAMS_WORKFLOW: "w1/triggers/manual/paths/invoke?sig=s1",
  WECOM_APP_SECRET: "ws1",
};
const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(ENV)) if (saved[k] === undefined) delete process.env[k];
});

describe("the starter config", () => {
  test("loads as a config with nothing configured", () => {
    const cfg = parseConfig(starterConfig(), "/x/config.toml");
    expect(cfg.channels.size).toBe(0);
    expect(cfg.groups.size).toBe(0);
    expect(cfg.defaults.channels).toEqual([]);
  });

  test("has one example per channel type, and every setting in it is valid once uncommented", () => {
    expect(Object.keys(CHANNEL_EXAMPLES).sort()).toEqual([...channelTypes].sort());
    Object.assign(process.env, ENV);
    const cfg = parseConfig(starterConfig({ commented: false }), "/x/config.toml");
    expect([...cfg.channels.values()].map((c) => c.def.type).sort()).toEqual([...channelTypes].sort());
    expect(cfg.defaults.channels).toEqual(["ops"]);
    // Only the leading "# " of settings differs: prose stays prose.
    const commented = starterConfig().split("\n");
    const active = starterConfig({ commented: false }).split("\n");
    expect(active.length).toBe(commented.length);
    active.forEach((line, i) => expect([line, `# ${line}`]).toContain(commented[i]!));
  });

  test("examples/pp.toml is the starter config", () => {
    expect(readFileSync(join(ROOT, "examples/pp.toml"), "utf8")).toBe(starterConfig());
  });

  test("the README documents every key the examples use, and its quick start runs pp config init", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const keys = new Set(Object.values(CHANNEL_EXAMPLES).flatMap((e) => e.toml.map((l) => /^([a-z_]+) =/.exec(l)?.[1]).filter(Boolean)));
    for (const k of keys) expect(readme).toContain(`\`${k}\``);
    const quick = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("\n## ", readme.indexOf("## Quick start") + 3));
    expect(quick).toContain("pp config init");
  });
});

describe("pp config init, check and path (compiled binary)", () => {
  needBinary();

  const oneLine = (s: string) => {
    expect(s.trimEnd().split("\n")).toHaveLength(1);
    expect(s).toStartWith("pp: ");
  };

  test("init writes the starter to the per-user file, 0600 in a new directory, and check says what to do next", async () => {
    const home = tempDir("pp-init-");
    const file = join(home, ".config", "pp", "config.toml");
    const r = await pp(["config", "init"], { cwd: home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}\n`);
    expect(r.stderr).toContain("pp config check");
    expect(readFileSync(file, "utf8")).toBe(starterConfig());
    if (process.platform !== "win32") {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, ".config", "pp")).mode & 0o077).toBe(0);
    }

    const check = await pp(["config", "check"], { cwd: home });
    expect(check.code).toBe(0);
    expect(check.stderr).toContain(`${file}: 0 channels, 0 groups`);
    expect(check.stderr).toMatch(/next: .*uncomment a \[channels\.NAME\] section/);
    expect((await pp(["config", "path"], { cwd: home })).stdout).toBe(`${file}\n`);
  });

  test("init never overwrites: exit 2, one line saying how to proceed, the file unchanged", async () => {
    const home = tempDir("pp-init-");
    const file = join(home, ".config", "pp", "config.toml");
    mkdirSync(join(home, ".config", "pp"), { recursive: true });
    writeFileSync(file, "# mine\n");
    const r = await pp(["config", "init"], { cwd: home });
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toContain(`${file} already exists`);
    expect(r.stderr).toContain("--config");
    expect(r.stdout).toBe("");
    expect(readFileSync(file, "utf8")).toBe("# mine\n");
  });

  test("init writes to --config PATH, or to $PP_CONFIG, creating the directories", async () => {
    const home = tempDir("pp-init-");
    const a = join(home, "a", "b", "pp.toml");
    expect((await pp(["config", "init", "--config", a], { cwd: home })).code).toBe(0);
    expect(readFileSync(a, "utf8")).toBe(starterConfig());
    const b = join(home, "env", "pp.toml");
    expect((await pp(["config", "init"], { cwd: home, env: { PP_CONFIG: b } })).code).toBe(0);
    expect(existsSync(b)).toBe(true);
    expect(existsSync(join(home, ".config", "pp", "config.toml"))).toBe(false);
  });

  test("init says so when ./pp.toml would be read before the file it wrote", async () => {
    const home = tempDir("pp-init-");
    writeFileSync(join(home, "pp.toml"), "");
    const r = await pp(["config", "init"], { cwd: home });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`note: in this directory pp reads ${join(home, "pp.toml")} first`);
  });

  test("init where it cannot write: exit 2, one line naming the file", async () => {
    const home = tempDir("pp-init-");
    // A regular file where a directory should be: refused for root too, unlike a permission.
    writeFileSync(join(home, "plain"), "");
    const target = join(home, "plain", "x", "pp.toml");
    const r = await pp(["config", "init", "--config", target], { cwd: home });
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toContain(`cannot write ${target}`);
  });

  test("path prints the file in use even when it does not validate", async () => {
    const home = tempDir("pp-init-");
    writeFileSync(join(home, "pp.toml"), "[chanels.x]\ntype = 1\n");
    const r = await pp(["config", "path"], { cwd: home });
    expect(r.stdout).toBe(`${join(home, "pp.toml")}\n`);
    expect(r.code).toBe(0);
    const check = await pp(["config", "check"], { cwd: home });
    expect(check.code).toBe(2);
    oneLine(check.stderr);
  });

  test("path without a config: exit 2, one pp: line naming where it looked and pp config init", async () => {
    const home = tempDir("pp-init-");
    const r = await pp(["config", "path"], { cwd: home });
    expect(r.code).toBe(2);
    oneLine(r.stderr);
    expect(r.stderr).toContain(join(home, ".config", "pp", "config.toml"));
    expect(r.stderr).toContain("pp config init");
    const missing = await pp(["config", "path", "--config", join(home, "nope.toml")], { cwd: home });
    expect(missing.code).toBe(2);
    oneLine(missing.stderr);
  });
});
