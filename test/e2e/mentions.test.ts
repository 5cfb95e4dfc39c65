/**
 * End-to-end: `pp send --at` through the compiled binary, each platform played by its fake, which decides who is
 * notified from the payload as the platform does (Received.pinged); and `at` through the daemon's API.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, TELEGRAM_CHATS, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp } from "./_run.ts";

needBinary();

const SNOWFLAKE = "123456789012345678";
const TOKEN = "mentions-e2e-token-0b1c2d";
let f: Record<"wecom" | "dingtalk" | "feishu" | "slack" | "discord" | "mattermost" | "telegram" | "webhook", Fake>;

beforeAll(async () => {
  const types = ["wecom", "dingtalk", "feishu", "slack", "discord", "mattermost", "telegram", "webhook"] as const;
  const started = await Promise.all(types.map((t) => startFake(t, { rate: false })));
  f = Object.fromEntries(types.map((t, i) => [t, started[i]!])) as typeof f;
});
afterAll(async () => {
  await Promise.all(Object.values(f).map((x) => x.stop()));
});
afterEach(() => {
  for (const x of Object.values(f)) x.reset();
});

function workspace(extra = ""): string {
  const cwd = tempDir("pp-e2e-at-");
  writeFileSync(
    join(cwd, "pp.toml"),
    `[defaults]
deadline = "20s"
[log]
path = ${q(join(cwd, "pp.db"))}
[channels.wecom]
type = "wecom"
webhook = ${q(f.wecom.webhook)}
[channels.dingtalk]
type = "dingtalk"
webhook = ${q(f.dingtalk.webhook)}
at_mobiles = ["13900002222"]
[channels.feishu]
type = "feishu"
webhook = ${q(f.feishu.webhook)}
[channels.slack]
type = "slack"
webhook = ${q(f.slack.webhook)}
[channels.discord]
type = "discord"
webhook = ${q(f.discord.webhook)}
[channels.mattermost]
type = "mattermost"
webhook = ${q(f.mattermost.webhook)}
[channels.tg]
type = "telegram"
api = ${q(new URL(f.telegram.webhook).origin)}
token = ${q(f.telegram.token)}
chat_id = ${TELEGRAM_CHATS.user}
[channels.hook]
type = "webhook"
url = ${q(f.webhook.webhook)}
${extra}`,
    { mode: 0o600 },
  );
  chmodSync(join(cwd, "pp.toml"), 0o600);
  return cwd;
}

const pinged = (x: Fake) => x.accepted().map((r) => r.pinged);

describe("pp send --at", () => {
  test("WeCom, DingTalk and Feishu notify the phone numbers, user ids and everyone asked for", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "wecom,dingtalk,feishu", "--at", "13800001111", "--at", "zhangsan,all", "disk full"], { cwd });
    expect(r.code).toBe(0);
    expect(pinged(f.wecom)).toEqual([["zhangsan", "all", "13800001111"]]);
    expect(f.wecom.accepted()[0]!.json.text.mentioned_mobile_list).toEqual(["13800001111"]);
    // The configured at_mobiles still pings, with the ones asked for; each also written in the text, as DingTalk needs.
    expect(pinged(f.dingtalk)).toEqual([["all", "13900002222", "13800001111", "zhangsan"]]);
    expect(pinged(f.feishu)).toEqual([["zhangsan", "all"]]);
    // A custom Feishu bot cannot mention a phone number: one note says so, and the message still goes.
    expect(r.stderr.split("\n").filter((l) => l.startsWith("pp: note:"))).toEqual([
      "pp: note: feishu: --at partly ignored: a Feishu custom bot cannot mention phone numbers; use open_ids (ou_…) or user_ids",
    ]);
  });

  test("Slack, Discord and Mattermost each in their own syntax; a mention in the text itself pings nobody", async () => {
    const cwd = workspace();
    const slack = await pp(["send", "--ch", "slack", "--at", "all,U024BE7LH", "<!channel> in the text"], { cwd });
    expect(slack.code).toBe(0);
    expect(pinged(f.slack)).toEqual([["all", "U024BE7LH"]]);
    const plain = await pp(["send", "--ch", "slack,discord", "<!channel> @everyone"], { cwd });
    expect(plain.code).toBe(0);
    expect(pinged(f.slack).at(-1)).toEqual([]);
    expect(pinged(f.discord)).toEqual([[]]);
    const discord = await pp(["send", "--ch", "discord", "-t", "Deploy", "--at", "all", "--at", SNOWFLAKE, "down"], { cwd });
    expect(discord.code).toBe(0);
    expect(pinged(f.discord).at(-1)).toEqual(["all", SNOWFLAKE]);
    expect(JSON.parse(f.discord.accepted().at(-1)!.answer.body)).toMatchObject({ mention_everyone: true, mentions: [{ id: SNOWFLAKE }] });
    const mm = await pp(["send", "--ch", "mattermost", "--at", "all,@alice", "x"], { cwd });
    expect(mm.code).toBe(0);
    expect(pinged(f.mattermost)).toEqual([["all", "alice"]]);
  });

  test("Telegram has no mentions: ignored with one note; the generic webhook's default body carries them", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "tg,hook", "--at", "all,13800001111", "hello"], { cwd });
    expect(r.code).toBe(0);
    expect(f.telegram.accepted()[0]!.json.text).toBe("hello");
    expect(f.webhook.accepted()[0]!.json.at).toEqual(["all", "13800001111"]);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("pp: note:"))).toEqual(["pp: note: tg: --at ignored: Telegram bot (sendMessage) has no mentions"]);
    // --quiet keeps stderr for errors only.
    const quiet = await pp(["send", "-q", "--ch", "tg", "--at", "all", "hello"], { cwd });
    expect({ code: quiet.code, stderr: quiet.stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("WeCom markdown stays markdown: user ids inline, a note for what it cannot mention", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "wecom", "-f", "markdown", "--at", "all,zhangsan", "**disk** full"], { cwd });
    expect(r.code).toBe(0);
    expect(f.wecom.accepted()[0]!.json.msgtype).toBe("markdown");
    expect(pinged(f.wecom)).toEqual([["zhangsan"]]);
    expect(r.stderr).toContain("pp: note: wecom: --at partly ignored: WeCom markdown mentions only user ids; not mentioned: everyone (send with --format text to mention them)\n");
  });

  test("a split message pings on its first part only", async () => {
    const cwd = workspace();
    const text = Array.from({ length: 1500 }, (_, i) => `line ${i} of the nightly report`).join("\n");
    const r = await pp(["send", "--ch", "dingtalk,mattermost", "--at", "all,alice"], { cwd, stdin: text });
    expect(r.code).toBe(0);
    for (const x of [f.dingtalk, f.mattermost]) {
      const got = pinged(x);
      expect(got.length).toBeGreaterThan(1);
      expect(got[0]).toContain("all");
      expect(got.slice(1)).toEqual(got.slice(1).map(() => []));
    }
  });

  test("PP_AT when there is no --at; --at wins over it", async () => {
    const cwd = workspace();
    expect((await pp(["send", "--ch", "mattermost", "x"], { cwd, env: { PP_AT: "all" } })).code).toBe(0);
    expect((await pp(["send", "--ch", "mattermost", "--at", "bob", "x"], { cwd, env: { PP_AT: "all" } })).code).toBe(0);
    expect(pinged(f.mattermost)).toEqual([["all"], ["bob"]]);
  });

  test("a value that is no mention is a usage error, and nothing is sent", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "slack", "--at", "<!channel>", "x"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('pp: --at "<!channel>" is not a mention: give "all", a phone number (digits, optionally with a leading +) or a user id (letters, digits, _ . - @)\n');
    const empty = await pp(["send", "--ch", "slack", "--at", "", "x"], { cwd });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toStartWith('pp: --at "" names no one');
    expect(f.slack.requests).toHaveLength(0);
  });

  test("pp replay mentions again: the push log keeps the mentions, and pp log show --json lists them", async () => {
    const cwd = workspace();
    f.mattermost.fault({ kind: "status", status: 400, body: "no" }, 1);
    const first = await pp(["send", "--ch", "mattermost", "--at", "all", "x"], { cwd });
    expect(first.code).toBe(1);
    const id = first.stdout.trim();
    expect(JSON.parse((await pp(["log", "show", id, "--json"], { cwd })).stdout).at).toEqual(["all"]);
    const replay = await pp(["replay", id], { cwd });
    expect(replay.code).toBe(0);
    expect(pinged(f.mattermost)).toEqual([["all"]]);
  });

  test("--dry-run shows the mention fields", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--dry-run", "--json", "--ch", "dingtalk", "--at", "13800001111", "x"], { cwd });
    expect(r.code).toBe(0);
    const body = JSON.parse(JSON.parse(r.stdout)[0].requests[0].body);
    expect(body.at).toEqual({ atMobiles: ["13900002222", "13800001111"], atUserIds: [], isAtAll: false });
    expect(f.dingtalk.requests).toHaveLength(0);
  });
});

describe("the daemon", () => {
  test("POST /api/text takes `at`, and pp send --server passes --at on", async () => {
    const cwd = workspace(`[serve]\nlisten = "127.0.0.1:0"\ntoken = ${q(TOKEN)}\n${process.getuid?.() === 0 ? 'user = "root"\n' : ""}`);
    const proc = Bun.spawn([BIN, "serve", "--config", join(cwd, "pp.toml")], {
      cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1" },
    });
    try {
      let log = "";
      // Read to the end, so the daemon never writes into a full pipe.
      void (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of proc.stderr) log += decoder.decode(chunk, { stream: true });
      })();
      let url = "";
      for (let i = 0; i < 400 && !url; i++) {
        url = /listening on (http:\/\/\S+?)(?:"|\s|$)/.exec(log)?.[1] ?? "";
        if (!url) await Bun.sleep(25);
      }
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const post = (body: unknown) =>
        fetch(`${url}/api/text`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const ok = await post({ text: "disk full", channels: ["dingtalk", "mattermost"], at: ["13800001111", "all"] });
      expect(ok.status).toBe(200);
      const bad = await post({ text: "x", channels: ["mattermost"], at: "a b" });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { msg: string }).msg).toBe('field "at" "a b" is not a mention: give "all", a phone number (digits, optionally with a leading +) or a user id (letters, digits, _ . - @)');
      const viaCli = await pp(["send", "--server", url, "--token", TOKEN, "--ch", "mattermost", "--at", "alice", "y"], { cwd });
      expect(viaCli.code).toBe(0);
      for (let i = 0; i < 600 && (f.dingtalk.accepted().length < 1 || f.mattermost.accepted().length < 2); i++) await Bun.sleep(25);
      expect(pinged(f.dingtalk)).toEqual([["all", "13900002222", "13800001111"]]);
      expect(pinged(f.mattermost).toSorted()).toEqual([["alice"], ["all"]]);
    } finally {
      proc.kill(9);
      await proc.exited;
    }
  });
});
