import { afterEach, describe, expect, test } from "bun:test";
import dingtalk from "../../src/channels/dingtalk.ts";
import discord from "../../src/channels/discord.ts";
import feishu from "../../src/channels/feishu.ts";
import mattermost from "../../src/channels/mattermost.ts";
import slack from "../../src/channels/slack.ts";
import webhook from "../../src/channels/webhook.ts";
import wecom from "../../src/channels/wecom.ts";
import { channels, channelTypes } from "../../src/channels/index.ts";
import { dispatch, partContext, plan, type Target } from "../../src/core/dispatch.ts";
import { newId } from "../../src/core/id.ts";
import { mentionNotes, mentionsOf, parseAt } from "../../src/core/mentions.ts";
import type { Mentions } from "../../src/core/types.ts";
import { openStore } from "../../src/store/index.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir, virtualClock } from "../helpers.ts";
import { target } from "./_deliver.ts";
import { opts, send } from "./_fixtures.ts";
import { join } from "node:path";

const SNOWFLAKE = "123456789012345678";
const at = (...list: string[]): Mentions => mentionsOf(parseAt(list))!;

describe("parseAt", () => {
  test("comma lists and repeats, each once, in order; all in any spelling; @ dropped from user ids", () => {
    expect(parseAt(["13800001111,alice", "@bob", "alice", "ALL", " ", "@everyone"])).toEqual(["13800001111", "alice", "bob", "all"]);
  });

  test.each([
    ["13800001111", { all: false, phones: ["13800001111"], users: [] }],
    ["+8613800001111", { all: false, phones: ["+8613800001111"], users: [] }],
    // A Discord id has more digits than any phone number (E.164: 15).
    [SNOWFLAKE, { all: false, phones: [], users: [SNOWFLAKE] }],
    ["ou_7d8a6e6df7621556ce0d21922b676706", { all: false, phones: [], users: ["ou_7d8a6e6df7621556ce0d21922b676706"] }],
    ["all", { all: true, phones: [], users: [] }],
  ])("%s is sorted by kind", (value, want) => {
    expect(mentionsOf(parseAt([value]))).toEqual(want);
  });

  test.each(['a"b', "a b", "<!channel>", "x>", "</at>", "é", "a".repeat(65)])("%p is refused, so no id can break out of the markup it goes in", (bad) => {
    expect(() => parseAt([bad])).toThrow(/^--at .* is not a mention: give "all", a phone number/);
  });

  test("more than a platform pings at once is refused", () => {
    expect(() => parseAt([Array.from({ length: 101 }, (_, i) => `u${i}`).join(",")])).toThrow(/at most 100/);
  });

  test("none: no mentions at all", () => {
    expect(mentionsOf(parseAt([]))).toBeUndefined();
  });
});

const WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7f2e-4bc4-97a0-0ec2fa5aaa11";

describe("wecom", () => {
  const o = opts(wecom, { type: "wecom", webhook: WECOM, mentioned_list: ["wangqing"], mentioned_mobile_list: ["13800001111"] });

  test("text: user ids and everyone in mentioned_list, phones in mentioned_mobile_list, merged with the config's", () => {
    const { json } = send(wecom, o, "disk full", { at: at("alice", "wangqing", "13900002222", "all") });
    expect(json.text).toEqual({
      content: "disk full",
      mentioned_list: ["wangqing", "alice", "@all"],
      mentioned_mobile_list: ["13800001111", "13900002222"],
    });
    expect(wecom.mentions!(at("alice", "13900002222", "all"), "text", o)).toBeUndefined();
  });

  test("markdown v1: user ids inline as <@id>; phones and everyone cannot be, and the note says so", () => {
    const plain = opts(wecom, { type: "wecom", webhook: WECOM });
    const { json } = send(wecom, plain, "**disk** full", { format: "markdown", at: at("alice", "13900002222", "all") });
    expect(json.msgtype).toBe("markdown");
    expect(json.markdown.content).toEndWith("\n<@alice>");
    expect(json.markdown.mentioned_list).toBeUndefined();
    expect(wecom.mentions!(at("alice", "13900002222", "all"), "markdown", plain)).toBe(
      "WeCom markdown mentions only user ids; not mentioned: phone numbers and everyone (send with --format text to mention them)",
    );
    expect(wecom.mentions!(at("alice"), "markdown", plain)).toBeUndefined();
  });

  test("markdown v2 has no mentions at all", () => {
    const v2 = opts(wecom, { type: "wecom", webhook: WECOM, markdown: "v2" });
    const { json } = send(wecom, v2, "x", { format: "markdown", at: at("alice") });
    expect(json.markdown_v2.content).not.toContain("alice");
    expect(wecom.mentions!(at("alice"), "markdown", v2)).toStartWith("WeCom markdown_v2 has no mentions; not mentioned: user ids");
  });
});

