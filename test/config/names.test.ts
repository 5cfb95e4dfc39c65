/**
 * `pp channels --names` reads plain configs with a scan of its own (src/config/names.ts) instead of the TOML parser
 * and the validation. On every valid config it must give what loadConfig gives, names and order; on anything it
 * does not read with certainty it must answer undefined (the caller then runs loadConfig).
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join as pathJoin, resolve as pathResolve } from "node:path";
import { configNames, scanNames } from "../../src/config/names.ts";
import { loadConfig, MAX_CONFIG_BYTES, parseConfig } from "../../src/config/load.ts";
import { absolute, join } from "../../src/config/paths.ts";
import { prng, q, tempDir } from "../helpers.ts";

const names = (text: string) => {
  const cfg = parseConfig(text, "/x/pp.toml");
  return [...cfg.channels.keys(), ...cfg.groups.keys()];
};

/** Channel sections of several types, each as a header line and its key lines. */
const BODIES: ((r: () => number) => string[])[] = [
  () => ['type = "wecom"', `webhook = ${q("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc")}`],
  (r) => ["type='slack'", `webhook=${q("https://hooks.slack.com/services/T0/B0/xyz")}   # the hook`, ...(r() < 0.5 ? ['rate = ["1/s", "20/min",]'] : [])],
  (r) => [
    'type = "webhook"', `url = "https://alerts.example.com/v1/events"`,
    r() < 0.5 ? 'headers = { Authorization = "Bearer x", "X-Tag" = "a#b" }' : 'headers = {}',
    `body = '{"title":{{ title | json }},"text":{{ text | json }}}'`, "retries = 2", 'timeout = "5s"',
  ],
  () => ['type = "discord"', 'webhook = "https://discord.com/api/webhooks/1/abc"', 'username = "pp \\"bot\\""'],
  () => ['type = "feishu"', 'webhook = "https://open.feishu.cn/open-apis/bot/v2/hook/t"', 'keyword = "alert"', "retries = 0"],
];

/** A valid config in the plain form, different for each seed. */
function plainConfig(seed: number): { text: string; expected: number } {
  const r = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const count = 1 + Math.floor(r() * 6);
  const chosen = new Set<string>();
  while (chosen.size < count) chosen.add(pick(["ops", "dev", "42", "7", "a.b", "team-x", "z_1", "alpha", "0", "B"]));
  const channelNames = [...chosen];
  const lines: string[] = [];
  const comment = () => (r() < 0.3 ? [pick(["# a comment", "", "   # indented [channels.fake]", "\t"])] : []);
  if (r() < 0.5) lines.push("[defaults]", `channels = [${q(channelNames[0]!)}]`, "retries = 3", ...comment());
  if (r() < 0.3) lines.push("[log]", 'path = "~/.local/share/pp/pp.db"');
  for (const n of channelNames) {
    const key = /^[A-Za-z0-9_-]+$/.test(n) && r() < 0.7 ? n : q(n);
    lines.push(...comment(), pick([`[channels.${key}]`, `[ channels . ${key} ]  # ${n}`, `[channels.${key}]\t`]));
    lines.push(...pick(BODIES)(r).map((l) => (r() < 0.2 ? `  ${l}` : l)), ...comment());
  }
  let groups = 0;
  if (r() < 0.6) {
    lines.push("[groups]");
    groups = 1 + Math.floor(r() * 3);
    for (let g = 0; g < groups; g++) lines.push(`${pick(["all", "team"])}${g} = [${channelNames.slice(0, 1 + g).map(q).join(", ")}]`);
  }
  return { text: `${lines.join("\n")}\n`, expected: channelNames.length + groups };
}

