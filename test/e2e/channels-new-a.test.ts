/**
 * End-to-end: the compiled binary sending to Telegram, ntfy, Gotify, Bark and Teams, each played by its local
 * platform fake, with the faults those platforms really answer (Telegram's 429 with parameters.retry_after).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseTelegramHtml, startFake, TELEGRAM_CHATS, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

let telegram: Fake;
let ntfy: Fake;
let ntfyAuth: Fake;
let gotify: Fake;
let bark: Fake;
let teams: Fake;
const NTFY_TOKEN = "tk_e2eSecretToken0123456789abc";

beforeAll(async () => {
  [telegram, ntfy, ntfyAuth, gotify, bark, teams] = await Promise.all([
    startFake("telegram"),
    startFake("ntfy"),
    startFake("ntfy", { token: NTFY_TOKEN, user: "ops" }),
    startFake("gotify"),
    startFake("bark", { token: "SecondDeviceKey0123456" }),
    startFake("teams"),
  ]);
});
afterAll(async () => {
  await Promise.all([telegram, ntfy, ntfyAuth, gotify, bark, teams].map((f) => f.stop()));
});

const origin = (f: Fake) => new URL(f.webhook).origin;

/** A directory with a pp.toml wired to the fakes, credentials through the environment as the README advises. */
function workspace(): { cwd: string; env: Record<string, string> } {
  const cwd = tempDir("pp-e2e-new-");
  writeFileSync(
    join(cwd, "pp.toml"),
    `[defaults]
deadline = "20s"
[log]
path = ${q(join(cwd, "pp.db"))}
[channels.tg]
type = "telegram"
api = ${q(origin(telegram))}
token = "\${TELEGRAM_TOKEN}"
chat_id = ${TELEGRAM_CHATS.group}
thread_id = 42
[channels.tg-old]
type = "telegram"
api = ${q(origin(telegram))}
token = "\${TELEGRAM_TOKEN}"
chat_id = ${TELEGRAM_CHATS.upgraded}
[channels.ntfy]
type = "ntfy"
server = ${q(origin(ntfy))}
topic = "\${NTFY_TOPIC}"
priority = "high"
tags = ["warning"]
[channels.ntfy-login]
type = "ntfy"
server = ${q(origin(ntfyAuth))}
topic = ${q(ntfyAuth.token)}
user = "ops"
password = "\${NTFY_PASSWORD}"
[channels.gotify]
type = "gotify"
server = ${q(origin(gotify))}
token = "\${GOTIFY_TOKEN}"
priority = 8
[channels.bark]
type = "bark"
server = ${q(origin(bark))}
keys = ["\${BARK_KEY}", "SecondDeviceKey0123456"]
group = "ops"
[channels.teams]
type = "teams"
webhook = "\${TEAMS_WEBHOOK}"
`,
  );
  const env = {
    TELEGRAM_TOKEN: telegram.token,
    NTFY_TOPIC: ntfy.token,
    NTFY_PASSWORD: NTFY_TOKEN,
    GOTIFY_TOKEN: gotify.token,
    BARK_KEY: bark.token,
    TEAMS_WEBHOOK: teams.webhook,
  };
  return { cwd, env };
}

const SECRETS = () => [telegram.token.split(":")[1]!, ntfy.token, NTFY_TOKEN, gotify.token, bark.token, teams.token];

/** Everything pp printed or stored must be free of every credential. */
function expectNoSecrets(cwd: string, ...outputs: string[]): void {
  const stored = readdirSync(cwd)
    .filter((f) => f.startsWith("pp.db"))
    .map((f) => readFileSync(join(cwd, f)).toString("latin1"));
  for (const text of [...outputs, ...stored]) for (const s of SECRETS()) expect(text).not.toContain(s);
}