describe("dingtalk", () => {
  const WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef";
  const o = opts(dingtalk, { type: "dingtalk", webhook: WEBHOOK, at_mobiles: ["13800001111"] });

  test("text: at.atMobiles / atUserIds / isAtAll, and every @id in the content, merged with the config's", () => {
    const { json } = send(dingtalk, o, "deploy failed", { at: at("13900002222", "user123", "all") });
    expect(json.at).toEqual({ atMobiles: ["13800001111", "13900002222"], atUserIds: ["user123"], isAtAll: true });
    expect(json.text.content).toBe("deploy failed\n@13800001111 @13900002222 @user123");
  });

  test("markdown: the same at object, the @ line after a blank line", () => {
    const { json } = send(dingtalk, o, "**down**", { format: "markdown", title: "Deploy", at: at("user123") });
    expect(json.at).toEqual({ atMobiles: ["13800001111"], atUserIds: ["user123"], isAtAll: false });
    expect(json.markdown.text).toEndWith("\n\n@13800001111 @user123");
    expect(dingtalk.mentions!(at("1", "u", "all"), "markdown", o)).toBeUndefined();
  });
});

describe("feishu", () => {
  const o = opts(feishu, { type: "feishu", webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/5f8b1e52-9a0a-4a4e-9a9a-0123456789ab" });
  const OU = "ou_7d8a6e6df7621556ce0d21922b676706";

  test("text: <at user_id> for each id and for all", () => {
    const { json } = send(feishu, o, "deploy done", { at: at(OU, "all") });
    expect(json.content.text).toBe(`deploy done\n<at user_id="${OU}"></at> <at user_id="all">所有人</at>`);
  });

  test("a titled text message is a post: at nodes on a line of their own", () => {
    const { json } = send(feishu, o, "deploy done", { title: "Deploy", at: at(OU, "all") });
    expect(json.content.post.zh_cn.content.at(-1)).toEqual([{ tag: "at", user_id: OU }, { tag: "at", user_id: "all", user_name: "所有人" }]);
  });

  test("markdown card: <at id=…> in the markdown element; the config's at_all is not doubled", () => {
    const all = opts(feishu, { type: "feishu", webhook: o.webhook, at_all: true });
    const { json } = send(feishu, all, "**ok**", { format: "markdown", at: at(OU, "all") });
    expect(json.card.elements[0].content).toEndWith(`\n<at id=${OU}></at> <at id=all></at>`);
  });

  test("phone numbers cannot be mentioned by a custom bot: a note, and none in the message", () => {
    const { json } = send(feishu, o, "x", { at: at("13800001111") });
    expect(json.content.text).toBe("x");
    expect(feishu.mentions!(at("13800001111", OU), "text", o)).toBe("a Feishu custom bot cannot mention phone numbers; use open_ids (ou_…) or user_ids");
  });
});

describe("slack", () => {
  const o = opts(slack, { type: "slack", webhook: "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX" });

  test("<!channel> for everyone, <@U…> for members, after the escaped text", () => {
    const { json } = send(slack, o, "<!channel> from the text is escaped", { at: at("all", "U024BE7LH") });
    expect(json.text).toBe("&lt;!channel&gt; from the text is escaped\n<!channel> <@U024BE7LH>");
  });

  test("with a title they go in the section that is shown, and in the fallback", () => {
    const { json } = send(slack, o, "body", { title: "T", at: at("U024BE7LH") });
    expect(json.blocks[1].text.text).toBe("body\n<@U024BE7LH>");
    expect(json.text).toBe("T\nbody\n<@U024BE7LH>");
  });

  test("phone numbers: a note", () => {
    expect(slack.mentions!(at("13800001111", "all"), "text", o)).toBe("Slack cannot mention phone numbers; use member ids (U…)");
    expect(slack.mentions!(at("all", "U1"), "text", o)).toBeUndefined();
  });
});

describe("discord", () => {
  const WEBHOOK = `https://discord.com/api/webhooks/${SNOWFLAKE}/${"t".repeat(68)}`;
  const o = opts(discord, { type: "discord", webhook: WEBHOOK });

  test("@everyone and <@id> in the content, each allowed to ping and nothing else", () => {
    const { json } = send(discord, o, "down", { at: at("all", SNOWFLAKE) });
    expect(json.content).toBe(`down\n@everyone <@${SNOWFLAKE}>`);
    expect(json.allowed_mentions).toEqual({ parse: ["everyone"], users: [SNOWFLAKE] });
  });

  test("without --at nothing in the text pings", () => {
    expect(send(discord, o, "@everyone look").json.allowed_mentions).toEqual({ parse: [] });
  });

  test("with a title the mentions go in the content, since an embed never pings", () => {
    const { json } = send(discord, o, "down", { title: "Deploy", at: at(SNOWFLAKE) });
    expect(json.content).toBe(`<@${SNOWFLAKE}>`);
    expect(json.embeds[0].description).toBe("down");
  });

  test("mentions = [\"users\"] in the config already lets every user ping: no users list beside it", () => {
    const users = opts(discord, { type: "discord", webhook: WEBHOOK, mentions: ["users"] });
    expect(send(discord, users, "x", { at: at(SNOWFLAKE) }).json.allowed_mentions).toEqual({ parse: ["users"] });
  });
});

describe("mattermost", () => {
  const o = opts(mattermost, { type: "mattermost", webhook: "https://chat.example.com/hooks/xxxxxxxxxxxxxxxxxxxxxxxxxx" });
  test("@all and @username", () => {
    expect(send(mattermost, o, "x", { at: at("all", "alice") }).json.text).toBe("x\n@all @alice");
    expect(mattermost.mentions!(at("13800001111"), "text", o)).toBe("Mattermost cannot mention phone numbers; use usernames");
  });
});

describe("webhook", () => {
  test("the default JSON body carries them as an \"at\" list, and has no \"at\" without them", () => {
    const o = opts(webhook, { type: "webhook", url: "https://example.com/hook" });
    expect(send(webhook, o, "x", { at: at("all", "13800001111", "alice") }).json.at).toEqual(["all", "13800001111", "alice"]);
    expect("at" in send(webhook, o, "x").json).toBe(false);
    expect(webhook.mentions!(at("all"), "text", o)).toBeUndefined();
  });

  test("a template uses {{ at }}; one without it gets a note", () => {
    const o = opts(webhook, { type: "webhook", url: "https://example.com/hook", body: '{"msg": {{ text | json }}, "who": {{ at | json }}}' });
    expect(send(webhook, o, "x", { at: at("alice", "all") }).json).toEqual({ msg: "x", who: "all,alice" });
    expect(send(webhook, o, "x").json.who).toBe("");
    const none = opts(webhook, { type: "webhook", url: "https://example.com/hook", body: '{"msg": {{ text | json }}}' });
    expect(webhook.mentions!(at("all"), "text", none)).toBe("its url and body templates have no {{ at }}");
  });

  test("a raw {{ at }} inside JSON is refused with the fix", () => {
    expect(() => opts(webhook, { type: "webhook", url: "https://example.com/hook", body: '{"who": {{ at }}}' })).toThrow(/\{\{ at \| json \}\}/);
  });
});

describe("notes", () => {
  test("one per channel that has no mentions, and one for a channel that cannot make some", () => {
    const tg = target('type = "telegram"\ntoken = "123456789:AAbbccddeeffgghhiijjkkllmmnnooppqqr"\nchat_id = 42');
    const sl = target('type = "slack"\nwebhook = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"');
    const notes = mentionNotes([{ ...tg, name: "tg" }, { ...sl, name: "sl" }], at("all", "13800001111"), "text");
    expect(notes).toEqual([
      `pp: note: tg: --at ignored: ${tg.def.label} has no mentions`,
      "pp: note: sl: --at partly ignored: Slack cannot mention phone numbers; use member ids (U…)",
    ]);
    expect(mentionNotes([sl], undefined, "text")).toEqual([]);
  });

  test("every registered type either makes mentions or is named in a note", () => {
    for (const type of channelTypes) {
      const def = channels[type];
      const t = { name: "c", def, opts: {} } as unknown as Target;
      if (def.mentions) continue;
      expect(mentionNotes([t], at("all"), "text")).toEqual([`pp: note: c: --at ignored: ${def.label} has no mentions`]);
    }
  });
});

describe("split messages", () => {
  let fake: Fake | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });

  test("plan: the first part carries the mentions and still fits; the others carry none", () => {
    const t = target(`type = "dingtalk"\nwebhook = "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789"`);
    const text = Array.from({ length: 3000 }, (_, i) => `line ${i} of the report`).join("\n");
    const m = at("13800001111", "all");
    const p = plan(t, undefined, text, "text", 0, m);
    expect(p.parts.length).toBeGreaterThan(2);
    const bodies = p.parts.map((part, i) => JSON.parse(t.def.build(part, partContext(p.titles[i], "text", i, p.parts.length, 0, m), t.opts).body!));
    expect(bodies[0].at).toEqual({ atMobiles: ["13800001111"], atUserIds: [], isAtAll: true });
    expect(bodies.slice(1).every((b) => b.at === undefined && !b.text.content.includes("@13800001111"))).toBe(true);
    for (const b of bodies) expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThanOrEqual(20_000);
  });

  test("dispatch: the platform pings on the first part only", async () => {
    fake = await startFake("mattermost", { rate: false });
    const t = target(`type = "mattermost"\nwebhook = ${q(fake.webhook)}`);
    const store = openStore(join(tempDir(), "pp.db"));
    try {
      const now = Date.now();
      const text = Array.from({ length: 4000 }, (_, i) => `line ${i} of a long log`).join("\n");
      const r = await dispatch(
        { id: newId(now), createdAt: now, text, format: "text", source: "cli", targets: ["c"], at: ["all", "alice"] },
        [t],
        { recorder: store.log, limiter: store.limiter, deadline: now + 30_000, clock: virtualClock(), random: () => 0.5 },
      );
      expect(r.deliveries[0]!.status).toBe("delivered");
      const got = fake.accepted();
      expect(got.length).toBeGreaterThan(1);
      expect(got[0]!.pinged).toEqual(["all", "alice"]);
      expect(got.slice(1).map((x) => x.pinged)).toEqual(got.slice(1).map(() => []));
    } finally {
      store.close();
    }
  });
});

