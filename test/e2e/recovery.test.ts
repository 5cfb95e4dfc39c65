/**
 * End-to-end: what pp promises when things go wrong. At most once per accepted part (replays, concurrent replays,
 * a replay racing the send), never a silent loss (kill -9, signals), and exit 4 with the real outcome when the
 * push log cannot be written after sending.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary, pp } from "./_run.ts";

needBinary();

const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const s of stops) await s();
});

/**
 * A Slack-like platform on 127.0.0.1: answers "ok" (accepted), or "invalid_payload" to the next `refuse(n)`
 * requests; `hold(text)` keeps the answer to a request containing `text` until `release()` (or for `ms`).
 */
function platform(onRequest: (body: string) => unknown = () => {}) {
  const bodies: string[] = [];
  const accepted: string[] = [];
  let refusals = 0;
  const holds: { text: string; until: Promise<void> }[] = [];
  let releaseAll!: () => void;
  const released = new Promise<void>((r) => (releaseAll = r));
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    async fetch(req, srv) {
      srv.timeout(req, 0);
      const body = await req.text();
      bodies.push(body);
      await onRequest(body);
      if (refusals > 0) {
        refusals--;
        return new Response("invalid_payload", { status: 400 });
      }
      const held = holds.find((h) => body.includes(h.text));
      if (held) await held.until;
      accepted.push(body);
      return new Response("ok");
    },
  });
  stops.push(() => server.stop(true), () => releaseAll());
  return {
    url: (path = "a") => `http://127.0.0.1:${server.port}/services/T0/B0/${path}`,
    bodies,
    accepted,
    /** How many requests (accepted ones with `ok`) carried `text`. */
    count: (text: string, of: string[] = accepted) => of.filter((b) => b.includes(text)).length,
    refuse(n: number) {
      refusals += n;
    },
    hold(text: string, ms?: number) {
      holds.push({ text, until: ms === undefined ? released : Promise.race([released, Bun.sleep(ms)]) });
    },
    release: () => releaseAll(),
    async arrived(text: string) {
      for (let i = 0; i < 200 && !bodies.some((b) => b.includes(text)); i++) await Bun.sleep(25);
      expect(bodies.some((b) => b.includes(text))).toBe(true);
    },
  };
}

type Platform = ReturnType<typeof platform>;

/** A workspace with one channel per entry (name -> [platform, extra TOML]). */
function workspace(channels: Record<string, [Platform, string?]>): { cwd: string; db: string } {
  const cwd = tempDir("pp-rec-");
  const db = join(cwd, "pp.db");
  const toml = Object.entries(channels)
    .map(([name, [p, extra]]) => `[channels.${name}]\ntype = "slack"\nwebhook = ${q(p.url(name))}\n${extra ?? 'rate = "100/s"'}\n`)
    .join("");
  writeFileSync(join(cwd, "pp.toml"), `[defaults]\ndeadline = "20s"\n[log]\npath = ${q(db)}\n${toml}`);
  return { cwd, db };
}