describe("the five channels through the compiled binary", () => {
  test("one send reaches all of them, each as its platform expects", async () => {
    const { cwd, env } = workspace();
    for (const f of [telegram, ntfy, ntfyAuth, gotify, bark, teams]) f.reset();
    const r = await pp(
      ["send", "--ch", "tg,ntfy,ntfy-login,gotify,bark,teams", "-f", "markdown", "-t", "Deploy <v2> & co", "**api** is live: <script>x</script> `a<b`"],
      { cwd, env },
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

    const tg = telegram.accepted();
    expect(tg).toHaveLength(1);
    expect(tg[0]!.json).toMatchObject({ chat_id: TELEGRAM_CHATS.group, message_thread_id: 42, parse_mode: "HTML" });
    const shown = parseTelegramHtml(tg[0]!.json.text);
    expect(shown).toEqual({ text: "Deploy <v2> & co\napi is live: <script>x</script> a<b" });

    expect(ntfy.accepted()[0]!.json).toEqual({
      topic: ntfy.token,
      title: "Deploy <v2> & co",
      message: "**api** is live: <script>x</script> `a<b`",
      priority: 4,
      tags: ["warning"],
      markdown: true,
    });
    expect(ntfyAuth.accepted()[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`ops:${NTFY_TOKEN}`).toString("base64")}`);

    const gr = gotify.accepted()[0]!;
    expect(gr.headers["x-gotify-key"]).toBe(gotify.token);
    expect(gr.path).toBe("/message");
    expect(gr.query).toEqual({});
    expect(gr.json.extras).toEqual({ "client::display": { contentType: "text/markdown" } });

    const br = bark.accepted()[0]!.json;
    expect(br).toMatchObject({ device_keys: [bark.token, "SecondDeviceKey0123456"], title: "Deploy <v2> & co", group: "ops" });
    expect(br.body).toBe("api is live: <script>x</script> a<b");

    const card = teams.accepted()[0]!.json.attachments[0].content;
    expect(card.body[0].inlines[0].text).toBe("Deploy <v2> & co");

    const list = await pp(["channels"], { cwd, env });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("bot***");
    const log = await pp(["log", "--json"], { cwd, env });
    expectNoSecrets(cwd, r.stdout, r.stderr, list.stdout, log.stdout);
  });

  test("Telegram's 429 is honoured: pp waits parameters.retry_after, then delivers", async () => {
    const { cwd, env } = workspace();
    telegram.reset();
    // The wait comes only in the body, as Telegram sends it.
    telegram.fault({
      kind: "status",
      status: 429,
      body: JSON.stringify({ ok: false, error_code: 429, description: "Too Many Requests: retry after 2", parameters: { retry_after: 2 } }),
      headers: { "content-type": "application/json" },
    });
    const r = await pp(["send", "--ch", "tg", "--json", "slow down"], { cwd, env });
    expect(r.code).toBe(0);
    expect(telegram.requests).toHaveLength(2);
    // Not a timing assertion: the platform asked for 2 s, and pp must not have asked again sooner.
    expect(telegram.requests[1]!.at - telegram.requests[0]!.at).toBeGreaterThanOrEqual(2000);
    const id = JSON.parse(r.stdout).id;
    const show = JSON.parse((await pp(["log", "show", id, "--json"], { cwd, env })).stdout);
    expect(show.deliveries[0].attempts_log.map((a: { outcome: string }) => a.outcome)).toEqual(["rate_limited", "ok"]);
    expectNoSecrets(cwd, r.stdout, r.stderr);
  });

  test("a permanent refusal fails at once, says what to do on one line, and shows no token", async () => {
    const { cwd, env } = workspace();
    telegram.reset();
    const r = await pp(["send", "--ch", "tg-old", "hello"], { cwd, env });
    expect(r.code).toBe(1);
    expect(telegram.requests).toHaveLength(1);
    expect(r.stderr).toContain(`set chat_id = ${TELEGRAM_CHATS.group}`);
    expectNoSecrets(cwd, r.stdout, r.stderr);
  });

  test("a long Telegram message arrives in parts that each parse and fit", async () => {
    const { cwd, env } = workspace();
    telegram.reset();
    const text = Array.from({ length: 300 }, (_, i) => `row ${String(i).padStart(3, "0")} **ok** <${i}> & "${"数".repeat(5)}"`).join("\n");
    const r = await pp(["send", "--ch", "tg", "-f", "markdown", "--deadline", "60s"], { cwd, env: { ...env }, stdin: text });
    expect(r.code).toBe(0);
    const parts = telegram.accepted();
    expect(parts.length).toBeGreaterThan(1);
    const rows: string[] = [];
    for (const p of parts) {
      const shown = parseTelegramHtml(p.json.text);
      expect("text" in shown).toBe(true);
      if ("text" in shown) {
        expect(shown.text.length).toBeLessThanOrEqual(4096);
        rows.push(...[...shown.text.matchAll(/row (\d{3})/g)].map((m) => m[1]!));
      }
    }
    expect(rows).toEqual(Array.from({ length: 300 }, (_, i) => String(i).padStart(3, "0")));
  }, 30_000);
});