describe("the fakes judge mentions as the platforms do", () => {
  let fakes: Fake[] = [];
  afterEach(async () => {
    await Promise.all(fakes.map((x) => x.stop()));
    fakes = [];
  });
  const post = (url: string, body: unknown) =>
    fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const start = async (type: Parameters<typeof startFake>[0]) => {
    const fake = await startFake(type, { rate: false });
    fakes.push(fake);
    return fake;
  };

  test("discord refuses a users list beside parse users, and pings nothing allowed_mentions does not allow", async () => {
    const d = await start("discord");
    const url = `${d.webhook}?wait=true`;
    const clash = await post(url, { content: `<@${SNOWFLAKE}>`, allowed_mentions: { parse: ["users"], users: [SNOWFLAKE] } });
    expect(clash.status).toBe(400);
    expect(((await clash.json()) as { code: number }).code).toBe(50035);
    await post(url, { content: `@everyone <@${SNOWFLAKE}>`, allowed_mentions: { parse: [] } });
    await post(url, { content: `@everyone <@${SNOWFLAKE}>` });
    await post(url, { content: "x", embeds: [{ description: `<@${SNOWFLAKE}>` }], allowed_mentions: { parse: ["users"] } });
    expect(d.accepted().map((r) => r.pinged)).toEqual([[], ["all", SNOWFLAKE], []]);
  });

  test("dingtalk notifies only a mention also written in the text, and refuses a malformed at", async () => {
    const d = await start("dingtalk");
    await post(d.webhook, { msgtype: "text", text: { content: "x @13800001111" }, at: { atMobiles: ["13800001111", "13900002222"], isAtAll: false } });
    const bad = await post(d.webhook, { msgtype: "text", text: { content: "x" }, at: { atMobiles: "13800001111" } });
    expect(((await bad.json()) as { errcode: number }).errcode).not.toBe(0);
    expect(d.accepted().map((r) => r.pinged)).toEqual([["13800001111"]]);
  });

  test("wecom: the lists count in text messages only; markdown v1 pings <@id>, markdown_v2 nobody", async () => {
    const w = await start("wecom");
    await post(w.webhook, { msgtype: "text", text: { content: "x", mentioned_list: ["a", "@all"], mentioned_mobile_list: ["13800001111"] } });
    await post(w.webhook, { msgtype: "markdown", markdown: { content: "x <@b>", mentioned_list: ["a"] } });
    await post(w.webhook, { msgtype: "markdown_v2", markdown_v2: { content: "x <@b>" } });
    const bad = await post(w.webhook, { msgtype: "text", text: { content: "x", mentioned_list: "a" } });
    expect(((await bad.json()) as { errcode: number }).errcode).toBe(40058);
    expect(w.accepted().map((r) => r.pinged)).toEqual([["a", "all", "13800001111"], ["b"], []]);
  });

  test("slack: an escaped <!channel> is text; feishu: ids in text, post and card", async () => {
    const s = await start("slack");
    await post(s.webhook, { text: "&lt;!channel&gt; <@U024BE7LH|bob> <!here>" });
    expect(s.accepted()[0]!.pinged).toEqual(["U024BE7LH", "all"]);
    const f = await start("feishu");
    await post(f.webhook, { msg_type: "text", content: { text: 'x <at user_id="ou_1"></at>' } });
    await post(f.webhook, { msg_type: "post", content: { post: { zh_cn: { title: "t", content: [[{ tag: "at", user_id: "all" }]] } } } });
    await post(f.webhook, { msg_type: "interactive", card: { elements: [{ tag: "markdown", content: "<at ids=ou_1,ou_2></at>" }] } });
    expect(f.accepted().map((r) => r.pinged)).toEqual([["ou_1"], ["all"], ["ou_1", "ou_2"]]);
  });
});
