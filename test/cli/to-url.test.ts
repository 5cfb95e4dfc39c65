/** `pp send --to URL`: the type from the URL, the signing secret taken out of it, names and redaction. */
import { afterEach, describe, expect, test } from "bun:test";
import { needsConfig, selection, sendSelection } from "../../src/cli/route.ts";
import { detectType, quickTargets } from "../../src/config/quick.ts";
import { plan, shownRequest } from "../../src/core/dispatch.ts";
import { PpError } from "../../src/core/errors.ts";
import { redactor } from "../../src/core/redact.ts";

const DEFAULTS = { retries: 3, timeoutMs: 10_000 };

function fails(fn: () => unknown): PpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    return e as PpError;
  }
  throw new Error("expected a PpError");
}

describe("the type from the URL (no network)", () => {
  test.each([
    ["https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=3c9a1f20-77d4-4e3b-9b1c-5d2e8f6a0b71", "wecom"],
    ["https://open.feishu.cn/open-apis/bot/v2/hook/abcdef01-2345-6789-abcd-ef0123456789", "feishu"],
    ["https://open.larksuite.com/open-apis/bot/v2/hook/abcdef01-2345-6789-abcd-ef0123456789", "feishu"],
    ["https://OPEN.FEISHU.CN./open-apis/bot/v2/hook/abc", "feishu"],
    ["https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef", "dingtalk"],
    ["https://hooks.slack.com/services/T000/B000/XXXXXXXX", "slack"],
    ["https://discord.com/api/webhooks/123456789/abcdefTOKEN", "discord"],
    ["https://discordapp.com/api/webhooks/123456789/abcdefTOKEN", "discord"],
    ["https://discord.com/channels/1/2", "webhook"],
    ["https://chat.example.com/hooks/xxxgeneratedkeyxxx", "mattermost"],
    ["https://example.com/mattermost/hooks/xxx", "mattermost"],
    ["https://example.com/notify", "webhook"],
    // A lookalike host is not the platform.
    ["https://qyapi.weixin.qq.com.evil.example/cgi-bin/webhook/send?key=x", "webhook"],
    ["not a url", "webhook"],
  ])("%s -> %s", (url, type) => expect(detectType(url) as string).toBe(type));
});

