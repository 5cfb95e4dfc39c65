import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { formFields } from "../../src/server/body.ts";
import { CATALOGUE } from "../../src/server/errors.ts";
import { channelInput, htmlToMarkdown } from "../../src/core/format.ts";
import { login, SESSION_COOKIE } from "../../src/server/session.ts";
import { newId } from "../../src/core/id.ts";
import { jsonRow } from "../../src/store/view.ts";
import { bearer, checkedHarnesses, CONFIG, formBody, harness, jsonBody, TOKEN, TOKEN2, ULID } from "./_api.ts";

// Nothing any test received, headers included, nor any log line, holds a token or a channel secret.
const h = checkedHarnesses();

describe("POST /api/text", () => {
  test("JSON: the message is committed, queued per channel, and its id answered", async () => {
    const x = h();
    const r = await x.call("/api/text", jsonBody({ msg: "disk full", title: "db1", channels: ["ops", "team"] }));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ code: "ok", msg: "success", id: expect.stringMatching(ULID) });
    const m = x.store.queue.message(r.body.id)!;
    expect(m).toMatchObject({ text: "disk full", title: "db1", format: "text", source: "api" });
    expect(m.deliveries.map((d) => [d.channel, d.status]).sort()).toEqual([["ops", "queued"], ["team", "queued"]]);
    expect(x.state.wakes).toBe(1);
    expect(x.events.metricsText(0)).toContain('pp_messages_accepted_total{channel="ops"} 1');
  });

  test("a form works the same, with repeated channels fields", async () => {
    const x = h();
    const r = await x.call("/api/text", formBody("text=hello%20there&title=T&channels=ops&channels=lark&format=markdown"));
    expect(r.status).toBe(200);
    const m = x.store.queue.message(r.body.id)!;
    expect(m).toMatchObject({ text: "hello there", title: "T", format: "markdown" });
    expect(m.deliveries.map((d) => d.channel).sort()).toEqual(["lark", "ops"]);
  });

  test.each(["msg", "text", "content", "body"])("the text may come as %s", async (field) => {
    const x = h();
    const r = await x.call("/api/text", jsonBody({ [field]: `via ${field}` }));
    expect(r.status).toBe(200);
    expect(x.store.queue.message(r.body.id)!.text).toBe(`via ${field}`);
  });

  test("pushplus templates: kept as written, html planned as Markdown, json as a key/value list", async () => {
    const x = h();
    const content = "<p>a &amp; b</p><ul><li>one</li></ul>";
    const html = x.store.queue.message((await x.call("/api/text", jsonBody({ content, template: "html" }))).body.id)!;
    expect(html).toMatchObject({ text: content, format: "html" });
    expect(channelInput(html)).toEqual({ text: "a & b\n\n- one", format: "markdown" });
    const json = x.store.queue.message((await x.call("/api/text", jsonBody({ content: JSON.stringify({ host: "db1", load: [1, 2], ok: { now: false } }), format: "json" }))).body.id)!;
    expect(json.format).toBe("json");
    expect(channelInput(json)).toEqual({ text: "host: db1\nload[0]: 1\nload[1]: 2\nok.now: false", format: "text" });
    expect((await x.call("/api/text", jsonBody({ content: "<p><script>x</script></p>", template: "html" }))).status).toBe(400);
  });

  test("expires_at, timestamp and callback_url are recorded", async () => {
    const x = h();
    const t = Date.now() + 60_000;
    const a = await x.call("/api/text", jsonBody({ msg: "a", expires_at: t, callback_url: "https://example.test/cb" }));
    expect(a.status).toBe(200);
    const row = x.store.db.query("SELECT expires_at FROM messages WHERE id = ?").get(a.body.id) as any;
    expect(row.expires_at).toBe(t);
    expect((x.store.db.query("SELECT url FROM callbacks WHERE message_id = ?").get(a.body.id) as any).url).toBe("https://example.test/cb");
    const b = await x.call("/api/text", formBody(`content=b&timestamp=${t + 1}&callbackUrl=http%3A%2F%2F127.0.0.1%3A9%2Fx`));
    expect(b.status).toBe(200);
    expect((x.store.db.query("SELECT expires_at FROM messages WHERE id = ?").get(b.body.id) as any).expires_at).toBe(t + 1);
  });

  test("the same destination named twice is queued once", async () => {
    const x = h();
    const r = await x.call("/api/text", jsonBody({ msg: "once", channels: ["ops", "ops-again", "all"] }));
    expect(x.store.queue.message(r.body.id)!.deliveries.map((d) => d.channel).sort()).toEqual(["lark", "ops"]);
  });
});

describe("channel resolution", () => {
  const targets = async (x: ReturnType<typeof harness>, path: string, body: unknown) => {
    const r = await x.call(path, jsonBody(body));
    expect(r.status).toBe(200);
    return x.store.queue.message(r.body.id)!.deliveries.map((d) => d.channel).sort();
  };
  test("channels, then ch, then ?ch=, then webhook or topic, then [serve] channels", async () => {
    const x = h();
    expect(await targets(x, "/api/text?ch=team", { msg: "1", channels: ["lark"], ch: "ops" })).toEqual(["lark"]);
    expect(await targets(x, "/api/text?ch=team", { msg: "2", ch: "ops,lark" })).toEqual(["lark", "ops"]);
    expect(await targets(x, "/api/text?ch=team&ch=lark", { msg: "3", webhook: "ops" })).toEqual(["lark", "team"]);
    expect(await targets(x, "/api/text", { msg: "4", webhook: "team" })).toEqual(["team"]);
    expect(await targets(x, "/api/text", { msg: "5", topic: "all" })).toEqual(["lark", "ops"]);
    expect(await targets(x, "/api/text", { msg: "6" })).toEqual(["ops"]);
  });
});

