import { describe, expect, test } from "bun:test";
import { destinationSecrets, showUrl } from "../../src/channels/_common.ts";
import { channels, type ChannelType } from "../../src/channels/index.ts";
import type { ChannelDef } from "../../src/core/types.ts";
import { redactor } from "../../src/core/redact.ts";
import { opts } from "./_fixtures.ts";

const def = (type: ChannelType) => channels[type] as ChannelDef;

/** Types whose URL setting is a base URL (`api`) beside a credential of their own: the credential they also need. */
const API_TYPES: Partial<Record<ChannelType, Record<string, unknown>>> = {
  pushplus: { token: "t0ken-0001" },
  serverchan: { sendkey: "SCT1TsendKey0001" },
  pushover: { token: "t0ken-0001", user: "us3r-0001" },
  telegram: { token: "1:t0ken-0001", chat_id: 1 },
  ntfy: { topic: "alerts", token: "tk_t0ken-0001" },
  gotify: { token: "At0ken-0001" },
  bark: { key: "k3y-0001" },
  wecom_app: { corp_id: "ww0001", agent_id: 1, secret: "s3cret-0001" },
};
/** Types among API_TYPES whose base URL setting is called `server`. */
const SERVER_TYPES = new Set<ChannelType>(["ntfy", "gotify", "bark"]);
/** Types with no URL setting at all (SMTP). */
const NO_URL = new Set<ChannelType>(["email"]);
/** A section of `type` whose URL setting is `url`. */
function withUrl(type: ChannelType, url: string): Record<string, unknown> {
  const extra = API_TYPES[type];
  if (extra) return { type, [SERVER_TYPES.has(type) ? "server" : "api"]: url, ...extra };
  return { type, [type === "webhook" ? "url" : "webhook"]: url };
}
const URL_TYPES = (Object.keys(channels) as ChannelType[]).filter((t) => !NO_URL.has(t));

describe("one rule shows a destination", () => {
  test.each([
    ["https://hooks.example.com:8443/webhook/hunter-secret?x=1", "https://hooks.example.com:8443/***"],
    ["https://hooks.example.com/webhook/hunter-secret", "https://hooks.example.com/***"],
    ["http://user:pass@127.0.0.1:8080/", "http://127.0.0.1:8080/"],
    ["https://example.com/?token=abc", "https://example.com/***"],
  ])("a generic webhook %s shows as %s", (url, shown) => {
    expect(showUrl(url)).toBe(shown);
    expect(def("webhook").target(opts(def("webhook"), { type: "webhook", url }))).toBe(shown);
  });

  test("a URL that does not parse shows nothing", () => {
    expect(showUrl("hunter-secret")).toBe("***");
    expect(showUrl("hunter-secret", ["hooks"])).toBe("***");
  });

  test.each([
    ["wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=hunter-secret", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"],
    ["feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/hunter-secret", "https://open.feishu.cn/open-apis/bot/v2/hook/***"],
    ["dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=hunter-secret", "https://oapi.dingtalk.com/robot/send?access_token=***"],
    ["slack", "https://hooks.slack.com/services/TABC/BABC/hunter-secret", "https://hooks.slack.com/services/***/***/***"],
    ["discord", "https://discord.com/api/webhooks/hunter/hunter-secret", "https://discord.com/api/webhooks/***/***"],
    ["mattermost", "https://chat.example.com/mm/hooks/hunter-secret", "https://chat.example.com/***/hooks/***"],
  ] as [ChannelType, string, string][])("%s keeps its fixed parts visible", (type, webhook, shown) => {
    const o = opts(def(type), { type, webhook });
    expect(def(type).target(o)).toBe(shown);
    // A request URL (with a signature added, say) is shown by the same rule.
    expect(def(type).target(o, `${webhook}${webhook.includes("?") ? "&" : "?"}sign=abc`)).toBe(
      `${shown}${shown.includes("?") ? "&" : "?"}sign=***`,
    );
  });

  test("a path secret that does not look like a token is a secret of every channel type", () => {
    for (const type of URL_TYPES) {
      const o = opts(def(type), withUrl(type, "https://h.example.com/webhook/hunter-secret"));
      const redact = redactor(def(type).secrets(o));
      expect(redact("no route for /webhook/hunter-secret")).not.toContain("hunter");
      expect(redact('{"path":"\\/webhook\\/hunter-secret"}')).not.toContain("hunter");
      expect(def(type).target(o)).not.toContain("hunter");
    }
  });

  test("common words of a generic path are not hidden in answers, only on display", () => {
    const s = destinationSecrets("https://h.example.com/api/webhook/hunter-secret");
    expect(s).toContain("hunter-secret");
    expect(s).not.toContain("webhook");
    expect(s).not.toContain("api");
    expect(redactor(s)("webhook refused")).toBe("webhook refused");
  });
});

describe("credentials in a URL", () => {
  const url = "http://us%20er:p%40ss-word@127.0.0.1:8080/notify";
  const basicDecoded = Buffer.from("us er:p@ss-word").toString("base64");
  const basicRaw = Buffer.from("us%20er:p%40ss-word").toString("base64");

  test.each(URL_TYPES)("%s: user, password and the derived Basic value are secrets", (type) => {
    const o = opts(def(type), withUrl(type, url));
    const redact = redactor(def(type).secrets(o));
    const echoed = `user us er, password p@ss-word, got Authorization: Basic ${basicDecoded} (or ${basicRaw})`;
    const out = redact(echoed);
    for (const s of ["us er", "p@ss-word", "p%40ss-word", basicDecoded, basicRaw]) expect(out).not.toContain(s);
    expect(def(type).target(o)).not.toContain("p%40ss");
    expect(def(type).target(o)).not.toContain("us%20er");
  });

  test("a webhook's Basic header hides the encoded value and what it decodes to", () => {
    const value = `Basic ${Buffer.from("alice:wonder-land").toString("base64")}`;
    const o = opts(def("webhook"), { type: "webhook", url: "https://h.example.com/", headers: { Authorization: value } });
    const out = redactor(def("webhook").secrets(o))(`echo ${value} alice wonder-land`);
    expect(out).not.toContain("wonder-land");
    expect(out).not.toContain("alice");
    expect(out).not.toContain(value.slice(6));
  });
});