describe("--to URLs as channels", () => {
  const SECRET = "SECb1f0c2d9e8a7f6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1";
  const DING = `http://127.0.0.1:9/robot/send?access_token=ding0123456789abcdef&secret=${encodeURIComponent(SECRET)}`;

  test("?secret= on a DingTalk URL is the signing secret, taken out of the URL", () => {
    const { targets, secrets } = quickTargets([DING], "dingtalk", DEFAULTS);
    const t = targets[0]!;
    expect(t.opts.webhook).toBe("http://127.0.0.1:9/robot/send?access_token=ding0123456789abcdef");
    expect(t.opts.secret).toBe(SECRET);
    expect(t.name).toBe("dingtalk:127.0.0.1:9");
    expect(secrets).toContain(SECRET);
    expect(secrets).toContain(DING);
    expect(JSON.stringify([t.name, t.def.target(t.opts)])).not.toContain("SEC");
    expect(t.def.target(t.opts)).not.toContain("ding0123456789abcdef");
  });

  test("the request is signed with it and shows neither it nor the signature", () => {
    const { targets, secrets } = quickTargets([DING], "dingtalk", DEFAULTS);
    const t = targets[0]!;
    const p = plan(t, undefined, "hello", "text", 1_700_000_000_000);
    const req = t.def.build(p.parts[0]!, { title: undefined, format: "text", index: 0, total: 1, now: 1_700_000_000_000 }, t.opts);
    expect(new URL(req.url).searchParams.get("sign")).toBeTruthy();
    expect(req.url).not.toContain("secret=");
    const shown = JSON.stringify(shownRequest(t, req, redactor([...t.def.secrets(t.opts), ...secrets])));
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain(SECRET.slice(3, 20));
    expect(shown).not.toContain("ding0123456789abcdef");
    expect(shown).not.toContain(new URL(req.url).searchParams.get("sign")!);
  });

  test("a Feishu URL's secret too; on other types ?secret= is part of the URL", () => {
    const feishu = quickTargets(["https://open.feishu.cn/open-apis/bot/v2/hook/abcdef01?secret=feishu-sign-1234"], undefined, DEFAULTS).targets[0]!;
    expect(feishu.def.type).toBe("feishu");
    expect(feishu.opts).toMatchObject({ webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/abcdef01", secret: "feishu-sign-1234" });
    expect(feishu.name).toBe("feishu:open.feishu.cn");
    const hook = quickTargets(["https://example.com/in?secret=abc12345"], undefined, DEFAULTS).targets[0]!;
    expect(hook.opts.url).toBe("https://example.com/in?secret=abc12345");
    expect(hook.def.target(hook.opts)).toBe("https://example.com/***");
  });

  test("names are type:host, a second URL on one host gets #2, the same URL twice is one channel", () => {
    const a = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=aaaaaaaa-1111";
    const b = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=bbbbbbbb-2222";
    const { targets } = quickTargets([a, b, a], undefined, DEFAULTS);
    expect(targets.map((t) => t.name)).toEqual(["wecom:qyapi.weixin.qq.com", "wecom:qyapi.weixin.qq.com#2"]);
    expect(targets.map((t) => t.rateText)).toEqual(["20/min", "20/min"]);
    // Rate-limited per URL: two webhooks on one host are two limits.
    expect(targets[0]!.def.rateKey(targets[0]!.opts)).not.toBe(targets[1]!.def.rateKey(targets[1]!.opts));
    expect(targets[0]!.retries).toBe(3);
  });

  test("credentials before the host are in neither the name nor the shown destination", () => {
    const { targets, secrets } = quickTargets(["https://ops:pa55word-0123@example.com/notify/abc123def456"], undefined, DEFAULTS);
    const t = targets[0]!;
    expect(t.name).toBe("webhook:example.com");
    expect(t.def.target(t.opts)).toBe("https://example.com/***");
    expect(redactor([...t.def.secrets(t.opts), ...secrets])("answer: pa55word-0123 abc123def456")).toBe("answer: *** ***");
  });

  test("errors name the flag, never the URL", () => {
    const e = fails(() => quickTargets(["ftp://host/key-0123456789"], undefined, DEFAULTS));
    expect(e.message).toBe("--to: not an http(s) URL; give the platform's webhook URL, such as https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...");
    expect(e.exitCode).toBe(2);
    const second = fails(() => quickTargets(["https://example.com/a", "nope-0123456789"], undefined, DEFAULTS));
    expect(second.message).toStartWith("--to #2: not an http(s) URL");
    const bad = fails(() => quickTargets(["http://127.0.0.1:9/robot/send?access_token=t&secret=notsec-123456"], "dingtalk", DEFAULTS));
    expect(bad.message).toBe('--to: not usable as a dingtalk webhook: secret must start with "SEC" (the robot\'s signing secret)');
    expect(bad.message).not.toContain("notsec-123456");
  });

  test("--type takes the types that are one URL, and lists them when it is not one", () => {
    expect(quickTargets(["http://127.0.0.1:9/x"], "slack", DEFAULTS).targets[0]!.def.type).toBe("slack");
    const list = "wecom, feishu, dingtalk, slack, discord, mattermost, teams, webhook";
    expect(fails(() => quickTargets(["http://127.0.0.1:9/x"], "wecm", DEFAULTS)).message).toBe(`--type: "wecm" is not a channel type; did you mean "wecom"? (types that --to takes: ${list})`);
    expect(fails(() => quickTargets(["http://127.0.0.1:9/x"], "telegram", DEFAULTS)).message).toBe(`--type: a telegram channel is not one URL; configure it in pp.toml (types that --to takes: ${list})`);
  });
});

describe("--to on the command line and PP_TO", () => {
  const saved = process.env.PP_TO;
  afterEach(() => {
    if (saved === undefined) delete process.env.PP_TO;
    else process.env.PP_TO = saved;
  });

  test("repeatable, kept whole (a URL may hold commas); only URLs need no config", () => {
    const s = sendSelection(["--to", "https://a.example/x?k=1,2", "--to=https://b.example/y", "text"]);
    expect(s.to).toEqual(["https://a.example/x?k=1,2", "https://b.example/y"]);
    expect(needsConfig(s)).toBe(false);
    expect(needsConfig(sendSelection(["--to", "https://a.example/x", "--ch", "ops"]))).toBe(true);
    expect(fails(() => sendSelection(["--to", ""])).message).toBe('--to "" names no URL');
  });

  test("PP_TO: comma or whitespace separated, when the command line chooses nothing", () => {
    process.env.PP_TO = "https://a.example/x, https://b.example/y\nhttps://c.example/z";
    expect(selection({ ch: [], tags: [], to: [] }).to).toEqual(["https://a.example/x", "https://b.example/y", "https://c.example/z"]);
    expect(selection({ ch: ["ops"], tags: [], to: [] }).to).toEqual([]);
  });
});
