/**
 * End-to-end: the compiled binary sending WeCom application messages to the platform's local fake. The access
 * token is fetched once and shared through the push log's file by separate pp processes and by `pp serve`;
 * an expired one is replaced within the attempt; neither it nor the secret shows anywhere.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp } from "./_run.ts";

needBinary();

let app: Fake;
beforeAll(async () => {
  app = await startFake("wecom_app");
});
afterAll(() => app.stop());
afterEach(() => app.reset());

const isRoot = process.getuid?.() === 0;
const SERVE_TOKEN = "wecom-app-e2e-serve-token-1234";

/** A directory with a pp.toml for the fake's application; the secret comes from the environment. */
function workspace(extra = ""): { cwd: string; env: Record<string, string> } {
  const cwd = tempDir("pp-e2e-wecom-app-");
  writeFileSync(
    join(cwd, "pp.toml"),
    `[defaults]
channels = ["app"]
deadline = "20s"
[log]
path = ${q(join(cwd, "pp.db"))}
[channels.app]
type = "wecom_app"
api = ${q(new URL(app.webhook).origin)}
corp_id = ${q(app.app!.corpId)}
agent_id = ${app.app!.agentId}
secret = "\${WECOM_APP_SECRET}"
to_user = ["zhangsan", "lisi"]
[channels.partial]
type = "wecom_app"
api = ${q(new URL(app.webhook).origin)}
corp_id = ${q(app.app!.corpId)}
agent_id = ${app.app!.agentId}
secret = "\${WECOM_APP_SECRET}"
to_user = ["zhangsan", "ghost"]
${extra}
`,
  );
  return { cwd, env: { WECOM_APP_SECRET: app.app!.secret } };
}

/** Nothing a user can see or the push log keeps holds the secret or any token the platform lent. */
function expectNoCredential(...texts: string[]): void {
  for (const text of texts) {
    expect(text).not.toContain(app.app!.secret);
    for (const token of app.app!.lent()) expect(text).not.toContain(token);
  }
}

const gettokens = () => app.requests.filter((r) => r.path === "/cgi-bin/gettoken").length;

describe("wecom_app (compiled binary)", () => {
  test("two pp processes share one access token through the push log; neither it nor the secret shows", async () => {
    const w = workspace();
    const a = await pp(["send", "--ch", "app", "-t", "DB", "db-1 disk at 95%"], w);
    const b = await pp(["send", "--ch", "app", "--json", "second"], w);
    expect({ code: a.code, stderr: a.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("app") });
    expect(b.code).toBe(0);
    expect(gettokens()).toBe(1);
    const sent = app.accepted();
    expect(sent.map((r) => r.json)).toEqual([
      { touser: "zhangsan|lisi", msgtype: "text", agentid: app.app!.agentId, text: { content: "DB\ndb-1 disk at 95%" } },
      { touser: "zhangsan|lisi", msgtype: "text", agentid: app.app!.agentId, text: { content: "second" } },
    ]);
    expect(new Set(sent.map((r) => r.query.access_token)).size).toBe(1);
    const id = (JSON.parse(b.stdout) as { id: string }).id;
    const show = await pp(["log", "show", id, "--json"], w);
    const log = await pp(["log", "--json"], w);
    expect(show.code).toBe(0);
    expectNoCredential(a.stdout, a.stderr, b.stdout, b.stderr, show.stdout, log.stdout);
  });

  test("an expired token (42001) is replaced and the message delivered in one attempt, exit 0", async () => {
    const w = workspace();
    expect((await pp(["send", "--ch", "app", "warm up"], w)).code).toBe(0);
    app.app!.expireTokens();
    const r = await pp(["send", "--ch", "app", "--json", "after expiry"], w);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { deliveries: { status: string; attempts: number }[] };
    expect(out.deliveries[0]).toMatchObject({ status: "delivered", attempts: 1 });
    const sends = app.requests.filter((x) => x.path === "/cgi-bin/message/send").map((x) => JSON.parse(x.answer.body).errcode);
    expect(sends).toEqual([0, 42001, 0]);
    expect(gettokens()).toBe(2);
    expectNoCredential(r.stdout, r.stderr);
  });

  test("some recipients unknown: delivered (exit 0) with a warning naming them", async () => {
    const w = workspace();
    const r = await pp(["send", "--ch", "partial", "hello"], w);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("not to users ghost");
    expect(app.accepted()).toHaveLength(1);
  });

  test("--dry-run shows the request with the token hidden and asks WeCom for nothing", async () => {
    const w = workspace();
    const r = await pp(["send", "--ch", "app", "--dry-run", "-f", "markdown", "**hi**"], w);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("/cgi-bin/message/send?access_token=***");
    expect(r.stdout).toContain('"msgtype":"markdown"');
    expect(app.requests).toHaveLength(0);
    expectNoCredential(r.stdout, r.stderr);
  });

  test("pp serve uses the token a pp send process left in the store", async () => {
    const w = workspace(`[serve]\nlisten = "127.0.0.1:0"\ntoken = ${q(SERVE_TOKEN)}\n${isRoot ? 'user = "root"\n' : ""}`);
    expect((await pp(["send", "--ch", "app", "from the cli"], w)).code).toBe(0);
    expect(gettokens()).toBe(1);
    const proc = Bun.spawn([BIN, "serve", "--config", join(w.cwd, "pp.toml")], {
      cwd: w.cwd,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", HOME: w.cwd, NO_COLOR: "1", ...w.env },
    });
    try {
      const reader = proc.stderr.getReader();
      let text = "";
      let url: string | undefined;
      const until = Date.now() + 15_000;
      while (url === undefined && Date.now() < until) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        url = /listening on (http:\/\/\S+?)(?:"|\s|$)/.exec(text)?.[1];
      }
      expect(url).toBeDefined();
      const res = await fetch(`${url}/api/text`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${SERVE_TOKEN}` },
        body: JSON.stringify({ msg: "from the daemon" }),
      });
      expect(res.status).toBe(200);
      const deadline = Date.now() + 15_000;
      while (app.accepted().length < 2 && Date.now() < deadline) await Bun.sleep(50);
      expect(app.accepted().map((r) => r.json.text.content)).toEqual(["from the cli", "from the daemon"]);
      expect(gettokens()).toBe(1);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });
});
