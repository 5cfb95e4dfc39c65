/**
 * End-to-end: fallback alerts from the compiled binary. A delivery that finally fails sends an alert through the
 * channel's fallback channels, recorded in the push log and linked both ways to the message it is about.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

let wecom: Fake;
let slack: Fake;
let hook: Fake;
let down: Fake;
beforeAll(async () => {
  wecom = await startFake("wecom", { rate: false });
  slack = await startFake("slack", { rate: false });
  hook = await startFake("webhook", { rate: false });
  down = await startFake("webhook", { rate: false });
});
afterAll(async () => {
  await Promise.all([wecom.stop(), slack.stop(), hook.stop(), down.stop()]);
});
beforeEach(() => {
  for (const f of [wecom, slack, hook, down]) f.reset();
});

/** X is WeCom, Y Slack, Z a generic webhook; `extra` adds settings and sections. */
function workspace(o: { x?: string; y?: string; z?: string; head?: string; extra?: string } = {}): string {
  const dir = tempDir("pp-e2e-fallback-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]
deadline = "20s"
${o.head ?? ""}
[log]
path = ${q(join(dir, "pp.db"))}
[channels.x]
type = "wecom"
webhook = ${q(wecom.webhook)}
${o.x ?? 'fallback = ["y"]'}
[channels.y]
type = "slack"
webhook = ${q(slack.webhook)}
${o.y ?? ""}
[channels.z]
type = "webhook"
url = ${q(hook.webhook)}
retries = 1
${o.z ?? ""}
${o.extra ?? ""}`,
  );
  return dir;
}

const slackTexts = () => slack.accepted().map((r) => JSON.stringify(r.json));

async function logShow(cwd: string, id: string): Promise<string> {
  const r = await pp(["log", "show", id], { cwd });
  expect(r.code).toBe(0);
  return r.stdout;
}

async function messages(cwd: string): Promise<{ id: string; source: string }[]> {
  const r = await pp(["log", "--json", "--limit", "100"], { cwd });
  const seen = new Map<string, string>();
  for (const row of JSON.parse(r.stdout)) {
    const show = JSON.parse((await pp(["log", "show", row.id, "--json"], { cwd })).stdout);
    seen.set(row.id, show.source);
  }
  return [...seen].map(([id, source]) => ({ id, source }));
}

describe("pp send with fallback", () => {
  test("a permanent error at X sends Y an alert naming X and the error; pp log links both ways", async () => {
    const cwd = workspace();
    wecom.fault({ kind: "code", code: 93000 });
    const r = await pp(["send", "-t", "Backup", "nightly backup of db1 failed"], { cwd, env: { PP_CHANNELS: "x" } });
    // The exit status is the original message's: X failed.
    expect(r.code).toBe(1);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(slack.accepted()).toHaveLength(1);
    const alert = slackTexts()[0]!;
    expect(alert).toContain(`pp could not deliver message ${id} to channel x (wecom)`);
    expect(alert).toContain("93000");
    expect(alert).toContain("Backup");
    expect(alert).toContain("nightly backup of db1 failed");

    const note = /x failed: fallback alert ([0-9A-Z]{26}) sent/.exec(r.stderr);
    expect(note).not.toBeNull();
    const alertId = note![1]!;
    expect(r.stderr).toContain("✔ y");

    expect(await logShow(cwd, id)).toContain(`alerts   ${alertId}`);
    const shown = await logShow(cwd, alertId);
    expect(shown).toContain(`(fallback alert about message ${id})`);
    expect(shown).toContain("fallback, text, asked for y");
    expect(shown).toMatch(/y \(slack, .*\): delivered/);
  });

  test("X's retryable errors, retries used up, send an alert", async () => {
    const cwd = workspace({ x: 'retries = 1\nfallback = ["z"]' });
    wecom.fault({ kind: "status", status: 503 }, 2);
    const r = await pp(["send", "--ch", "x", "disk almost full"], { cwd });
    expect(r.code).toBe(1);
    expect(wecom.requests).toHaveLength(2);
    expect(hook.accepted()).toHaveLength(1);
    const got = hook.accepted()[0]!.raw;
    expect(got).toContain(`pp could not deliver message ${r.stdout.trim()} to channel x`);
    expect(got).toContain("503");
    expect(got).toContain("gave up after 2 attempts");
  });

  test("[defaults] fallback covers every channel without its own; a channel's empty list opts out", async () => {
    const cwd = workspace({ head: 'fallback = ["y"]', x: "", z: "fallback = []" });
    wecom.fault({ kind: "code", code: 93000 });
    hook.fault({ kind: "status", status: 404 });
    const r = await pp(["send", "--ch", "x", "--ch", "z", "two failures"], { cwd });
    expect(r.code).toBe(1);
    expect(slackTexts()).toHaveLength(1);
    expect(slackTexts()[0]).toContain("to channel x (wecom)");
  });

  test("no loop: an alert that fails raises none, though Y falls back to X", async () => {
    const cwd = workspace({ y: 'fallback = ["x"]' });
    wecom.fault({ kind: "code", code: 93000 });
    slack.fault({ kind: "status", status: 403, body: "invalid_token" });
    const r = await pp(["send", "--ch", "x", "first"], { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x failed: fallback alert [0-9A-Z]{26} failed/);
    // One request each: X's message, Y's alert; nothing about the alert went back to X.
    expect(wecom.requests).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);
    expect((await messages(cwd)).map((m) => m.source).sort()).toEqual(["cli", "fallback"]);
  });

  test("no alert goes to a fallback channel that failed for the same message", async () => {
    const cwd = workspace({ y: 'fallback = ["x"]' });
    wecom.fault({ kind: "code", code: 93000 });
    slack.fault({ kind: "status", status: 403, body: "invalid_token" });
    const r = await pp(["send", "--ch", "x", "--ch", "y", "--json", "both fail"], { cwd });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe("failed");
    expect(out.fallback).toBeUndefined();
    expect(wecom.requests).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);
  });

  test("a successful send sends no alert", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "x", "all good"], { cwd });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("fallback");
    expect(slack.requests).toHaveLength(0);
    expect((await messages(cwd)).map((m) => m.source)).toEqual(["cli"]);
  });

  test("--json reports the alert; no secret of any channel reaches it", async () => {
    // A relay that echoes the key it was called with, and another channel's token, in its error.
    const other = "zz-other-channel-token-77";
    const relay = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      fetch: (req) => new Response(`forbidden: ${new URL(req.url).pathname} (also ${other})`, { status: 403 }),
    });
    try {
      const cwd = workspace({
        extra: `[channels.relay]\ntype = "webhook"\nurl = "http://127.0.0.1:${relay.port}/hook/relay-secret-key-0042"\nfallback = ["y"]\n` +
          `[channels.other]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook/${other}"\n`,
      });
      const r = await pp(["send", "--ch", "relay", "--json", "the relay-secret-key-0042 leaked into my text"], { cwd });
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout);
      expect(out.fallback).toHaveLength(1);
      expect(out.fallback[0]).toMatchObject({ about: "relay", error: null, deliveries: [{ channel: "y", status: "delivered" }] });
      expect(out.fallback[0].id).toMatch(/^[0-9A-Z]{26}$/);
      const alert = slackTexts()[0]!;
      expect(alert).toContain("forbidden");
      expect(alert).not.toContain("relay-secret-key-0042");
      expect(alert).not.toContain(other);
      const shown = await logShow(cwd, out.fallback[0].id);
      expect(shown).not.toContain("relay-secret-key-0042");
      expect(shown).not.toContain(other);
    } finally {
      relay.stop(true);
    }
  });
});