describe("every row of the code table", () => {
  const code = (r: { status: number; body: any }, status: number, code: string) => {
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
    expect(r.body.id).toMatch(ULID);
    expect(typeof r.body.msg).toBe("string");
  };

  test("the catalogue is the issue's table", () => {
    expect(Object.values(CATALOGUE).map((c) => `${c.status} ${c.code}`).sort()).toEqual(
      ["400 invalid_argument", "401 unauthenticated", "404 not_found", "405 method_not_allowed", "413 payload_too_large",
        "415 unsupported_media_type", "422 invalid_argument", "429 resource_exhausted", "500 internal", "503 unavailable"].sort(),
    );
  });

  test("400 invalid_argument, each saying which", async () => {
    const x = h();
    const cases: [RequestInit, RegExp][] = [
      [jsonBody({ title: "no text" }), /missing text/],
      [jsonBody({ msg: "  \n " }), /empty/],
      [{ ...jsonBody({}), body: '{"msg": "x"' }, /not valid JSON/],
      [{ ...jsonBody({}), body: "[1,2]" }, /must be an object/],
      [formBody("msg=%E9%80"), /UTF-8/],
      [formBody("msg=100%"), /malformed/],
      [jsonBody({ msg: "x", channels: ["opz"] }), /unknown channel or group "opz"; did you mean "ops"\?/],
      [jsonBody({ msg: "x", format: "rtf" }), /unknown format "rtf"/],
      [jsonBody({ msg: "x", template: "xml" }), /unknown template "xml"/],
      [jsonBody({ msg: "x", title: 5 }), /field "title" must be a string, not a number/],
      [jsonBody({ msg: ["x"] }), /field "msg" must be a string, not a list/],
      [jsonBody({ msg: "x", channels: [1] }), /field "channels" must be a list/],
      [jsonBody({ msg: "x", callback_url: "ftp://example.test/x" }), /"callback_url" must be an http or https URL/],
      [jsonBody({ msg: "x", callbackUrl: "javascript:alert(1)" }), /"callbackUrl" must be an http or https URL/],
      [jsonBody({ msg: "x", expires_at: "soon" }), /"expires_at" must be epoch milliseconds/],
      [jsonBody({ msg: "x", expires_at: 1_700_000_000 }), /looks like seconds/],
      [{ ...jsonBody({}), body: new Uint8Array([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) }, /not valid UTF-8/],
      [jsonBody({ msg: "x" }, { "X-Ppt-Request-ID": "has space" }), /X-Ppt-Request-ID must be/],
    ];
    for (const [init, why] of cases) {
      const r = await x.call("/api/text", init);
      code(r, 400, "invalid_argument");
      expect(r.body.msg).toMatch(why);
    }
    expect(x.messages()).toBe(0);
  });

  test("401 unauthenticated: no token, a wrong one, a wrong one in any place", async () => {
    const x = h();
    code(await x.call("/api/text", { ...jsonBody({ msg: "x" }), headers: { "Content-Type": "application/json" } }), 401, "unauthenticated");
    code(await x.call("/api/text", jsonBody({ msg: "x" }, bearer("nope"))), 401, "unauthenticated");
    code(await x.call("/api/text", { ...jsonBody({ msg: "x" }), headers: { "Content-Type": "application/json", "X-Pp-Token": "nope" } }), 401, "unauthenticated");
    code(await x.call("/api/text?token=nope", { ...jsonBody({ msg: "x" }), headers: { "Content-Type": "application/json" } }), 401, "unauthenticated");
    code(await x.call("/api/text", { ...jsonBody({ msg: "x", token: "nope" }), headers: { "Content-Type": "application/json" } }), 401, "unauthenticated");
    code(await x.call("/api/messages"), 401, "unauthenticated");
    code(await x.call("/-/reload", { method: "POST" }), 401, "unauthenticated");
    expect(x.messages()).toBe(0);
  });

  test("404 not_found: an unknown route, an unknown /api/ path, an unknown message", async () => {
    const x = h();
    code(await x.call("/nope"), 404, "not_found");
    code(await x.call("/api/nope", jsonBody({ msg: "x" })), 404, "not_found");
    code(await x.call("/api/messages/a/b/c", { headers: bearer() }), 404, "not_found");
    code(await x.call("/api/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ", { headers: bearer() }), 404, "not_found");
    code(await x.call("/api/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ/replay", jsonBody({})), 404, "not_found");
  });

  test("405 method_not_allowed, with Allow", async () => {
    const x = h();
    const r = await x.call("/api/text", { headers: bearer() });
    code(r, 405, "method_not_allowed");
    expect(r.res.headers.get("allow")).toBe("POST");
    const m = await x.call("/api/messages", { method: "DELETE", headers: bearer() });
    code(m, 405, "method_not_allowed");
    expect(m.res.headers.get("allow")).toBe("GET, HEAD");
    expect((await x.call("/healthz", { method: "POST" })).res.headers.get("allow")).toBe("GET, HEAD");
  });

  test("413 payload_too_large, from Content-Length or while streaming, without reading the rest", async () => {
    const x = h({ maxBodyBytes: 1000 });
    code(await x.call("/api/text", jsonBody({ msg: "x".repeat(2000) })), 413, "payload_too_large");
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled += 400;
        c.enqueue(new TextEncoder().encode("x".repeat(400)));
      },
    });
    const r = await x.call("/api/text", { method: "POST", headers: { ...bearer(), "Content-Type": "application/json" }, body: endless });
    code(r, 413, "payload_too_large");
    expect(pulled).toBeLessThan(5000);
    // Under the limit is fine.
    expect((await x.call("/api/text", jsonBody({ msg: "x".repeat(900) }))).status).toBe(200);
    // A declared length over the limit is refused before a byte is read.
    let touched = 0;
    const lazy = new ReadableStream<Uint8Array>({ pull(c) { touched++; c.enqueue(new Uint8Array(10)); c.close(); } }, { highWaterMark: 0 });
    code(await x.call("/api/text", { method: "POST", headers: { ...bearer(), "Content-Type": "application/json", "Content-Length": "5000" }, body: lazy }), 413, "payload_too_large");
    expect(touched).toBe(0);
  });

  test("over a real socket: bodies with a Content-Length, chunked bodies, and 413", async () => {
    const x = h({ maxBodyBytes: 1000 });
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req, srv) => x.app(req, srv.requestIP(req)?.address) });
    try {
      const url = `http://127.0.0.1:${server.port}/api/text`;
      const post = (body: RequestInit["body"]) => fetch(url, { method: "POST", headers: { ...bearer(), "Content-Type": "application/json" }, body });
      const ok = await post(JSON.stringify({ msg: "über" }));
      expect(ok.status).toBe(200);
      expect(x.store.queue.message(((await ok.json()) as any).id)!.text).toBe("über");
      const chunked = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('{"msg":')); c.enqueue(new TextEncoder().encode('"chunks"}')); c.close(); } });
      expect((await post(chunked)).status).toBe(200);
      const big = await post(JSON.stringify({ msg: "x".repeat(5000) }));
      expect(big.status).toBe(413);
      expect(((await big.json()) as any).code).toBe("payload_too_large");
    } finally {
      server.stop(true);
    }
  });

  test("415 unsupported_media_type: neither JSON nor a form", async () => {
    const x = h();
    code(await x.call("/api/text", { method: "POST", headers: { ...bearer(), "Content-Type": "text/plain" }, body: "hello" }), 415, "unsupported_media_type");
    code(await x.call("/api/text", { method: "POST", headers: { ...bearer(), "Content-Type": "multipart/form-data; boundary=x" }, body: "--x--" }), 415, "unsupported_media_type");
    code(await x.call("/api/text", { method: "POST", headers: { ...bearer(), "Content-Type": "application/json; charset=latin1" }, body: '{"msg":"x"}' }), 415, "unsupported_media_type");
  });

  test("422 invalid_argument: an idempotency key used again for another body", async () => {
    const x = h();
    const a = await x.call("/api/text", jsonBody({ msg: "first" }, { "X-Ppt-Request-ID": "k-1" }));
    const b = await x.call("/api/text", jsonBody({ msg: "second" }, { "X-Ppt-Request-ID": "k-1" }));
    code(b, 422, "invalid_argument");
    expect(b.body.msg).toContain(a.body.id);
    expect(x.messages()).toBe(1);
  });

  test("429 resource_exhausted: per-token rate, per-address when anonymous, and a full queue, with Retry-After", async () => {
    let now = 1_800_000_000_000;
    const x = h({ rate: { count: 2, windowMs: 60_000 } }, { now: () => now });
    for (let i = 0; i < 2; i++) expect((await x.call("/api/text", jsonBody({ msg: `m${i}` }))).status).toBe(200);
    const r = await x.call("/api/text", jsonBody({ msg: "m3" }));
    code(r, 429, "resource_exhausted");
    expect(Number(r.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another token has its own bucket; the first one's refills with time.
    expect((await x.call("/api/text", jsonBody({ msg: "other" }, bearer(TOKEN2)))).status).toBe(200);
    now += 30_000;
    expect((await x.call("/api/text", jsonBody({ msg: "later" }))).status).toBe(200);
    expect(x.messages()).toBe(4);

    const anon = h({ tokens: [], allowAnonymous: true, rate: { count: 1, windowMs: 60_000 } });
    const plain = (ip: string) => anon.call("/api/text", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"msg":"a"}', ip });
    expect((await plain("10.0.0.1")).status).toBe(200);
    code(await plain("10.0.0.1"), 429, "resource_exhausted");
    expect((await plain("10.0.0.2")).status).toBe(200);

    const full = h({ queueMax: 2 });
    expect((await full.call("/api/text", jsonBody({ msg: "a", ch: "ops,team" }))).status).toBe(200);
    const f = await full.call("/api/text", jsonBody({ msg: "b" }));
    code(f, 429, "resource_exhausted");
    expect(f.body.msg).toMatch(/queue is full/);
    expect(Number(f.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  test("500 internal: no stack, no secret, the request id in the answer and the log line", async () => {
    const x = h();
    const inbox = x.ctx.inbox;
    x.ctx.inbox = { ...inbox, message: () => { throw new Error(`boom near ${TOKEN} and ${WECOM}`); } } as typeof inbox;
    const r = await x.call("/api/messages/01ABC", { headers: bearer() });
    code(r, 500, "internal");
    expect(r.text).not.toContain("boom");
    expect(r.text).not.toMatch(/at .*\.ts/);
    expect(r.body.msg).toContain(r.body.id);
    const line = x.lines.at(-1)!;
    expect(line).toMatchObject({ status: 500, requestId: r.body.id, route: "/api/messages/:id" });
    expect(line.error).toContain("boom near ***");
    x.ctx.inbox = inbox;
  });

  test("503 unavailable: draining, or the store cannot be written", async () => {
    const x = h();
    x.state.draining = true;
    code(await x.call("/api/text", jsonBody({ msg: "late" })), 503, "unavailable");
    expect((await x.call("/healthz")).body).toEqual({ status: "unavailable", reason: "shutting down" });
    x.state.draining = false;
    expect(x.messages()).toBe(0);
    const inbox = x.ctx.inbox;
    x.ctx.inbox = { ...inbox, enqueue: () => Promise.reject(new Error("disk I/O error")), writable: () => false, depth: () => 0 } as typeof inbox;
    const r = await x.call("/api/text", jsonBody({ msg: "x" }));
    code(r, 503, "unavailable");
    expect(x.lines.at(-1)!.error).toContain("disk I/O error");
    const hz = await x.call("/healthz");
    expect(hz.status).toBe(503);
    expect(hz.body.status).toBe("unavailable");
    x.ctx.inbox = inbox;
    expect((await x.call("/healthz")).body).toEqual({ status: "ok" });
  });
});
const WECOM = "qyapi-secret-placeholder";

describe("every token form", () => {
  test("Bearer, X-Pp-Token, ?token=, a JSON or form body field, and a page session with its CSRF token", async () => {
    const x = h();
    const ok = async (path: string, init: RequestInit) => {
      const r = await x.call(path, init);
      expect(r.status).toBe(200);
      return r;
    };
    await ok("/api/text", jsonBody({ msg: "bearer" }));
    await ok("/api/text", { method: "POST", headers: { "Content-Type": "application/json", "X-Pp-Token": TOKEN2 }, body: '{"msg":"x-pp-token"}' });
    await ok(`/api/text?token=${TOKEN}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"msg":"query"}' });
    await ok("/api/text", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ msg: "json field", token: TOKEN }) });
    await ok("/api/text", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `msg=form&token=${TOKEN}` });
    const s = login(TOKEN, [TOKEN, TOKEN2], false)!;
    const cookie = `${SESSION_COOKIE}=${s.id}`;
    await ok("/api/text", { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie, "X-Pp-Csrf": s.csrf }, body: '{"msg":"page"}' });
    const noCsrf = await x.call("/api/text", { method: "POST", headers: { "Content-Type": "application/json", Cookie: cookie }, body: '{"msg":"page"}' });
    expect(noCsrf.status).toBe(401);
    expect(noCsrf.body.msg).toMatch(/CSRF/);
    // A safe method needs only the cookie.
    expect((await x.call("/api/messages", { headers: { Cookie: cookie } })).status).toBe(200);
    expect(x.messages()).toBe(6);
  });

  test("a wrong header token is refused before the body is read", async () => {
    const x = h();
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({ pull(c) { pulled++; c.enqueue(new TextEncoder().encode('{"msg":"x"}')); c.close(); } }, { highWaterMark: 0 });
    const r = await x.call("/api/text", { method: "POST", headers: { ...bearer("wrong"), "Content-Type": "application/json" }, body });
    expect(r.status).toBe(401);
    expect(pulled).toBe(0);
  });

  test("anonymous access only when allowed; a wrong token is still wrong", async () => {
    const x = h({ tokens: [TOKEN], allowAnonymous: true });
    expect((await x.call("/api/text", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"msg":"anon"}' })).status).toBe(200);
    expect((await x.call("/api/text", jsonBody({ msg: "x" }, bearer("typo")))).status).toBe(401);
  });
});

describe("idempotency", () => {
  test("a repeat within the window answers the first answer and queues nothing", async () => {
    const x = h();
    const a = await x.call("/api/text", jsonBody({ msg: "once" }, { "X-Ppt-Request-ID": "req-1" }));
    expect(a.body).toEqual({ code: "ok", msg: "success", id: expect.stringMatching(ULID), request_id: "req-1" });
    const b = await x.call("/api/text", jsonBody({ msg: "once" }, { "X-Ppt-Request-ID": "req-1" }));
    expect(b.body).toEqual(a.body);
    // The standard header works alike, and a form of the same content is the same request.
    const c = await x.call("/api/text", jsonBody({ msg: "two" }, { "Idempotency-Key": "req-2" }));
    const d = await x.call("/api/text", formBody("msg=two", { "Idempotency-Key": "req-2" }));
    expect(d.body.id).toBe(c.body.id);
    expect(x.messages()).toBe(2);
    expect(x.deliveries()).toBe(2);
    expect(x.state.wakes).toBe(2);
  });

  test("a repeated replay answers as the first: same id, msg, request_id and skipped channels", async () => {
    const x = h();
    const id = (await x.call("/api/text", jsonBody({ msg: "half", ch: "ops,team" }))).body.id;
    x.store.db.run("UPDATE deliveries SET status = 'delivered' WHERE message_id = ? AND channel = 'ops'", [id]);
    x.store.db.run("UPDATE deliveries SET status = 'failed' WHERE message_id = ? AND channel = 'team'", [id]);
    const first = await x.call(`/api/messages/${id}/replay`, jsonBody({}, { "Idempotency-Key": "replay-1" }));
    expect(first.body).toMatchObject({ code: "ok", msg: "queued", replay_of: id, request_id: "replay-1", skipped: [{ channel: "ops" }] });
    const again = await x.call(`/api/messages/${id}/replay`, jsonBody({}, { "Idempotency-Key": "replay-1" }));
    const { skipped: s1, ...rest1 } = first.body;
    const { skipped: s2, ...rest2 } = again.body;
    expect(rest2).toEqual(rest1);
    expect(s2.map((k: any) => k.channel)).toEqual(s1.map((k: any) => k.channel));
    expect(x.messages()).toBe(2);
  });

  test("keys are scoped by token", async () => {
    const x = h();
    const a = await x.call("/api/text", jsonBody({ msg: "a" }, { "X-Ppt-Request-ID": "same" }));
    const b = await x.call("/api/text", jsonBody({ msg: "b" }, { ...bearer(TOKEN2), "X-Ppt-Request-ID": "same" }));
    expect(b.status).toBe(200);
    expect(b.body.id).not.toBe(a.body.id);
  });

  test("concurrent repeats share one message", async () => {
    const x = h();
    const rs = await Promise.all(Array.from({ length: 8 }, () => x.call("/api/text", jsonBody({ msg: "burst" }, { "X-Ppt-Request-ID": "burst" }))));
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    expect(x.messages()).toBe(1);
  });

  test("after the window the key makes a new message", async () => {
    const x = h({ idempotencyWindowMs: 30 });
    const a = await x.call("/api/text", jsonBody({ msg: "again" }, { "X-Ppt-Request-ID": "w" }));
    await Bun.sleep(80);
    const b = await x.call("/api/text", jsonBody({ msg: "again" }, { "X-Ppt-Request-ID": "w" }));
    expect(b.status).toBe(200);
    expect(b.body.id).not.toBe(a.body.id);
    expect(x.messages()).toBe(2);
  });
});

describe("reading and replaying", () => {
  test("GET /api/messages/{id} and the list, newest first, with cursor paging and filters", async () => {
    const x = h();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await x.call("/api/text", jsonBody({ msg: `n${i}`, ch: i % 2 ? "team" : "ops" }))).body.id);
    const one = await x.call(`/api/messages/${ids[0]}`, { headers: bearer() });
    expect(one.body).toMatchObject({ code: "ok", msg: "success", id: ids[0], data: { id: ids[0], text: "n0", deliveries: [{ channel: "ops", status: "queued" }] } });
    const p1 = await x.call("/api/messages?limit=2", { headers: bearer() });
    expect(p1.body.data.map((m: any) => m.id)).toEqual([ids[4], ids[3]]);
    expect(p1.body.next_cursor).toEqual(expect.any(String));
    const p2 = await x.call(`/api/messages?limit=2&cursor=${p1.body.next_cursor}`, { headers: bearer() });
    expect(p2.body.data.map((m: any) => m.id)).toEqual([ids[2], ids[1]]);
    const team = await x.call("/api/messages?channel=team&status=queued&since=1h", { headers: bearer() });
    expect(team.body.data.map((m: any) => m.id)).toEqual([ids[3], ids[1]]);
    expect(team.body.next_cursor).toBeNull();
    for (const bad of ["limit=0", "limit=501", "limit=x", "status=lost", "since=yesterday", "cursor=%21%21"]) {
      expect((await x.call(`/api/messages?${bad}`, { headers: bearer() })).status).toBe(400);
    }
    expect((await x.call(`/api/messages?since=${Date.now() - 60_000}`, { headers: bearer() })).body.data).toHaveLength(5);
    expect((await x.call("/api/messages?since=2020-01-01T00:00:00Z", { headers: bearer() })).body.data).toHaveLength(5);
  });

  test("POST /api/messages/{id}/replay queues a replay; channels force it", async () => {
    const x = h();
    const id = (await x.call("/api/text", jsonBody({ msg: "again", ch: "ops" }))).body.id;
    const r = await x.call(`/api/messages/${id}/replay`, jsonBody({ channels: ["team"] }));
    const replayId = r.body.id;
    expect(replayId).toMatch(ULID);
    expect(r.body).toMatchObject({ code: "ok", replay_of: id, skipped: [] });
    const m = x.store.queue.message(replayId)!;
    expect(m).toMatchObject({ source: "replay", replay_of: id, text: "again" });
    expect(m.deliveries.map((d) => d.channel)).toEqual(["team"]);
    // Delivered on ops: a plain replay has nothing to send.
    x.store.db.run("UPDATE deliveries SET status = 'delivered' WHERE message_id = ?", [id]);
    const n = await x.call(`/api/messages/${id}/replay`, { method: "POST", headers: bearer() });
    expect(n.body).toMatchObject({ code: "ok", id, replay_of: id, skipped: [{ channel: "ops" }] });
    expect(n.body.msg).toMatch(/^nothing to replay/);
    expect((await x.call(`/api/messages/${id}/replay`, jsonBody({ channels: ["nope"] }))).status).toBe(400);
  });

  test("POST /-/reload: reloaded, or the config error", async () => {
    const x = h();
    expect((await x.call("/-/reload", { method: "POST", headers: bearer() })).body).toMatchObject({ code: "ok", msg: "reloaded" });
    x.state.reload = { ok: false, error: "pp.toml: channels.ops.webhook: is required" };
    const r = await x.call("/-/reload", { method: "POST", headers: bearer() });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: "invalid_argument", msg: expect.stringContaining("channels.ops.webhook: is required") });
  });

  test("a reloaded config is used for the next request", async () => {
    const x = h();
    const c = parseConfig(`${CONFIG(x.dir)}\n[channels.new]\ntype = "slack"\nwebhook = "https://hooks.slack.com/services/T1/B1/x"\n`, join(x.dir, "pp.toml"));
    expect((await x.call("/api/text", jsonBody({ msg: "x", ch: "new" }))).status).toBe(400);
    x.setConfig(c);
    expect((await x.call("/api/text", jsonBody({ msg: "x", ch: "new" }))).status).toBe(200);
  });
});

describe("healthz, metrics, paths", () => {
  test("healthz needs no token; HEAD has no body", async () => {
    const x = h();
    expect(await x.call("/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
    const head = await x.call("/healthz", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
  });

  test("metrics: Prometheus text with per-channel counters, queue depth and requests by route template", async () => {
    const x = h();
    await x.call("/api/text", jsonBody({ msg: "m", ch: "ops,team" }));
    await x.call("/nope");
    x.events.delivered("ops");
    x.events.rateWait("ops", 1500);
    const r = await x.call("/metrics");
    expect(r.res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    for (const line of [
      'pp_messages_accepted_total{channel="team"} 1', 'pp_deliveries_delivered_total{channel="ops"} 1', "pp_queue_depth 2",
      'pp_rate_limit_wait_seconds_total{channel="ops"} 1.5', 'pp_http_requests_total{route="/api/text",status="200"} 1',
      'pp_http_requests_total{route="/:path",status="404"} 1', 'pp_http_request_duration_seconds_count{route="/api/text",status="200"} 1',
      'pp_http_request_duration_seconds_bucket{route="/api/text",status="200",le="+Inf"} 1',
      'pp_http_request_duration_seconds_count{route="/:path",status="404"} 1',
    ]) expect(r.text).toContain(line);
    const locked = h({ metricsAuth: true });
    expect((await locked.call("/metrics")).status).toBe(401);
    expect((await locked.call("/metrics", { headers: bearer() })).status).toBe(200);
  });

  test("reserved paths are never token routes; / goes to /send", async () => {
    const x = h();
    for (const p of [`/api/${TOKEN}`, `/api/${TOKEN}/hi`, `/-/${TOKEN}/hi`, `/swagger/${TOKEN}/hi`, `/healthz/${TOKEN}`, `/metrics/${TOKEN}/hi`, `/send/${TOKEN}/hi`, `/log/${TOKEN}/hi`]) {
      const r = await x.call(p, { method: "POST" });
      expect([404, 405]).toContain(r.status);
    }
    expect(x.messages()).toBe(0);
    const root = await x.call("/");
    expect(root.status).toBe(302);
    expect(root.res.headers.get("location")).toBe("/send");
  });

  test("one log line per request: the route template, never the path of a token route", async () => {
    const x = h();
    await x.call(`/${TOKEN}/hello`);
    await x.call(`/send/${TOKEN}?content=hi`);
    await x.call(`/api/text?token=${TOKEN}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"msg":"q"}' });
    expect(x.lines.map((l) => [l.method, l.route, l.status])).toEqual([
      ["GET", "/:token/:body", 200], ["GET", "/send/:token", 200], ["POST", "/api/text", 200],
    ]);
    for (const l of x.lines) expect(l.requestId).toMatch(ULID);
  });
});

describe("hostile bodies cost what their length does", () => {
  /**
   * Best of five: the time of f(4n) against f(n), counted as at least 5 ms so that a pause on a busy machine is not
   * taken for growth. Linear work grows about 4 times, quadratic 16.
   */
  const growth = (f: (n: number) => void, n: number) => {
    const best = (m: number) => Math.min(...[0, 1, 2, 3, 4].map(() => {
      const t = performance.now();
      f(m);
      return performance.now() - t;
    }));
    return best(4 * n) / Math.max(best(n), 5);
  };

  test("the html template: unclosed tags and scripts", () => {
    expect(growth((n) => htmlToMarkdown("<".repeat(n)), 6000)).toBeLessThan(9);
    expect(growth((n) => htmlToMarkdown("<script>".repeat(n)), 3000)).toBeLessThan(9);
    expect(growth((n) => htmlToMarkdown("<style>x</style>".repeat(n)), 3000)).toBeLessThan(9);
  });

  test("a form that repeats one field", () => {
    expect(growth((n) => formFields("ch=a&".repeat(n)), 20000)).toBeLessThan(9);
  });
});

/** A message recorded as `pp send` records it, its one delivery ended as `status` (or left pending by a gone process). */
function sent(x: ReturnType<typeof harness>, channel: string, status: "delivered" | "failed" | "uncertain" | "expired" | "pending", o: { replayOf?: string; at?: number } = {}): string {
  const at = o.at ?? Date.now();
  const id = newId(at);
  const [b] = x.store.log.begin(
    { id, createdAt: at, text: `${status} to ${channel}`, format: "text", source: o.replayOf ? "replay" : "cli", targets: [channel], ...(o.replayOf ? { replayOf: o.replayOf } : {}) },
    [{ channel, type: "wecom", target: "qyapi.weixin.qq.com/***", parts: 1 }],
    // A pending one's lease has run out: its process is taken as gone.
    { leaseUntil: status === "pending" ? at - 1 : at + 60_000 },
  );
  const deliveryId = (b as { id: number }).id;
  if (status !== "pending") x.store.log.finish(deliveryId, { status, attempts: 1, latencyMs: 40, error: status === "delivered" ? null : `${status} here` });
  return id;
}

describe("what did not arrive, and the statistics, as pp log --failed and --stats see them", () => {
  test("failed=1 lists failed, uncertain, expired and abandoned deliveries, not queued or healed ones; all=1 adds the healed", async () => {
    const x = h();
    const t = Date.now() - 10_000;
    const failed = sent(x, "ops", "failed", { at: t });
    const uncertain = sent(x, "team", "uncertain", { at: t + 1 });
    const expired = sent(x, "ops", "expired", { at: t + 2 });
    const abandoned = sent(x, "lark", "pending", { at: t + 3 });
    const healed = sent(x, "ops", "failed", { at: t + 4 });
    const replay = sent(x, "ops", "delivered", { at: t + 5, replayOf: healed });
    sent(x, "ops", "delivered", { at: t + 6 });
    await x.call("/api/text", jsonBody({ msg: "queued, not failed", ch: "ops" }));
    const ids = (r: { body: any }) => r.body.data.map((d: any) => d.id);
    const list = await x.call("/api/messages?failed=1", { headers: bearer() });
    expect(list.status).toBe(200);
    expect(ids(list)).toEqual([abandoned, expired, uncertain, failed]);
    // The rows are `pp log --json`'s, exactly as the push log lists them.
    expect(list.body.data).toEqual(x.store.log.list({ failed: true }).map(jsonRow));
    expect(list.body.data[0]).toMatchObject({ channel: "lark", status: "pending", error: expect.stringContaining("stopped before finishing") });
    expect(list.body.next_cursor).toBeNull();
    const history = await x.call("/api/messages?failed=true&all=1", { headers: bearer() });
    expect(ids(history)).toEqual([healed, abandoned, expired, uncertain, failed]);
    expect(replay).not.toBe(healed);
    expect(ids(await x.call("/api/messages?failed=1&channel=ops&all=1", { headers: bearer() }))).toEqual([healed, expired, failed]);
    expect(ids(await x.call(`/api/messages?failed=1&since=${t + 2}`, { headers: bearer() }))).toEqual([abandoned, expired]);
    // Paged by cursor, each row once.
    const seen: string[] = [];
    let cursor = "";
    for (let pages = 0; pages < 10; pages++) {
      const r = await x.call(`/api/messages?failed=1&all=1&limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: bearer() });
      seen.push(...ids(r));
      if (!r.body.next_cursor) break;
      cursor = r.body.next_cursor;
    }
    expect(seen).toEqual([healed, abandoned, expired, uncertain, failed]);
    for (const bad of ["failed=1&status=failed", "all=1", "failed=maybe", "failed=1&cursor=abc", "failed=1&limit=501"]) {
      const r = await x.call(`/api/messages?${bad}`, { headers: bearer() });
      expect([bad, r.status, r.body.code]).toEqual([bad, 400, "invalid_argument"]);
    }
    // A cursor of the message listing is not one of this listing, nor the other way round.
    const msgCursor = (await x.call("/api/messages?limit=1", { headers: bearer() })).body.next_cursor;
    expect((await x.call(`/api/messages?failed=1&cursor=${msgCursor}`, { headers: bearer() })).status).toBe(400);
    expect((await x.call("/api/messages?failed=1")).status).toBe(401);
  });

  test("GET /api/stats: pp log --stats --json's rows, for a window and a channel", async () => {
    const x = h();
    const t = Date.now() - 10_000;
    sent(x, "ops", "delivered", { at: t });
    sent(x, "ops", "failed", { at: t + 1 });
    sent(x, "team", "expired", { at: t + 2 });
    await x.call("/api/text", jsonBody({ msg: "queued", ch: "team" }));
    const r = await x.call("/api/stats", { headers: bearer() });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ code: "ok", msg: "success", id: expect.stringMatching(ULID) });
    expect(r.body.data).toEqual(x.store.log.stats());
    expect(r.body.data.map((s: any) => [s.channel, s.deliveries, s.delivered, s.failed, s.expired, s.queued])).toEqual([["ops", 2, 1, 1, 0, 0], ["team", 2, 0, 0, 1, 1]]);
    expect((await x.call("/api/stats?channel=team", { headers: bearer() })).body.data.map((s: any) => s.channel)).toEqual(["team"]);
    expect((await x.call(`/api/stats?since=${t + 1}`, { headers: bearer() })).body.data).toEqual(x.store.log.stats(t + 1));
    expect((await x.call("/api/stats?since=someday", { headers: bearer() })).status).toBe(400);
    expect((await x.call("/api/stats")).status).toBe(401);
    expect((await x.call("/api/stats", { method: "POST", headers: bearer() })).res.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("guessing tokens", () => {
  test("after 10 wrong tokens in a minute an address gets 429 with Retry-After, even with the right token, until the minute passes", async () => {
    let now = Date.now();
    const x = h({}, { now: () => now });
    const from = (ip: string, init: RequestInit) => x.call("/api/text", { ...init, ip } as RequestInit);
    for (let i = 0; i < 10; i++) expect((await from("203.0.113.9", jsonBody({ msg: "x" }, bearer(`guess-${i}`)))).status).toBe(401);
    const blocked = await from("203.0.113.9", jsonBody({ msg: "right token, wrong address" }));
    expect([blocked.status, blocked.body.code]).toEqual([429, "resource_exhausted"]);
    expect(Number(blocked.res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(blocked.res.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    // Every way of giving a token is refused alike: the token route, the body field, the pushplus route.
    expect((await x.call(`/${TOKEN}/hi`, { ip: "203.0.113.9" } as RequestInit)).body.code).toBe(429);
    expect((await x.call(`/send?token=${TOKEN}&content=hi`, { ip: "203.0.113.9" } as RequestInit)).status).toBe(429);
    expect((await x.call("/api/messages", { headers: bearer(), ip: "203.0.113.9" } as RequestInit)).status).toBe(429);
    // What needs no token still answers; another address is not affected.
    expect((await x.call("/healthz", { ip: "203.0.113.9" } as RequestInit)).status).toBe(200);
    expect((await x.call("/metrics", { ip: "203.0.113.9" } as RequestInit)).status).toBe(200);
    expect((await from("198.51.100.7", jsonBody({ msg: "another address" }))).status).toBe(200);
    expect(x.messages()).toBe(1);
    now += 61_000;
    expect((await from("203.0.113.9", jsonBody({ msg: "a minute later" }))).status).toBe(200);
    // Nine failures leave one try.
    for (let i = 0; i < 9; i++) await from("192.0.2.1", jsonBody({ msg: "x" }, bearer("nope")));
    expect((await from("192.0.2.1", jsonBody({ msg: "tenth try is the right one" }))).status).toBe(200);
  });

  test("an IPv6 client is counted by its /64, whichever address of it each guess comes from", async () => {
    const x = h();
    for (let i = 1; i <= 10; i++) expect((await x.call("/api/messages", { headers: bearer(`g${i}`), ip: `2001:db8:7:1::${i.toString(16)}` } as RequestInit)).status).toBe(401);
    expect((await x.call("/api/messages", { headers: bearer(), ip: "2001:db8:7:1:ffff:1:2:3" } as RequestInit)).status).toBe(429);
    expect((await x.call("/api/messages", { headers: bearer(), ip: "2001:db8:7:2::1" } as RequestInit)).status).toBe(200);
    // An IPv4 client over an IPv6 socket is the IPv4 address.
    for (let i = 0; i < 10; i++) await x.call("/api/messages", { headers: bearer("g"), ip: "::ffff:192.0.2.44" } as RequestInit);
    expect((await x.call("/api/messages", { headers: bearer(), ip: "192.0.2.44" } as RequestInit)).status).toBe(429);
  });

  test("wrong logins on the login page count the same, and the page answers 429 with Retry-After", async () => {
    const x = h();
    const form = await x.call("/login", { ip: "203.0.113.5" } as RequestInit);
    const nonce = /name="_login" value="([^"]+)"/.exec(form.text)![1]!;
    const post = (token: string, ip = "203.0.113.5") => x.call("/login", {
      method: "POST", ip,
      headers: { "Content-Type": "application/x-www-form-urlencoded", cookie: `pp_login=${nonce}` },
      body: new URLSearchParams({ token, _login: nonce }).toString(),
    } as RequestInit);
    for (let i = 0; i < 10; i++) expect((await post(`wrong-${i}`)).status).toBe(401);
    const blocked = await post(TOKEN);
    expect(blocked.status).toBe(429);
    expect(blocked.res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(blocked.res.headers.get("content-type")).toContain("text/html");
    expect(blocked.text).toContain("Too many wrong tokens");
    expect(blocked.res.headers.getSetCookie().some((c) => c.startsWith("pp_session="))).toBe(false);
    // The API is closed to that address too; the login form itself still shows.
    expect((await x.call("/api/messages", { headers: bearer(), ip: "203.0.113.5" } as RequestInit)).status).toBe(429);
    expect((await x.call("/login", { ip: "203.0.113.5" } as RequestInit)).status).toBe(200);
    expect((await post(TOKEN, "198.51.100.1")).status).toBe(303);
  });
});

describe("HEAD wherever GET", () => {
  test("every GET route answers HEAD with GET's status and headers and no body", async () => {
    const x = h();
    const id = (await x.call("/api/text", jsonBody({ msg: "m" }))).body.id;
    const s = login(TOKEN, [TOKEN, TOKEN2], false)!;
    const cookie = { Cookie: `${SESSION_COOKIE}=${s.id}` };
    const paths: [string, Record<string, string>][] = [
      ["/healthz", {}], ["/metrics", {}], ["/api/messages", bearer()], ["/api/messages?failed=1", bearer()], ["/api/stats", bearer()],
      [`/api/messages/${id}`, bearer()], ["/api/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ", bearer()], ["/api/messages", {}],
      ["/send", {}], ["/send", cookie], ["/log", cookie], [`/log/${id}`, cookie], ["/login", {}], ["/logout", cookie],
      ["/swagger/", {}], ["/swagger/openapi.yaml", {}], ["/", {}],
    ];
    for (const [path, headers] of paths) {
      const get = await x.call(path, { headers });
      const head = await x.call(path, { method: "HEAD", headers });
      expect([path, head.status]).toEqual([path, get.status]);
      expect([path, head.text]).toEqual([path, ""]);
      expect([path, head.res.headers.get("content-type")]).toEqual([path, get.res.headers.get("content-type")]);
    }
  });

  test("HEAD on a push by GET checks it as GET would and queues nothing", async () => {
    const x = h();
    const before = x.messages();
    for (const path of [`/send?token=${TOKEN}&content=hi`, `/send/${TOKEN}?content=hi`, `/${TOKEN}/hi`, `/${TOKEN}/title/hi`]) {
      const r = await x.call(path, { method: "HEAD" });
      expect([path, r.status, r.text]).toEqual([path, 200, ""]);
    }
    expect((await x.call("/send?token=wrong&content=hi", { method: "HEAD" })).status).toBe(401);
    expect((await x.call(`/send?token=${TOKEN}&content=hi&ch=nope`, { method: "HEAD" })).status).toBe(400);
    expect((await x.call(`/send?token=${TOKEN}&title=only`, { method: "HEAD" })).status).toBe(400);
    expect(x.messages()).toBe(before);
    expect((await x.call("/send/x", { method: "DELETE" })).res.headers.get("allow")).toBe("GET, HEAD, POST, PUT");
  });
});
