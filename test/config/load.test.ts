import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expand, loadConfig, parseConfig } from "../../src/config/load.ts";
import { PpError } from "../../src/core/errors.ts";
import { tempDir } from "../helpers.ts";

const base = `[channels.ding]
type = "dingtalk"
webhook = "https://oapi.dingtalk.com/robot/send?access_token=abc123def456"
`;

function error(text: string): string {
  try {
    parseConfig(text, "/etc/pp/config.toml");
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    expect((e as PpError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error("expected a config error");
}

describe("config errors name the file, the place and the fix", () => {
  test.each([
    ["[channels.x\ntype = 1", /config\.toml:1:\d+: TOML syntax error/],
    ["[channels.x]\nwebhook = \"https://x\"", /channels\.x\.type: is required; one of wecom, feishu, dingtalk/],
    ["[channels.x]\ntype = \"telegraph\"", /channels\.x\.type: unknown channel type "telegraph"/],
    ["[channels.x]\ntype = \"wecom\"", /channels\.x\.webhook: is required/],
    ["[channels.x]\ntype = \"wecom\"\nwebhook = \"ftp://h/x\"", /channels\.x\.webhook: must be an http\(s\) URL/],
    ["[channels.x]\ntype = \"wecom\"\nwebhok = \"https://h/x\"", /channels\.x\.webhok: unknown setting "webhok"; did you mean "webhook"\?/],
    [`${base}rate = "fast"`, /channels\.ding\.rate: invalid rate "fast"/],
    [`${base}timeout = "soon"`, /channels\.ding\.timeout: invalid duration "soon"/],
    [`${base}retries = -2`, /channels\.ding\.retries: must be 0 or more/],
    [`${base}secret = "\${PP_TEST_UNSET_VAR}"`, /channels\.ding\.secret: environment variable PP_TEST_UNSET_VAR is not set/],
    [`${base}[groups]\nops = ["ding", "nope"]`, /groups\.ops\[1\]: "nope" is not a configured channel or group \(known: ding, ops\)/],
    [`${base}[groups]\nding = ["ding"]`, /groups\.ding: "ding" is also a channel name/],
    [`${base}[groups]\na = ["b"]\nb = ["a"]`, /groups include each other in a loop \(a -> b -> a\)/],
    [`${base}[defaults]\nchannels = ["ops"]`, /defaults\.channels\[0\]: "ops" is not a configured channel or group/],
    [`${base}[defaults]\ntimeout = "0s"`, /defaults\.timeout: must be longer than 0/],
    [`${base}[deflts]\nretries = 1`, /deflts: unknown section \[deflts\]; did you mean \[defaults\]\?/],
  ])("%p", (text, expected) => {
    const msg = error(text);
    expect(msg).toMatch(expected);
    expect(msg).toStartWith("/etc/pp/config.toml");
    expect(msg).not.toContain("abc123def456");
  });
});

describe("config values", () => {
  test("defaults, ${VAR} expansion and per-channel overrides", () => {
    process.env.PP_TEST_SECRET = "SECfromenv";
    const cfg = parseConfig(
      `[defaults]\nchannels = "ops"\nretries = 5\ntimeout = "3s"\ndeadline = "30s"\n${base}secret = "\${PP_TEST_SECRET}"\nrate = ["2/s", "10/min"]\nretries = 1\n` +
        `[channels.w]\ntype = "wecom"\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"\n[groups]\nops = ["ding", "w"]\nall = ["ops", "w"]\n`,
      "x.toml",
    );
    expect(cfg.defaults).toEqual({ channels: ["ops"], retries: 5, timeoutMs: 3000, deadlineMs: 30_000 });
    const ding = cfg.channels.get("ding")!;
    expect(ding.opts.secret).toBe("SECfromenv");
    expect(ding.rates).toEqual([{ count: 2, windowMs: 1000 }, { count: 10, windowMs: 60_000 }]);
    expect(ding.retries).toBe(1);
    const w = cfg.channels.get("w")!;
    expect(w.retries).toBe(5);
    expect(w.timeoutMs).toBe(3000);
    expect(w.rates).toEqual([{ count: 20, windowMs: 60_000 }]);
    // Groups expand to distinct channels, in order.
    expect(expand(cfg, ["all", "ding"]).map((t) => t.name)).toEqual(["ding", "w"]);
    expect(() => expand(cfg, ["zzz"])).toThrow(/unknown channel or group "zzz"; configured: ding, w, ops, all/);
  });

  test("$${ is a literal ${", () => {
    const cfg = parseConfig(`[channels.h]\ntype = "webhook"\nurl = "https://example.com/x"\nheaders = { X-Note = "$\${HOME}" }\n`, "x.toml");
    expect(cfg.channels.get("h")!.opts.headers["X-Note"]).toBe("${HOME}");
  });

  test("discovery: --config, then $PP_CONFIG, then ./pp.toml", () => {
    const dir = tempDir();
    const a = join(dir, "a.toml");
    writeFileSync(a, base);
    mkdirSync(join(dir, "cwd"));
    writeFileSync(join(dir, "cwd", "pp.toml"), base.replace("ding", "local"));
    const cwd = process.cwd();
    const saved = process.env.PP_CONFIG;
    try {
      process.chdir(join(dir, "cwd"));
      delete process.env.PP_CONFIG;
      expect([...loadConfig().channels.keys()]).toEqual(["local"]);
      process.env.PP_CONFIG = a;
      expect([...loadConfig().channels.keys()]).toEqual(["ding"]);
      expect(loadConfig(join(dir, "cwd", "pp.toml")).file).toBe(join(dir, "cwd", "pp.toml"));
      expect(() => loadConfig(join(dir, "missing.toml"))).toThrow(/missing\.toml does not exist/);
    } finally {
      process.chdir(cwd);
      if (saved === undefined) delete process.env.PP_CONFIG;
      else process.env.PP_CONFIG = saved;
    }
  });
});
