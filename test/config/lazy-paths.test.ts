/**
 * The config's paths come from $HOME when it is set: node:os (about 0.3 ms of each pp process) is loaded only
 * without it. Its homedir() is replaced here by one that counts its calls and answers another directory.
 */
import { afterAll, describe, expect, test } from "bun:test";

const os = require("node:os") as { homedir: () => string };
const real = os.homedir;
let asked = 0;
os.homedir = () => {
  asked++;
  return "/from-node-os";
};

const { configCandidates, defaultDbPath, expandHome, userConfigFile } = await import("../../src/config/paths.ts");

const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, XDG_DATA_HOME: process.env.XDG_DATA_HOME, PP_CONFIG: process.env.PP_CONFIG };
afterAll(() => {
  os.homedir = real;
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe.skipIf(process.platform === "win32")("paths with $HOME set (needs a POSIX system: Windows paths differ)", () => {
  test("the user config, the push log and ~ come from $HOME, without node:os", () => {
    process.env.HOME = "/home/u";
    delete process.env.XDG_CONFIG_HOME;
    delete process.env.XDG_DATA_HOME;
    delete process.env.PP_CONFIG;
    asked = 0;
    expect(configCandidates().map((c) => c.path)).toEqual(["pp.toml", "/home/u/.config/pp/config.toml", "/etc/pp/config.toml"]);
    expect(userConfigFile()).toBe("/home/u/.config/pp/config.toml");
    expect(defaultDbPath()).toBe("/home/u/.local/share/pp/pp.db");
    expect(expandHome("~/x.toml")).toBe("/home/u/x.toml");
    expect(expandHome("/abs.toml")).toBe("/abs.toml");
    expect(asked).toBe(0);
  });

  test("without $HOME, node:os says where home is", () => {
    process.env.HOME = "";
    delete process.env.XDG_CONFIG_HOME;
    asked = 0;
    expect(userConfigFile()).toBe("/from-node-os/.config/pp/config.toml");
    expect(expandHome("~")).toBe("/from-node-os");
    expect(asked).toBe(2);
  });
});

describe.skipIf(process.platform === "win32")("join and absolute, without node:path where the path is already normal (needs a POSIX system: Windows paths differ)", () => {
  test("give what node:path gives, on paths made of ., .., empty and plain segments", async () => {
    const { absolute, join } = await import("../../src/config/paths.ts");
    const path = await import("node:path");
    const { prng } = await import("../helpers.ts");
    const random = prng(11);
    const pieces = ["a", "b.c", ".", "..", "...", ".d", "e.", "", "/", "//", "f/", "/g"];
    const pick = () => pieces[Math.floor(random() * pieces.length)]!;
    for (let n = 0; n < 3000; n++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => Array.from({ length: 1 + Math.floor(random() * 3) }, pick).join(""));
      expect({ parts, joined: join(...parts) }).toEqual({ parts, joined: path.join(...parts) });
      const one = parts.join("/");
      expect({ one, resolved: absolute(one) }).toEqual({ one, resolved: path.resolve(one) });
    }
  });
});
