/**
 * Access tokens in the store: shared by every handle on the file (so by every pp process and the daemon), used
 * until shortly before they expire, replaced once when the platform refuses one, and never in the push log.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dispatch, type Clock, type Target } from "../../src/core/dispatch.ts";
import { newId } from "../../src/core/id.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";

const opened: Store[] = [];
const servers: { stop(force?: boolean): unknown }[] = [];
let fakes: Fake[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) s.close();
  for (const s of servers.splice(0)) await s.stop(true);
  await Promise.all(fakes.map((f) => f.stop()));
  fakes = [];
});

function open(path: string): Store {
  const s = openStore(path);
  opened.push(s);
  return s;
}

/** A clock that stands at `at` and moves only when a test (or a wait) moves it. */
function fixedClock(at: number): Clock & { set(t: number): void } {
  let now = at;
  return { now: () => now, sleep: async (ms) => void (now += ms), set: (t) => void (now = t) };
}

function app(api: string, corpId: string, agentId: number, secret: string, extra = ""): Target {
  const toml = `[channels.app]\ntype = "wecom_app"\napi = ${q(api)}\ncorp_id = ${q(corpId)}\nagent_id = ${agentId}\nsecret = ${q(secret)}\nretries = 0\n${extra}\n`;
  return parseConfig(toml, "t.toml").channels.get("app")!;
}

async function sendWith(store: Store, t: Target, text: string, clock?: Clock) {
  const now = clock?.now() ?? Date.now();
  const r = await dispatch(
    { id: newId(now), createdAt: now, text, format: "text", source: "cli", targets: [t.name] },
    [t],
    { recorder: store.log, limiter: store.limiter, tokens: store.tokens, deadline: now + 60_000, random: () => 0.5, ...(clock ? { clock } : {}) },
  );
  return { id: r.id, d: r.deliveries[0]! };
}

/** Everything the push log keeps of messages, deliveries and attempts, as text. */
function pushLogText(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return ["messages", "deliveries", "attempts", "rate_blocks"].map((t) => JSON.stringify(db.query(`SELECT * FROM ${t}`).all())).join("\n");
  } finally {
    db.close();
  }
}

describe("the token cache", () => {
  test("what one handle puts, another on the same file gets, until it is no longer usable", () => {
    const path = join(tempDir(), "pp.db");
    const a = open(path);
    const b = open(path);
    a.tokens.put("k", "tok-1", 2_000);
    expect(b.tokens.get("k", 1_999)).toBe("tok-1");
    expect(b.tokens.get("k", 2_000)).toBeUndefined();
    expect(b.tokens.get("other", 1_000)).toBeUndefined();
  });

  test("drop forgets only the token named: a fresh one another process put stays", () => {
    const path = join(tempDir(), "pp.db");
    const a = open(path);
    const b = open(path);
    a.tokens.put("k", "old", 9_000);
    b.tokens.put("k", "new", 9_000);
    a.tokens.drop("k", "old");
    expect(a.tokens.get("k", 1)).toBe("new");
    a.tokens.drop("k", "new");
    expect(b.tokens.get("k", 1)).toBeUndefined();
  });
});