describe("pp replay with fallback", () => {
  test("a replay whose delivery fails again raises an alert about the replay", async () => {
    const cwd = workspace({ x: 'fallback = ["z"]' });
    wecom.fault({ kind: "code", code: 93000 }, 2);
    const first = await pp(["send", "--ch", "x", "ping"], { cwd });
    expect(first.code).toBe(1);
    expect(hook.accepted()).toHaveLength(1);
    const replay = await pp(["replay", first.stdout.trim()], { cwd });
    expect(replay.code).toBe(1);
    const replayId = replay.stdout.trim();
    expect(hook.accepted()).toHaveLength(2);
    expect(hook.accepted()[1]!.raw).toContain(`pp could not deliver message ${replayId} to channel x`);
    expect(replay.stderr).toMatch(/x failed: fallback alert [0-9A-Z]{26} sent/);
  });

  test("replaying a failed alert raises no alert about it", async () => {
    const cwd = workspace({ y: 'retries = 0\nfallback = ["z"]' });
    wecom.fault({ kind: "code", code: 93000 });
    slack.fault({ kind: "status", status: 500 }, 2);
    const first = await pp(["send", "--ch", "x", "ping"], { cwd });
    const alertId = /fallback alert ([0-9A-Z]{26})/.exec(first.stderr)![1]!;
    const replay = await pp(["replay", alertId], { cwd });
    expect(replay.code).toBe(1);
    expect(replay.stderr).not.toContain("fallback alert");
    expect(hook.requests).toHaveLength(0);
  });
});
