/**
 * End-to-end routing with the compiled binary: --tag (OR and AND) against platform fakes, --to URL with no config
 * file at all (the signing secret taken from the URL, used, and shown nowhere), and --format json and html.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

const DING_SECRET = "SEC7d1f0e2c3b4a59687f6e5d4c3b2a19087f6e5d4c3b2a1908";
const FEISHU_SECRET = "feishu-sign-secret-5e4d3c2b1a";
let web: Fake;
let db: Fake;
let stage: Fake;
let ding: Fake;
let feishu: Fake;

beforeAll(async () => {
  [web, db, stage] = await Promise.all([startFake("slack"), startFake("slack"), startFake("slack")]);
  ding = await startFake("dingtalk", { secret: DING_SECRET });
  feishu = await startFake("feishu", { secret: FEISHU_SECRET });
});
afterAll(async () => {
  await Promise.all([web, db, stage, ding, feishu].map((f) => f.stop()));
});

function workspace(): string {
  const dir = tempDir("pp-e2e-routing-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]
deadline = "20s"
[log]
path = ${q(join(dir, "pp.db"))}
[channels.web]
type = "slack"
webhook = ${q(web.webhook)}
tags = ["prod", "web"]
[channels.db]
type = "slack"
webhook = ${q(db.webhook)}
tags = ["prod", "db"]
[channels.stage-db]
type = "slack"
webhook = ${q(stage.webhook)}
tags = ["staging", "db"]
`,
  );
  return dir;
}

/** How many messages each fake accepted while `f` ran. */
async function counted<T>(f: () => Promise<T>): Promise<{ result: T; web: number; db: number; stage: number }> {
  const before = [web, db, stage].map((x) => x.accepted().length);
  const result = await f();
  const [w, d, s] = [web, db, stage].map((x, i) => x.accepted().length - before[i]!);
  return { result, web: w!, db: d!, stage: s! };
}

describe("--tag", () => {
  test("repeated --tag is OR, --tag a,b is AND", async () => {
    const cwd = workspace();
    const and = await counted(() => pp(["send", "--tag", "prod,db", "m1"], { cwd }));
    expect(and.result.code).toBe(0);
    expect([and.web, and.db, and.stage]).toEqual([0, 1, 0]);
    const or = await counted(() => pp(["send", "--tag", "web", "--tag", "staging", "m2"], { cwd }));
    expect(or.result.code).toBe(0);
    expect([or.web, or.db, or.stage]).toEqual([1, 0, 1]);
    const log = JSON.parse((await pp(["log", "--json"], { cwd })).stdout);
    expect(log.filter((r: any) => r.text === "m2").map((r: any) => r.channel).sort()).toEqual(["stage-db", "web"]);
  });

  test("PP_TAGS, and pp test --tag", async () => {
    const cwd = workspace();
    const env = await counted(() => pp(["send", "m3"], { cwd, env: { PP_TAGS: "db" } }));
    expect([env.web, env.db, env.stage]).toEqual([0, 1, 1]);
    const t = await counted(() => pp(["test", "--tag", "web"], { cwd }));
    expect(t.result.code).toBe(0);
    expect(t.result.stderr).toContain("web");
    expect([t.web, t.db, t.stage]).toEqual([1, 0, 0]);
  });

  test("through a daemon, the tags go to it as given (it selects its own channels); --to does not", async () => {
    const cwd = tempDir("pp-e2e-routing-");
    const server = ["--server", "http://127.0.0.1:9", "--token", "tok-0123456789abcdef"];
    const dry = await pp(["send", ...server, "--tag", "prod,db", "--tag", "web", "--format", "html", "--dry-run", "<b>m</b>"], { cwd });
    expect(dry.code).toBe(0);
    const body = JSON.parse(dry.stdout.slice(dry.stdout.indexOf("\n{") + 1));
    expect(body).toEqual({ text: "<b>m</b>", format: "html", tags: ["prod,db", "web"] });
    const to = await pp(["send", ...server, "--to", "http://127.0.0.1:9/hook", "m"], { cwd });
    expect(to.code).toBe(2);
    expect(to.stderr).toBe("pp: --to sends from this machine, not through a daemon; leave out --server (and PP_SERVER) to send to a URL\n");
  });

  test("a tag no channel has sends nothing and names the tags there are; pp channels shows them", async () => {
    const cwd = workspace();
    const r = await counted(() => pp(["send", "--tag", "prd", "m4"], { cwd }));
    expect(r.result.code).toBe(2);
    expect(r.result.stderr).toBe('pp: --tag: no channel has the tag "prd"; did you mean "prod"?\n');
    expect([r.web, r.db, r.stage]).toEqual([0, 0, 0]);
    const list = await pp(["channels"], { cwd });
    expect(list.stdout).toMatch(/TAGS/);
    expect(list.stdout).toMatch(/stage-db .*staging,db/);
    const json = JSON.parse((await pp(["channels", "--json"], { cwd })).stdout);
    expect(json.channels.find((c: any) => c.name === "db").tags).toEqual(["prod", "db"]);
  });
});

