import { describe, expect, test } from "bun:test";
import { expand, parseConfig } from "../../src/config/load.ts";
import { PpError } from "../../src/core/errors.ts";

const SECRET = "SECd1e2f3a4b5c6d7e8f9";
const ding = `[channels.ding]
type = "dingtalk"
webhook = "https://oapi.dingtalk.com/robot/send?access_token=abc123def456"
`;
const ops = `[channels.ops]
type = "slack"
webhook = "https://hooks.slack.com/services/T000/B000/xxxx"
`;

function error(text: string): string {
  try {
    parseConfig(text, "/etc/pp/config.toml");
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    expect((e as PpError).exitCode).toBe(2);
    const msg = (e as Error).message;
    expect(msg).not.toContain("\n");
    expect(msg).not.toContain(SECRET);
    expect(msg).not.toContain("abc123def456");
    return msg;
  }
  throw new Error("expected a config error");
}

describe("a misspelt name in the config is answered with the nearest valid one", () => {
  test.each([
    // Optional keys at every level, not only the required ones.
    [`${ding}secert = "${SECRET}"`, 'channels.ding.secert: unknown setting "secert"; did you mean "secret"?'],
    [`${ding}keywrod = "alert"`, 'channels.ding.keywrod: unknown setting "keywrod"; did you mean "keyword"?'],
    [`${ding}retires = 2`, 'channels.ding.retires: unknown setting "retires"; did you mean "retries"?'],
    [`${ding}[defaults]\nchanels = ["ding"]`, 'defaults.chanels: unknown setting "chanels"; did you mean "channels"?'],
    [`${ding}[log]\npaht = "/tmp/x.db"`, 'log.paht: unknown setting "paht"; did you mean "path"?'],
    [`[channels.h]\ntype = "webhook"\nurl = "https://example.com/x"\n[channels.h.success]\npath = "ok"\nequls = true`, 'channels.h.success.equls: unknown setting "equls"; did you mean "equals"?'],
    // Sections.
    [`${ding}[group]\nops = ["ding"]`, "group: unknown section [group]; did you mean [groups]?"],
    [`[channel.ding]\ntype = "dingtalk"`, "channel: unknown section [channel]; did you mean [channels]?"],
    // Channel types.
    [`[channels.x]\ntype = "slakc"\nwebhook = "https://hooks.slack.com/services/T/B/x"`, 'channels.x.type: unknown channel type "slakc"; did you mean "slack"?'],
    [`[channels.x]\ntype = "Feishu"`, 'channels.x.type: unknown channel type "Feishu"; did you mean "feishu"?'],
    [`[channels.x]\ntpye = "slack"\nwebhook = "https://hooks.slack.com/services/T/B/x"`, 'channels.x.tpye: unknown setting "tpye"; did you mean "type"?'],
    // Names in groups and defaults.
    [`${ops}${ding}[groups]\noncall = ["ops", "dnig"]`, 'groups.oncall[1]: "dnig" is not a configured channel or group; did you mean "ding"?'],
    [`${ops}${ding}[groups]\noncall = ["ops"]\n[defaults]\nchannels = ["oncal"]`, 'defaults.channels[0]: "oncal" is not a configured channel or group; did you mean "oncall"?'],
  ])("%p", (text, expected) => {
    expect(error(text)).toBe(`/etc/pp/config.toml: ${expected}`);
  });

  test("a misspelt secret key is named, its value is not shown", () => {
    const msg = error(`${ding}secert = "${SECRET}"`);
    expect(msg).toContain('"secert"');
  });

  test("when nothing is close, the valid names are listed", () => {
    expect(error(`${ding}colour = "red"`)).toMatch(/channels\.ding\.colour: unknown setting "colour"; settings here are [^;]*\bsecret\b[^;]*\bkeyword\b/);
    expect(error(`${ding}[zzz]\na = 1`)).toBe("/etc/pp/config.toml: zzz: unknown section [zzz]; sections are [defaults], [log], [channels], [groups], [serve]");
    expect(error(`[channels.x]\ntype = "carrierpigeon"`)).toMatch(/unknown channel type "carrierpigeon"; one of wecom, feishu, dingtalk, slack, discord, mattermost, webhook, [a-z, ]*\btelegram\b[a-z, ]*\bteams\b/);
    expect(error(`[channels.x]\ntype = "telegraph"`)).toMatch(/unknown channel type "telegraph"; did you mean "telegram"\?$/);
    expect(error(`${ding}[groups]\noncall = ["zzz"]`)).toMatch(/"zzz" is not a configured channel or group \(known: ding, oncall\)$/);
  });

  test("a key already given is not offered for another one", () => {
    // `secret` is set; `secrte` must not be taken for it.
    expect(error(`${ding}secret = "${SECRET}"\nsecrte = "x"`)).not.toContain('did you mean "secret"');
  });

  test("the required key a typo left missing is still offered when the typo is far from it", () => {
    expect(error(`[channels.x]\ntype = "wecom"\nhook = "https://h/x"`)).toContain('unknown setting "hook"; did you mean "webhook"?');
  });
});

describe("--ch names", () => {
  const cfg = parseConfig(`${ops}${ding}[channels.dev-room]\ntype = "discord"\nwebhook = "https://discord.com/api/webhooks/1/abc"\n[groups]\noncall = ["ops", "dev-room"]\n`, "/x/pp.toml");
  const fails = (names: string[]) => {
    try {
      expand(cfg, names);
    } catch (e) {
      expect(e).toBeInstanceOf(PpError);
      return (e as Error).message;
    }
    throw new Error("expected an error");
  };

  test("a misspelt channel or group name gets the nearest one", () => {
    expect(fails(["opps"])).toBe('unknown channel or group "opps"; did you mean "ops"? (in /x/pp.toml)');
    expect(fails(["dev-rom"])).toBe('unknown channel or group "dev-rom"; did you mean "dev-room"? (in /x/pp.toml)');
    expect(fails(["ops", "on-call"])).toBe('unknown channel or group "on-call"; did you mean "oncall"? (in /x/pp.toml)');
  });

  test("a name far from every configured one lists them", () => {
    expect(fails(["zzz"])).toBe('unknown channel or group "zzz"; configured: ops, ding, dev-room, oncall (in /x/pp.toml)');
  });
});