describe("scanNames", () => {
  test("gives loadConfig's names, in its order, on 400 generated plain configs", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const { text, expected } = plainConfig(seed);
      const want = names(text);
      expect(want.length).toBe(expected);
      expect({ seed, got: scanNames(text) }).toEqual({ seed, got: want });
    }
  });

  test("names that look like integers come first, as in a parsed TOML table", () => {
    const text = `[channels.b]\ntype = "wecom"\nwebhook = "https://x.example/h"\n[channels.10]\ntype = "wecom"\nwebhook = "https://x.example/h"\n[channels.2]\ntype = "wecom"\nwebhook = "https://x.example/h"\n`;
    expect(scanNames(text)).toEqual(["2", "10", "b"]);
    expect(names(text)).toEqual(["2", "10", "b"]);
  });

  test("strings with escapes, comments and dates in values", () => {
    const text = [
      "[defaults]", 'retries = 3 # "quoted" in a comment', "[channels.a]", 'type = "webhook"', 'url = "https://x.example/"',
      'body = \'{"t": "a\\\\"}\'', 'method = "POST"', 'headers = { X-A = "a\\\\", X-B = "b\\" [channels.fake]" }',
      "[channels.b]", 'type = "wecom"', 'webhook = "https://x.example/h" # ["x"]', "[serve]", "listen = '127.0.0.1:1'",
    ].join("\n");
    expect(names(text)).toEqual(["a", "b"]);
    expect(scanNames(text)).toEqual(["a", "b"]);
    expect(scanNames("[x]\nwhen = 1979-05-27 07:32:00Z\nday = 1979-05-27\n[channels.c]\n")).toEqual(["c"]);
  });

  test.each([
    ["a multi-line string that holds a header", `[channels.a]\ntype = "webhook"\nurl = "https://x.example/"\nbody = """\n[channels.fake]\n"""\n`],
    ["a multi-line literal string", `[channels.a]\ntype = "webhook"\nurl = "https://x.example/"\nbody = '''\n[channels.fake]\n'''\n`],
    ["a multi-line array", `[channels.a]\ntype = "wecom"\nwebhook = "https://x.example/h"\n[groups]\nall = [\n  "a",\n]\n`],
    ["channels as inline tables", `[channels]\na = { type = "wecom", webhook = "https://x.example/h" }\n`],
    ["channels as dotted keys", `channels.a.type = "wecom"\nchannels.a.webhook = "https://x.example/h"\n`],
    ["an array of tables", `[[channels.a]]\ntype = "wecom"\n`],
    ["a group as a table", `[groups.all]\nx = 1\n`],
    ["a table defined twice", `[channels.a]\ntype = "wecom"\n[channels.a]\ntype = "slack"\n`],
    ["a group and a channel of one name", `[channels.a]\ntype = "wecom"\nwebhook = "https://x.example/h"\n[groups]\na = ["a"]\n`],
    ["a channel name with a space", `[channels."a b"]\ntype = "wecom"\n`],
    ["a quoted key with an escape", `[channels."a\\u0041"]\ntype = "wecom"\n`],
    ["CRLF line ends", `[channels.a]\r\ntype = "wecom"\r\n`],
    ["a byte-order mark", `\uFEFF[channels.a]\ntype = "wecom"\n`],
    ["a value that does not end on its line", `[channels.a]\ntype = "wecom\nwebhook = 1\n`],
    ["nested inline tables", `[channels.a]\nheaders = { a = { b = 1 } }\n`],
  ])("leaves %s to the full loader", (_, text) => {
    expect(scanNames(text)).toBeUndefined();
  });
});

describe("configNames", () => {
  test("finds the file as loadConfig does, and answers as it does", () => {
    const dir = tempDir();
    const file = pathJoin(dir, "pp.toml");
    const { text } = plainConfig(7);
    writeFileSync(file, text);
    const cfg = loadConfig(file, { required: false });
    expect(configNames(file)).toEqual([...cfg.channels.keys(), ...cfg.groups.keys()]);
  });

  test("a config that is not there lists nothing; an unreadable one goes to the loader", () => {
    const dir = tempDir();
    expect(configNames(pathJoin(dir, "missing.toml"))).toEqual([]);
    writeFileSync(pathJoin(dir, "empty.toml"), "");
    expect(configNames(pathJoin(dir, "empty.toml"))).toBeUndefined();
    expect(configNames(dir)).toBeUndefined();
  });

  test("a file bigger than a config may be goes to the loader, which refuses it", () => {
    const dir = tempDir();
    const file = pathJoin(dir, "big.toml");
    writeFileSync(file, `# ${"x".repeat(MAX_CONFIG_BYTES)}\n[channels.a]\ntype = "wecom"\nwebhook = "https://x.example/h"\n`);
    expect(configNames(file)).toBeUndefined();
    expect(() => loadConfig(file)).toThrow("at most 1 MiB");
  });
});

describe("join and absolute without node:path", () => {
  const parts = ["/home/u", "pp", "config.toml", ".config", "a/", "/", "", ".", "..", "a//b", "~", "x.toml", "./y", "../z", "/a/./b", "pp.d/"];
  test("join gives what path.join gives", () => {
    const r = prng(3);
    for (let i = 0; i < 3000; i++) {
      const args = Array.from({ length: 1 + Math.floor(r() * 4) }, () => parts[Math.floor(r() * parts.length)]!);
      expect({ args, got: join(...args) }).toEqual({ args, got: pathJoin(...args) });
    }
  });

  test("absolute gives what path.resolve gives", () => {
    for (const p of [...parts, "pp.toml", "a/b/c.toml", "/etc/pp/config.toml", "/etc/pp/", "//etc/pp", "/etc/../pp", "a/./b", "a/.hidden", "/a..b/c"]) {
      expect({ p, got: absolute(p) }).toEqual({ p, got: pathResolve(p) });
    }
  });
});