describe("--to URL with no config file", () => {
  const dingUrl = () => `${ding.webhook}&secret=${encodeURIComponent(DING_SECRET)}`;
  const token = () => new URL(ding.webhook).searchParams.get("access_token")!;
  const hidden = (text: string) => {
    expect(text).not.toContain(DING_SECRET);
    expect(text).not.toContain(DING_SECRET.slice(3, 19));
    expect(text).not.toContain(token());
  };

  test("sends, signed with the secret from the URL; logged under a derived name; the secret shown nowhere", async () => {
    const cwd = tempDir("pp-e2e-to-");
    const before = ding.accepted().length;
    const r = await pp(["send", "--to", dingUrl(), "--type", "dingtalk", "quick hello"], { cwd });
    expect(r.stderr).toContain("dingtalk:127.0.0.1");
    expect(r.code).toBe(0);
    // The fake checks the signature: accepted means signed with DING_SECRET, and the secret was not in the query.
    expect(ding.accepted().length).toBe(before + 1);
    const got = ding.accepted().at(-1)!;
    expect(got.raw).toContain("quick hello");
    expect(got.query.secret).toBeUndefined();
    expect(got.query.sign).toBeTruthy();
    hidden(r.stdout + r.stderr);

    const id = r.stdout.trim();
    // The default push log, as for any send.
    expect(existsSync(join(cwd, ".local/share/pp/pp.db"))).toBe(true);
    const log = await pp(["log", "--json"], { cwd });
    const rows = JSON.parse(log.stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id, channel: `dingtalk:${new URL(ding.webhook).host}`, type: "dingtalk", status: "delivered" });
    hidden(log.stdout);
    const show = await pp(["log", "show", id], { cwd });
    expect(show.code).toBe(0);
    hidden(show.stdout + show.stderr);
  });

  test("--dry-run and --verbose show neither the secret, the key nor the signature", async () => {
    const cwd = tempDir("pp-e2e-to-");
    const dry = await pp(["send", "--dry-run", "--to", dingUrl(), "--type", "dingtalk", "dry"], { cwd });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("sign=***");
    hidden(dry.stdout + dry.stderr);
    const verbose = await pp(["send", "-v", "--to", dingUrl(), "--type", "dingtalk", "loud"], { cwd });
    expect(verbose.code).toBe(0);
    hidden(verbose.stdout + verbose.stderr);
  });

  test("PP_TO, pp test --to, and a Feishu URL's secret", async () => {
    const cwd = tempDir("pp-e2e-to-");
    const url = `${feishu.webhook}?secret=${FEISHU_SECRET}`;
    const before = feishu.accepted().length;
    const r = await pp(["send", "--type", "feishu", "via env"], { cwd, env: { PP_TO: url } });
    expect(r.code).toBe(0);
    const t = await pp(["test", "--to", url, "--type", "feishu"], { cwd });
    expect(t.code).toBe(0);
    expect(feishu.accepted().length).toBe(before + 2);
    for (const out of [r.stdout, r.stderr, t.stdout, t.stderr]) expect(out).not.toContain(FEISHU_SECRET);
  });

  test("a wrong --type is a usage error listing the types --to takes; nothing is sent", async () => {
    const cwd = tempDir("pp-e2e-to-");
    const before = ding.accepted().length;
    const r = await pp(["send", "--to", dingUrl(), "--type", "dingtalc", "x"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('pp: --type: "dingtalc" is not a channel type; did you mean "dingtalk"? (types that --to takes: wecom, feishu, dingtalk, slack, discord, mattermost, teams, webhook)\n');
    expect(ding.accepted().length).toBe(before);
  });

  test("a failed send to a URL says to send it again, not to replay it (pp does not keep the URL)", async () => {
    const cwd = tempDir("pp-e2e-to-");
    const r = await pp(["send", "--to", "http://127.0.0.1:9/robot/send?access_token=dead0123456789", "--type", "dingtalk", "--deadline", "1s", "x"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("deliveries failed; send it again with the same --to URL");
    expect(r.stderr).not.toContain("dead0123456789");
  });

  test("mixed with --ch when a config exists", async () => {
    const cwd = workspace();
    const before = ding.accepted().length;
    const r = await counted(() => pp(["send", "--ch", "web", "--to", dingUrl(), "--type", "dingtalk", "both"], { cwd }));
    expect(r.result.code).toBe(0);
    expect([r.web, r.db, r.stage]).toEqual([1, 0, 0]);
    expect(ding.accepted().length).toBe(before + 1);
  });
});

describe("--format", () => {
  test("json: a key/value list; the push log keeps the JSON and its format", async () => {
    const cwd = workspace();
    const doc = JSON.stringify({ alert: "DiskFull", labels: { instance: "db1" }, values: [95, 97] });
    const r = await counted(() => pp(["send", "--ch", "web", "--format", "json"], { cwd, stdin: doc }));
    expect(r.result.code).toBe(0);
    expect(web.accepted().at(-1)!.json.text).toBe("alert: DiskFull\nlabels.instance: db1\nvalues[0]: 95\nvalues[1]: 97");
    const row = JSON.parse((await pp(["log", "--json"], { cwd })).stdout)[0];
    expect(row).toMatchObject({ text: doc, format: "json" });
  });

  test("json that does not parse is a usage error saying where; nothing is sent or logged", async () => {
    const cwd = workspace();
    const r = await counted(() => pp(["send", "--ch", "web", "--format", "json"], { cwd, stdin: '{"a": 1,\n "b": }' }));
    expect(r.result.code).toBe(2);
    expect(r.result.stderr).toBe("pp: --format json: the message is not JSON: line 2, column 7: expected a value (a string, number, object, array, true, false or null), found \"}\"; send it with --format text instead\n");
    expect(r.web).toBe(0);
    expect(JSON.parse((await pp(["log", "--json"], { cwd })).stdout)).toEqual([]);
  });

  test("html: rendered in the platform's dialect (Slack mrkdwn), scripts dropped; PP_FORMAT takes it too", async () => {
    const cwd = workspace();
    const html = "<h2>Deploy</h2><p>done on <b>db-1</b> &amp; <a href='https://ci.example/1'>logs</a></p><script>alert(1)</script>";
    const r = await pp(["send", "--ch", "web", html], { cwd, env: { PP_FORMAT: "html" } });
    expect(r.code).toBe(0);
    const text = web.accepted().at(-1)!.json.text as string;
    expect(text).toContain("*db-1* &amp; <https://ci.example/1|logs>");
    expect(text).not.toContain("<b>");
    expect(text).not.toContain("alert(1)");
    const row = JSON.parse((await pp(["log", "--json"], { cwd })).stdout)[0];
    expect(row).toMatchObject({ text: html, format: "html" });
    // A replay renders the logged HTML again, as it was rendered the first time.
    const again = await pp(["replay", row.id], { cwd });
    expect(again.code).toBe(0);
    expect(web.accepted().at(-1)!.json.text).toBe(text);
  });

  test("html that shows nothing is refused", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "web", "--format", "html", "<p><script>x</script></p>"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("pp: the HTML message shows no text (only tags, comments or scripts); nothing was sent\n");
  });
});
