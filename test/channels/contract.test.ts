import { describe, expect, test } from "bun:test";
import { parseRate } from "../../src/channels/_common.ts";
import { channelList, channels, isChannelType, type ChannelType } from "../../src/channels/index.ts";
import type { ChannelDef, Format } from "../../src/core/types.ts";
import { ctx, opts, problems, res } from "./_fixtures.ts";

/** A minimal valid section per type; every credential in it contains "S3CRET" so leaks are easy to spot. */
const MINIMAL: Record<ChannelType, Record<string, unknown>> = {
  wecom: { type: "wecom", webhook: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=S3CRET-0001-aaaa" },
  feishu: {
    type: "feishu",
    webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/S3CRET-0002-bbbb",
    secret: "S3CRET-sign",
  },
  dingtalk: {
    type: "dingtalk",
    webhook: "https://oapi.dingtalk.com/robot/send?access_token=S3CRET0003cccc",
    secret: "SECS3CRET-ding",
  },
  slack: { type: "slack", webhook: "https://hooks.slack.com/services/T0000/B0000/S3CRET0004dddd" },
  discord: { type: "discord", webhook: "https://discord.com/api/webhooks/1234567890/S3CRET0005eeee" },
  mattermost: { type: "mattermost", webhook: "https://chat.example.com/hooks/S3CRET0006ffff" },
  webhook: {
    type: "webhook",
    url: "https://example.com/hook?token=S3CRET0007gggg",
    headers: { "X-Token": "S3CRET-header" },
  },
  telegram: { type: "telegram", token: "123456789:S3CRET0008hhhh", chat_id: -1001234567890 },
  ntfy: { type: "ntfy", topic: "alerts", token: "tk_S3CRET0009iiii" },
  gotify: { type: "gotify", server: "https://push.example.com", token: "AS3CRET0010jjjj" },
  bark: { type: "bark", key: "S3CRET0011kkkk" },
  teams: {
    type: "teams",
    webhook:
      "https://prod-01.westeurope.logic.azure.com:443/workflows/0a1b2c3d/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3CRET0012llll",
  },
  pushplus: { type: "pushplus", token: "S3CRET0013mmmm" },
  serverchan: { type: "serverchan", sendkey: "SCT1234TS3CRET0014nnnn" },
  pushover: { type: "pushover", token: "S3CRET0015oooo", user: "uS3CRET0016pppp" },
  email: { type: "email", host: "smtp.example.com", user: "bot@example.com", password: "S3CRET0017qqqq", from: "bot@example.com", to: ["ops@example.com"] },
  wecom_app: { type: "wecom_app", corp_id: "ww0123456789abcdef", agent_id: 1000002, secret: "S3CRET0018rrrr" },
};

/** The setting that must be an http(s) URL, when it is not `webhook`. */
const URL_FIELD: Partial<Record<ChannelType, string>> = { webhook: "url", telegram: "api", ntfy: "server", gotify: "server", bark: "server", pushplus: "api", serverchan: "api", pushover: "api", email: "host", wecom_app: "api" };
/** The setting whose absence is an error, when it is not the URL (which has a default for these types). */
const REQUIRED_FIELD: Partial<Record<ChannelType, string>> = { telegram: "token", ntfy: "topic", bark: "key", pushplus: "token", serverchan: "sendkey", pushover: "user", wecom_app: "secret" };
/** Channels whose requests the core's SMTP transport performs rather than fetch: their own request shape and answers. */
const SMTP = new Set<ChannelType>(["email"]);
const badAddress = (type: ChannelType) => (SMTP.has(type) ? "must be a host name or IP address, without scheme or port" : "must be an http(s) URL");
const urlField = (type: ChannelType) => URL_FIELD[type] ?? "webhook";
const requiredField = (type: ChannelType) => REQUIRED_FIELD[type] ?? urlField(type);
const cases = (Object.keys(channels) as ChannelType[]).map((type) => [type, channels[type] as ChannelDef] as const);

test("the registry lists every channel under its own type", () => {
  expect(Object.keys(channels).sort()).toEqual([
    "bark",
    "dingtalk",
    "discord",
    "email",
    "feishu",
    "gotify",
    "mattermost",
    "ntfy",
    "pushover",
    "pushplus",
    "serverchan",
    "slack",
    "teams",
    "telegram",
    "webhook",
    "wecom",
    "wecom_app",
  ]);
  for (const [type, def] of cases) expect(def.type).toBe(type);
  expect(channelList()).toHaveLength(17);
  expect(isChannelType("slack")).toBe(true);
  expect(isChannelType("toString")).toBe(false);
});

describe.each(cases)("%s", (type, def) => {
  const o = opts(def, MINIMAL[type]);

  test("declares its data: label, docs link, default rates that parse", () => {
    expect(def.label.length).toBeGreaterThan(0);
    expect(def.docs).toStartWith("https://");
    for (const r of def.rate) expect(parseRate(r).count).toBeGreaterThan(0);
  });

  test("config: missing URL, bad URL, unknown key, bad rate, bad retries are errors", () => {
    const { [requiredField(type)]: _required, ...withoutRequired } = MINIMAL[type];
    expect(problems(def, withoutRequired).some((p) => p.startsWith(`${requiredField(type)}:`))).toBe(true);
    expect(problems(def, { ...MINIMAL[type], [urlField(type)]: "file:///etc/passwd" })).toContain(
      `${urlField(type)}: ${badAddress(type)}`,
    );
    expect(problems(def, { ...MINIMAL[type], webhok: "x" }).some((p) => p.startsWith("webhok:"))).toBe(true);
    expect(problems(def, { ...MINIMAL[type], rate: "20/mn" }).some((p) => p.includes('invalid rate "20/mn"'))).toBe(
      true,
    );
    expect(problems(def, { ...MINIMAL[type], retries: -1 }).length).toBeGreaterThan(0);
    expect(problems(def, { ...MINIMAL[type], type: "other" }).length).toBeGreaterThan(0);
    expect(problems(def, { ...MINIMAL[type], rate: ["1/s", "30/min"], timeout: "5s", retries: 2 })).toEqual([]);
  });

  test("config errors never repeat a credential", () => {
    const bad = { ...MINIMAL[type], [urlField(type)]: "S3CRET-not-a-url", rate: "S3CRET" };
    const text = problems(def, bad).join("\n");
    expect(text.length).toBeGreaterThan(0);
    expect(text.replaceAll('invalid rate "S3CRET"', "")).not.toContain("S3CRET");
  });

  test.each([
    ["text", undefined],
    ["text", "Title (1/2)"],
    ["markdown", undefined],
    ["markdown", "Title (2/2)"],
  ] as [Format, string | undefined][])(
    "builds a %s request (title %p) that fits and is well-formed",
    (format, title) => {
      const rendered = def.render("Hello **world** & <friends>\nsecond line", format, o);
      const req = def.build(rendered, ctx({ format, title }), o);
      if (SMTP.has(type)) {
        expect(req).toMatchObject({ method: "SMTP", transport: "smtp" });
      } else {
        expect(req.method).toBe("POST");
        expect(req.headers["Content-Type"]).toBe("application/json; charset=utf-8");
        expect(req.headers["User-Agent"]).toBe("pp");
      }
      expect(() => JSON.parse(req.body!)).not.toThrow();
      const limit = def.limit(o, { format, hasTitle: title !== undefined });
      const size = def.measure(req, o, { format });
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(limit.max);
      // The core probes the fixed cost of a part with an empty one.
      expect(() =>
        def.measure(def.build("", ctx({ format, title, index: 0, total: 99 }), o), o, { format }),
      ).not.toThrow();
    },
  );

  test("secrets cover every credential; target and rateKey show none", () => {
    const secrets = def.secrets(o);
    for (const value of Object.values(MINIMAL[type]).flatMap((x) =>
      typeof x === "string" ? [x] : Object.values(x as object),
    )) {
      if (String(value).includes("S3CRET"))
        expect(secrets.some((s) => s.includes("S3CRET") && String(value).includes(s))).toBe(true);
    }
    expect(def.target(o)).not.toContain("S3CRET");
    expect(def.target(o)).toStartWith(SMTP.has(type) ? "smtp://" : "https://");
    expect(def.rateKey(o)).toMatch(new RegExp(`^${type}:[0-9a-f]{64}$`));
  });

  test("classifies the shared HTTP cases (SMTP: the reply codes)", () => {
    if (SMTP.has(type)) {
      expect(def.classify(res(250, { response: "250 OK", rejected: [] }), o).kind).toBe("ok");
      expect(def.classify(res(421, { response: "421 busy" }), o).kind).toBe("retryable");
      expect(def.classify(res(554, { response: "554 refused" }), o).kind).toBe("permanent");
      return;
    }
    expect(def.classify(res(503, "down"), o).kind).toBe("retryable");
    expect(def.classify(res(429, "", { "Retry-After": "9" }), o)).toMatchObject({
      kind: "rate_limited",
      retryAfterMs: 9000,
    });
    expect(def.classify(res(404, "gone"), o).kind).toBe("permanent");
  });

  test("platform error text never carries the webhook URL", () => {
    const url = String(MINIMAL[type][urlField(type)]);
    const echo = `bad hook ${url}`;
    for (const status of [200, 400]) {
      const r = res(status, { errcode: 1, errmsg: echo, code: 1, msg: echo, message: echo });
      const out = def.classify(r, o);
      if (out.kind !== "ok") expect(out.error).not.toContain("S3CRET");
    }
  });
});

test("two sections on one webhook share a rate key; different webhooks do not", () => {
  const a = opts(channels.wecom, MINIMAL.wecom);
  const b = opts(channels.wecom, { ...MINIMAL.wecom, rate: "10/min", mentioned_list: ["x"] });
  const c = opts(channels.wecom, {
    ...MINIMAL.wecom,
    webhook: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=other-0000-key",
  });
  expect(channels.wecom.rateKey(a)).toBe(channels.wecom.rateKey(b));
  expect(channels.wecom.rateKey(a)).not.toBe(channels.wecom.rateKey(c));
});