function spawn(args: string[], cwd: string, env: Record<string, string> = {}) {
  const p = Bun.spawn([BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1", ...env }, stdout: "pipe", stderr: "pipe" });
  return {
    p,
    done: async () => {
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, stdout, stderr };
    },
  };
}

const logJson = async (cwd: string, ...flags: string[]) => JSON.parse((await pp(["log", "--json", ...flags], { cwd })).stdout);
const STACK = /^\s+at /m;

describe("kill -9", () => {
  test("what never went out is listed and resent exactly once; what was in flight is uncertain and held back", async () => {
    const a = platform();
    const b = platform();
    const { cwd } = workspace({ slow: [a], later: [b, 'rate = "1/2s"'] });
    // Takes `later`'s only slot, so the next send waits for one while `slow` is in flight.
    expect((await pp(["send", "--ch", "later", "warm-up"], { cwd })).code).toBe(0);
    a.hold("crash test");
    const send = spawn(["send", "--ch", "slow,later", "crash test"], cwd);
    await a.arrived("crash test");
    send.p.kill(9);
    await send.p.exited;

    const failed = await logJson(cwd, "--failed");
    expect(failed.map((r: any) => [r.channel, r.status]).sort()).toEqual([["later", "pending"], ["slow", "pending"]]);
    expect(failed.find((r: any) => r.channel === "slow").error).toContain("may have received it");
    expect(failed.find((r: any) => r.channel === "later").error).toContain("stopped before finishing");

    const replay = await pp(["replay", "--failed"], { cwd });
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain("1 skipped as uncertain");
    expect(replay.stderr).toContain("--uncertain");
    expect(b.count("crash test")).toBe(1);
    expect(a.count("crash test", a.bodies)).toBe(1);

    const again = await pp(["replay", "--failed"], { cwd });
    expect(again.code).toBe(0);
    expect(b.count("crash test")).toBe(1);
    expect(a.count("crash test", a.bodies)).toBe(1);
    // History reads right: the killed send's rows say what became of them.
    const rows = await logJson(cwd, "--failed", "--all");
    expect(rows.map((r: any) => [r.channel, r.status]).sort()).toEqual([["later", "failed"], ["slow", "uncertain"]]);

    a.release();
    const asked = await pp(["replay", "--failed", "--uncertain"], { cwd });
    expect(asked.code).toBe(0);
    // The original request (answered late, to nobody) and the one replay asked for.
    expect(a.count("crash test", a.bodies)).toBe(2);
    expect((await logJson(cwd, "--failed"))).toEqual([]);
  }, 30_000);
});

describe("replay claims", () => {
  test("replaying twice sends once; a message delivered everywhere is not sent again unless named with --ch", async () => {
    const a = platform();
    const { cwd } = workspace({ c: [a] });
    a.refuse(1);
    const first = await pp(["send", "--ch", "c", "twice"], { cwd });
    expect(first.code).toBe(1);
    const id = first.stdout.trim();
    const r1 = await pp(["replay", id], { cwd });
    expect(r1.code).toBe(0);
    expect(a.count("twice")).toBe(1);
    for (const which of [id, r1.stdout.trim()]) {
      const r2 = await pp(["replay", which], { cwd });
      expect(r2.code).toBe(0);
      expect(r2.stdout).toBe("");
      expect(r2.stderr).toContain("nothing to send: every delivery of message");
    }
    expect(a.count("twice")).toBe(1);
    const named = await pp(["replay", id, "--ch", "c"], { cwd });
    expect(named.code).toBe(0);
    expect(a.count("twice")).toBe(2);
  });

  test("two replay --failed at once turn 10 failed messages into exactly 10 deliveries", async () => {
    const a = platform();
    const { cwd } = workspace({ c: [a] });
    a.refuse(10);
    for (let i = 0; i < 10; i++) expect((await pp(["send", "--ch", "c", `failed ${i}.`], { cwd })).code).toBe(1);
    const runs = await Promise.all([spawn(["replay", "--failed"], cwd).done(), spawn(["replay", "--failed"], cwd).done()]);
    for (const r of runs) {
      expect(r.stderr).not.toMatch(STACK);
      expect(r.code).toBe(0);
    }
    expect(a.accepted).toHaveLength(10);
    for (let i = 0; i < 10; i++) expect(a.count(`failed ${i}.`)).toBe(1);
  }, 30_000);

  test("a replay racing the original send leaves the channel in flight alone", async () => {
    const a = platform();
    const { cwd } = workspace({ c: [a] });
    a.hold("race", 1500);
    const send = spawn(["send", "--ch", "c", "race"], cwd);
    await a.arrived("race");
    const id = (await logJson(cwd))[0].id;
    const replay = await pp(["replay", id], { cwd });
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain(`being sent by process ${send.p.pid}`);
    expect((await send.done()).code).toBe(0);
    expect(a.count("race", a.bodies)).toBe(1);
    expect((await pp(["replay", id], { cwd })).stderr).toContain("nothing to send");
    expect(a.count("race", a.bodies)).toBe(1);
  });
});

describe("signals", () => {
  test.each([
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const)("%s during a request: its late answer is recorded as delivered and nothing is resent", async (signal, code) => {
    const a = platform();
    const { cwd } = workspace({ c: [a] });
    a.hold("late answer", 800);
    const send = spawn(["send", "--ch", "c", "late answer"], cwd);
    await a.arrived("late answer");
    send.p.kill(signal);
    const r = await send.done();
    expect(r.code).toBe(code);
    expect(r.stderr).not.toMatch(STACK);
    expect((await logJson(cwd))[0]).toMatchObject({ status: "delivered", error: null });
    const replay = await pp(["replay", "--failed"], { cwd });
    expect(replay.stderr).toContain("nothing to replay");
    expect(a.count("late answer", a.bodies)).toBe(1);
  });

  test("a second signal exits at once and records the request in flight as uncertain", async () => {
    const a = platform();
    const { cwd } = workspace({ c: [a] });
    // Never answered: only an immediate exit ends the send.
    a.hold("stuck");
    const send = spawn(["send", "--ch", "c", "stuck"], cwd);
    await a.arrived("stuck");
    send.p.kill("SIGINT");
    await Bun.sleep(100);
    send.p.kill("SIGINT");
    expect((await send.done()).code).toBe(130);
    const row = (await logJson(cwd))[0];
    expect(row.status).toBe("uncertain");
    expect(row.error).toContain("second SIGINT");
    const replay = await pp(["replay", "--failed"], { cwd });
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain("--uncertain");
    expect(a.count("stuck", a.bodies)).toBe(1);
  });
});

describe("a push log that cannot be written after sending", () => {
  test("exit 4 with each channel's real outcome; a later replay --failed sends nothing", async () => {
    let locker: Database | undefined;
    let db = "";
    // Another process takes the store's write lock the moment the platform receives the message.
    const a = platform(() => {
      if (locker) return;
      locker = new Database(db);
      locker.run("BEGIN IMMEDIATE");
    });
    const ws = workspace({ one: [a], two: [a] });
    db = ws.db;
    const r = await pp(["send", "--ch", "one,two", "locked out"], { cwd: ws.cwd, env: { PP_STORE_WAIT: "500ms" } });
    expect(r.code).toBe(4);
    expect(r.stderr).not.toMatch(STACK);
    const id = r.stdout.trim();
    expect(r.stderr).toContain(`message ${id}`);
    expect(r.stderr).toMatch(/✔ one/);
    expect(r.stderr).toMatch(/✔ two/);
    expect(a.count("locked out")).toBe(2);
    locker!.run("ROLLBACK");
    locker!.close();

    const replay = await pp(["replay", "--failed"], { cwd: ws.cwd });
    expect(replay.stderr).not.toMatch(STACK);
    expect(replay.code).toBe(0);
    expect(a.count("locked out", a.bodies)).toBe(2);
  });
});

describe("replay --failed", () => {
  test("goes through every message when one cannot be sent, then sums up with each original's id", async () => {
    const a = platform();
    const { cwd } = workspace({ c: [a], gone: [a] });
    a.refuse(2);
    const kept = (await pp(["send", "--ch", "c", "kept"], { cwd })).stdout.trim();
    const lost = (await pp(["send", "--ch", "gone", "orphan"], { cwd })).stdout.trim();
    // The channel is removed from the config afterwards.
    writeFileSync(join(cwd, "pp.toml"), `[log]\npath = ${q(join(cwd, "pp.db"))}\n[channels.c]\ntype = "slack"\nwebhook = ${q(a.url("c"))}\nrate = "100/s"\n`);
    const r = await pp(["replay", "--failed"], { cwd });
    expect(r.code).toBe(1);
    expect(a.count("kept")).toBe(1);
    expect(r.stderr).toContain("gone is no longer configured");
    expect(r.stderr).toContain(`message ${lost}`);
    expect(r.stderr).toContain(`message ${kept}`);
    expect(r.stderr).toContain("replayed 1 message: 1 delivered, 1 failed, 0 skipped");

    const json = await pp(["replay", "--failed", "--json"], { cwd });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ replays: [], skipped: [{ replay_of: lost, channel: "gone", reason: "not_configured" }], failed: 1 });
  });
});