describe("wecom_app tokens through the dispatch core", () => {
  async function fake(o: Parameters<typeof startFake>[1] = {}) {
    const f = await startFake("wecom_app", { rate: false, ...o });
    fakes.push(f);
    return { f, t: app(new URL(f.webhook).origin, f.app!.corpId, f.app!.agentId, f.app!.secret) };
  }

  test("two store handles (two pp processes) share one token: gettoken is asked once", async () => {
    const { f, t } = await fake();
    const path = join(tempDir(), "pp.db");
    expect((await sendWith(open(path), t, "one")).d.status).toBe("delivered");
    expect((await sendWith(open(path), t, "two")).d.status).toBe("delivered");
    expect(f.app!.gettokens()).toBe(1);
    expect(f.accepted().map((r) => r.query.access_token)).toEqual([f.token, f.token]);
  });

  test("a token is fetched again before it expires: after 7200 s less the 5-minute margin, not before", async () => {
    const { f, t } = await fake();
    const store = open(join(tempDir(), "pp.db"));
    const clock = fixedClock(Date.now());
    const start = clock.now();
    await sendWith(store, t, "one", clock);
    clock.set(start + 7_200_000 - 300_000 - 1000);
    await sendWith(store, t, "two", clock);
    expect(f.app!.gettokens()).toBe(1);
    clock.set(start + 7_200_000 - 300_000 + 1000);
    await sendWith(store, t, "three", clock);
    expect(f.app!.gettokens()).toBe(2);
  });

  test("an expired token (42001) is replaced and the message sent again at once, within one attempt", async () => {
    const { f, t } = await fake();
    const path = join(tempDir(), "pp.db");
    const store = open(path);
    await sendWith(store, t, "one");
    const first = f.token;
    f.app!.expireTokens();
    const { id, d } = await sendWith(store, t, "two");
    expect(d).toMatchObject({ status: "delivered", attempts: 1, error: null });
    expect(f.requests.slice(2).map((r) => [r.path, r.answer.body.includes('"errcode":42001')])).toEqual([
      ["/cgi-bin/message/send", true],
      ["/cgi-bin/gettoken", false],
      ["/cgi-bin/message/send", false],
    ]);
    const fresh = f.app!.lent().at(-1)!;
    expect(fresh).not.toBe(first);
    expect(f.accepted().at(-1)!.query.access_token).toBe(fresh);
    // Not a platform failure: one attempt, recorded as ok.
    expect(store.log.get(id)!.deliveries[0]!.attempts_log.map((a) => a.outcome)).toEqual(["ok"]);
    // The fresh token is the one every process now uses.
    expect(open(path).tokens.get(t.def.auth!.key(t.opts), Date.now())).toBe(fresh);
  });

  test("a platform that refuses every token: fetched again once per attempt, never in a loop", async () => {
    const seen: string[] = [];
    let n = 0;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const u = new URL(req.url);
        seen.push(u.pathname);
        if (u.pathname === "/cgi-bin/gettoken") return Response.json({ errcode: 0, errmsg: "ok", access_token: `TOKEN-${++n}-abcdefgh`, expires_in: 7200 });
        return Response.json({ errcode: 42001, errmsg: "access_token expired" });
      },
    });
    servers.push(server);
    const t = app(`http://127.0.0.1:${server.port}`, "ww1", 1, "the-secret-0123456789");
    const { d } = await sendWith(open(join(tempDir(), "pp.db")), t, "hello");
    expect(d).toMatchObject({ status: "failed", attempts: 1 });
    expect(d.error).toContain("42001");
    expect(seen).toEqual(["/cgi-bin/gettoken", "/cgi-bin/message/send", "/cgi-bin/gettoken", "/cgi-bin/message/send"]);
  });

  test("stopped while the token is on its way: the message is not sent", async () => {
    const seen: string[] = [];
    const stop = new AbortController();
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const u = new URL(req.url);
        seen.push(u.pathname);
        if (u.pathname !== "/cgi-bin/gettoken") return Response.json({ errcode: 0, errmsg: "ok" });
        stop.abort("interrupted by SIGTERM");
        await Bun.sleep(50);
        return Response.json({ errcode: 0, errmsg: "ok", access_token: "TOKEN-abcdefgh-0123", expires_in: 7200 });
      },
    });
    servers.push(server);
    const store = open(join(tempDir(), "pp.db"));
    const t = app(`http://127.0.0.1:${server.port}`, "ww1", 1, "the-secret-0123456789");
    const now = Date.now();
    const r = await dispatch(
      { id: newId(now), createdAt: now, text: "hello", format: "text", source: "cli", targets: [t.name] },
      [t],
      { recorder: store.log, limiter: store.limiter, tokens: store.tokens, deadline: now + 60_000, interrupt: stop.signal },
    );
    expect(r.deliveries[0]).toMatchObject({ status: "failed", attempts: 0, sent: false });
    expect(r.deliveries[0]!.error).toContain("interrupted by SIGTERM");
    expect(seen).toEqual(["/cgi-bin/gettoken"]);
  });

  test("the token never reaches the push log, even when the platform echoes it", async () => {
    const TOKEN = "ECHOEDTOKEN-0123456789-abcdefghijklmnop";
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const u = new URL(req.url);
        if (u.pathname === "/cgi-bin/gettoken") return Response.json({ errcode: 0, errmsg: "ok", access_token: TOKEN, expires_in: 7200 });
        return Response.json({ errcode: 40058, errmsg: `invalid Request Parameter, access_token=${u.searchParams.get("access_token")}` });
      },
    });
    servers.push(server);
    const path = join(tempDir(), "pp.db");
    const store = open(path);
    const t = app(`http://127.0.0.1:${server.port}`, "ww1", 1, "the-secret-0123456789");
    const { d } = await sendWith(store, t, "hello");
    expect(d.status).toBe("failed");
    expect(d.error).toContain("access_token=***");
    const text = pushLogText(path);
    expect(text).toContain("access_token=***");
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain("the-secret-0123456789");
    // It is kept for sending, in its own table.
    expect(store.tokens.get(t.def.auth!.key(t.opts), Date.now())).toBe(TOKEN);
  });
});
