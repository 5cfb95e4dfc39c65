/**
 * End-to-end: the compiled binary (dist/pp, built by `bun run build`) against local platform fakes,
 * run the way a user runs it, reading only what it prints and what it stores.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp } from "./_run.ts";

needBinary();

let wecom: Fake;
let feishu: Fake;
let slack: Fake;
const FEISHU_SECRET = "feishu-signing-secret-1234";

beforeAll(async () => {
  wecom = await startFake("wecom", { rate: { count: 5, windowMs: 2000 } });
  feishu = await startFake("feishu", { secret: FEISHU_SECRET });
  slack = await startFake("slack");
});
afterAll(async () => {
  await Promise.all([wecom.stop(), feishu.stop(), slack.stop()]);
});

/** A directory with a pp.toml wired to the fakes and its own push log. */
function workspace(extra = ""): string {
  const dir = tempDir("pp-e2e-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]
channels = ["ops"]
deadline = "20s"
[log]
path = ${q(join(dir, "pp.db"))}
[channels.wecom]
type = "wecom"
webhook = ${q(wecom.webhook)}
rate = "5/2s"
[channels.feishu]
type = "feishu"
webhook = ${q(feishu.webhook)}
secret = "\${FEISHU_SECRET}"
[channels.slack]
type = "slack"
webhook = ${q(slack.webhook)}
[channels.down]
type = "mattermost"
webhook = "http://127.0.0.1:9/hooks/abcdef0123456789abcdef"
retries = 1
[groups]
ops = ["wecom", "feishu"]
${extra}`,
  );
  return dir;
}
const env = { FEISHU_SECRET };

describe("pp send", () => {
  test("sends to the default group, prints the id, logs every delivery", async () => {
    const cwd = workspace();
    const before = wecom.accepted().length;
    const r = await pp(["send", "deploy done"], { cwd, env });
    expect(r.stderr).toContain("✔ wecom");
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(wecom.accepted().length).toBe(before + 1);
    expect(feishu.accepted().at(-1)!.raw).toContain("deploy done");

    const log = await pp(["log", "--json"], { cwd, env });
    const rows = JSON.parse(log.stdout);
    expect(rows.map((r: any) => r.channel).sort()).toEqual(["feishu", "wecom"]);
    for (const row of rows) {
      expect(row).toMatchObject({ id, status: "delivered", attempts: 1, error: null, text: "deploy done", title: null });
      expect(new Date(row.created_at).toISOString()).toBe(row.created_at);
    }
  });

  test("reads the message from stdin, with a title and markdown", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "slack", "-t", "Disk report", "-f", "markdown"], { cwd, env, stdin: "**/dev/sda1** 95%\n" });
    expect(r.code).toBe(0);
    const got = slack.accepted().at(-1)!.json;
    expect(JSON.stringify(got)).toContain("Disk report");
    expect(JSON.stringify(got)).toContain("*/dev/sda1*");
  });

  test("usage errors exit 2 and send nothing", async () => {
    const cwd = workspace();
    const before = wecom.requests.length;
    const unknown = await pp(["send", "--ch", "nope", "hi"], { cwd, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("configured: wecom, feishu, slack, down, ops");
    const empty = await pp(["send", "--ch", "wecom"], { cwd, env, stdin: "  \n" });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("empty");
    const typo = await pp(["send", "--chanel", "wecom", "hi"], { cwd, env });
    expect(typo.code).toBe(2);
    expect(wecom.requests.length).toBe(before);
  });

  test("an unset ${VAR} is a config error naming it", async () => {
    const cwd = workspace();
    const r = await pp(["send", "hi"], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("channels.feishu.secret: environment variable FEISHU_SECRET is not set");
  });

  test("--dry-run shows the requests without any secret and sends nothing", async () => {
    const cwd = workspace();
    const before = feishu.requests.length;
    const r = await pp(["send", "--dry-run", "--ch", "feishu,wecom", "hello"], { cwd, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("POST http://127.0.0.1");
    expect(r.stdout).toContain('"msg_type":"text"');
    for (const secret of [FEISHU_SECRET, feishu.token, wecom.token]) expect(r.stdout + r.stderr).not.toContain(secret);
    expect(feishu.requests.length).toBe(before);
  });

  test("a refused connection fails with exit 1, is logged as failed and leaks no token", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "down", "anyone there?"], { cwd, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("connection refused");
    expect(r.stderr).not.toContain("abcdef0123456789abcdef");
    const failed = JSON.parse((await pp(["log", "--failed", "--json"], { cwd, env })).stdout);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ channel: "down", status: "failed", attempts: 2 });
    expect(JSON.stringify(failed)).not.toContain("abcdef0123456789abcdef");
  });

  test("--deadline bounds a hanging platform and records the failure", async () => {
    const cwd = workspace();
    // The platform would hold its answer far longer than the test may run: only the deadline can end the send.
    slack.fault({ kind: "timeout", ms: 120_000 }, 3);
    const r = await pp(["send", "--ch", "slack", "--deadline", "1500ms", "are you there"], { cwd, env });
    expect(r.code).toBe(1);
    const row = JSON.parse((await pp(["log", "--json"], { cwd, env })).stdout)[0];
    expect(row.status).toBe("failed");
    expect(row.error).toContain("deadline");
    expect(row.attempts).toBe(1);
    slack.reset();
    const bad = await pp(["send", "--ch", "slack", "x"], { cwd, env: { ...env, PP_DEADLINE: "soon" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('PP_DEADLINE: invalid duration "soon"');
  });

  test("twelve pp processes at once stay within the channel's rate limit", async () => {
    const cwd = workspace();
    wecom.reset();
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => pp(["send", "--ch", "wecom", `burst ${i}`], { cwd, env })));
    expect(runs.map((r) => r.code)).toEqual(Array(12).fill(0));
    // The fake allows 5 per 2 s and answers 45009 beyond: nothing may have been refused.
    expect(wecom.requests.every((r) => r.accepted)).toBe(true);
    expect(wecom.accepted()).toHaveLength(12);
    const times = wecom.accepted().map((r) => r.at).sort((a, b) => a - b);
    for (let i = 5; i < times.length; i++) expect(times[i]! - times[i - 5]!).toBeGreaterThanOrEqual(2000);
  }, 30_000);
});

describe("pp log, replay, test", () => {
  test("replay sends a failed message again and links it to the original", async () => {
    const cwd = workspace();
    feishu.fault({ kind: "code", code: 19021, msg: "sign match fail or timestamp is not within one hour from current time" });
    const first = await pp(["send", "release 1.2"], { cwd, env });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("19021");
    const id = first.stdout.trim();

    const replay = await pp(["replay", id], { cwd, env });
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain("✔ feishu");
    expect(replay.stderr).not.toContain("wecom");
    const newId = replay.stdout.trim();
    const show = JSON.parse((await pp(["log", "show", newId, "--json"], { cwd, env })).stdout);
    expect(show.replay_of).toBe(id);
    expect(show.deliveries.map((d: any) => d.channel)).toEqual(["feishu"]);

    // Already recovered: replay --failed has nothing left to do.
    const again = await pp(["replay", "--failed", "--since", "1h"], { cwd, env });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("nothing to replay");
  });

  test("replaying a split message sends only the parts that did not arrive", async () => {
    const cwd = workspace();
    slack.reset();
    const text = Array.from({ length: 150 }, (_, i) => `row ${String(i).padStart(3, "0")} of the nightly report`).join("\n");
    // Part 1 arrives, part 2 is refused for good.
    slack.fault({ kind: "timeout", ms: 0 });
    slack.fault({ kind: "status", status: 400, body: "invalid_payload" });
    const first = await pp(["send", "--ch", "slack"], { cwd, env, stdin: text });
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("part 2/2: invalid_payload");
    const head = (s: string) => JSON.parse(s).text.split("\n")[0];
    expect(slack.accepted().map((r) => head(r.raw))).toEqual(["(1/2)"]);

    const replay = await pp(["replay", first.stdout.trim()], { cwd, env });
    expect(replay.code).toBe(0);
    expect(slack.accepted().map((r) => head(r.raw))).toEqual(["(1/2)", "(2/2)"]);
    // Asked for by name, the whole message goes again.
    await pp(["replay", first.stdout.trim(), "--ch", "slack"], { cwd, env });
    expect(slack.accepted().map((r) => head(r.raw))).toEqual(["(1/2)", "(2/2)", "(1/2)", "(2/2)"]);
    slack.reset();
  });

  test("log show prints every attempt with the platform's answer", async () => {
    const cwd = workspace();
    wecom.reset();
    wecom.fault({ kind: "status", status: 500, body: "oops" });
    const id = (await pp(["send", "--ch", "wecom", "x"], { cwd, env })).stdout.trim();
    const show = await pp(["log", "show", id.slice(0, 14)], { cwd, env });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("part 1 try 1  retryable  HTTP 500");
    expect(show.stdout).toContain("part 1 try 2  ok  HTTP 200");
    expect(show.stdout).toContain('{"errcode":0,"errmsg":"ok"}');
    const missing = await pp(["log", "show", "ZZZZ"], { cwd, env });
    expect(missing.code).toBe(2);
  });

  test("log --stats summarises per channel", async () => {
    const cwd = workspace();
    await pp(["send", "--ch", "down", "a"], { cwd, env });
    await pp(["send", "--ch", "slack", "b"], { cwd, env });
    const stats = JSON.parse((await pp(["log", "--stats", "--json"], { cwd, env })).stdout);
    expect(stats.find((s: any) => s.channel === "down")).toMatchObject({ deliveries: 1, failed: 1, success_rate: 0 });
    expect(stats.find((s: any) => s.channel === "slack")).toMatchObject({ deliveries: 1, delivered: 1, success_rate: 1 });
    const table = await pp(["log", "--stats"], { cwd, env });
    expect(table.stdout).toMatch(/down\s+1\s+1\s+0\s+0\.0%/);
  });

  test("pp test reports each channel and writes nothing to the push log", async () => {
    const cwd = workspace();
    const r = await pp(["test", "slack", "down"], { cwd, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✔ slack\s+\d+ms/);
    expect(r.stderr).toMatch(/✖ down\s+connection refused/);
    const log = await pp(["log", "--json"], { cwd, env });
    expect(JSON.parse(log.stdout)).toEqual([]);
  });

  test("a pp killed mid-send leaves a pending record, not nothing", async () => {
    const cwd = workspace();
    slack.fault({ kind: "timeout", ms: 4000 });
    const p = Bun.spawn([BIN, "send", "--ch", "slack", "in flight"], { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env }, stdout: "ignore", stderr: "ignore" });
    // Wait until the request is at the platform, then kill pp the hard way.
    for (let i = 0; i < 100 && !slack.requests.some((r) => r.raw.includes("in flight")); i++) await Bun.sleep(50);
    p.kill(9);
    await p.exited;
    const rows = JSON.parse((await pp(["log", "--json"], { cwd, env })).stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ channel: "slack", status: "pending", text: "in flight" });
    slack.reset();
    // The request was in flight: the platform may have it, so a plain replay leaves it alone and says why.
    const replay = await pp(["replay", rows[0].id], { cwd, env });
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain("--uncertain");
    expect(slack.requests).toHaveLength(0);
    const asked = await pp(["replay", rows[0].id, "--uncertain"], { cwd, env });
    expect(asked.code).toBe(0);
    expect(slack.accepted().map((r) => r.raw).filter((r) => r.includes("in flight"))).toHaveLength(1);
  });

  test("Ctrl-C during a request lets it finish and records its real outcome", async () => {
    const cwd = workspace();
    slack.fault({ kind: "timeout", ms: 1500 });
    const p = Bun.spawn([BIN, "send", "--ch", "slack", "interrupted"], { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env }, stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 100 && !slack.requests.some((r) => r.raw.includes("interrupted")); i++) await Bun.sleep(50);
    p.kill("SIGINT");
    expect(await p.exited).toBe(130);
    const row = JSON.parse((await pp(["log", "--json"], { cwd, env })).stdout)[0];
    expect(row).toMatchObject({ channel: "slack", status: "delivered", error: null });
    slack.reset();
    const replay = await pp(["replay", "--failed", "--since", "1h"], { cwd, env });
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain("nothing to replay");
    expect(slack.requests).toHaveLength(0);
  });

  test("config check and config path", async () => {
    const cwd = workspace();
    const ok = await pp(["config", "check"], { cwd, env });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("4 channels, 1 group");
    expect((await pp(["config", "path"], { cwd, env })).stdout.trim()).toEndWith("pp.toml");
    writeFileSync(join(cwd, "pp.toml"), "[channels.x]\ntype = \"wecom\"\nwebhook = \"not a url\"\n");
    const bad = await pp(["config", "check"], { cwd, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("pp.toml: channels.x.webhook: must be an http(s) URL");
  });

  test("a stray .env or bunfig.toml in the working directory changes nothing", async () => {
    const cwd = workspace();
    const marker = join(cwd, "preload-ran");
    writeFileSync(join(cwd, "evil.ts"), `require("node:fs").writeFileSync(${q(marker)}, "yes");`);
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
    writeFileSync(join(cwd, ".env"), "PP_CHANNELS=down\nPP_DB=/nonexistent/dir/pp.db\n");
    const r = await pp(["send", "--ch", "slack", "still fine"], { cwd, env });
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    const row = JSON.parse((await pp(["log", "--json"], { cwd, env })).stdout)[0];
    expect(row).toMatchObject({ channel: "slack", status: "delivered" });
  });

  test("--version and --help", async () => {
    const cwd = workspace();
    const v = await pp(["--version"], { cwd });
    expect(v.stdout).toMatch(/^pp \d+\.\d+\.\d+ \([0-9a-z]+, (linux|darwin|windows|freebsd)\/(x64|arm64)\)$/m);
    const h = await pp(["send", "--help"], { cwd });
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("--dry-run");
    expect(h.stdout).toContain("EXIT CODES");
  });
});
