import { describe, expect, test } from "bun:test";
import { idTime } from "../../src/core/id.ts";
import { authWork } from "../../src/server/auth.ts";
import { createLogger } from "../../src/server/log.ts";
import { createMetrics } from "../../src/server/metrics.ts";
import { submitWork } from "../../src/server/submit.ts";
import { bearer, checkedHarnesses, jsonBody, TOKEN, TOKEN2, ULID } from "./_api.ts";

// The work a request costs, counted rather than timed: what a cache or a skipped step saves must stay saved.

// Nothing any test received, headers included, nor any log line, holds a token or a channel secret.
const h = checkedHarnesses();

const work = () => ({ auth: authWork.sha256, submit: submitWork.sha256 });
const since = (w: ReturnType<typeof work>) => ({ auth: authWork.sha256 - w.auth, submit: submitWork.sha256 - w.submit });

describe("hashing per request", () => {
  test("a known token is hashed once, not on every request; a request without a key hashes nothing", async () => {
    const x = h();
    expect((await x.call("/api/text", jsonBody({ msg: "first" }))).status).toBe(200);
    const w = work();
    for (let i = 0; i < 20; i++) expect((await x.call("/api/text", jsonBody({ msg: `m${i}` }))).status).toBe(200);
    expect((await x.call("/api/text", jsonBody({ msg: "other token" }, bearer(TOKEN2)))).status).toBe(200);
    // The second token is hashed the first time it is seen, and never again.
    for (let i = 0; i < 5; i++) expect((await x.call("/api/text", jsonBody({ msg: `n${i}` }, bearer(TOKEN2)))).status).toBe(200);
    expect(since(w)).toEqual({ auth: 1, submit: 0 });
    expect(x.messages()).toBe(27);
  });

  test("an idempotency key costs its two hashes (scoped key and fingerprint), and still answers repeats and conflicts", async () => {
    const x = h();
    await x.call("/api/text", jsonBody({ msg: "warm" }));
    const w = work();
    const a = await x.call("/api/text", jsonBody({ msg: "once" }, { "Idempotency-Key": "k-1" }));
    const b = await x.call("/api/text", jsonBody({ msg: "once" }, { "Idempotency-Key": "k-1" }));
    const c = await x.call("/api/text", jsonBody({ msg: "changed" }, { "Idempotency-Key": "k-1" }));
    expect([a.status, b.status, c.status]).toEqual([200, 200, 422]);
    expect(b.body.id).toBe(a.body.id);
    expect(since(w)).toEqual({ auth: 0, submit: 6 });
  });

  test("wrong tokens are hashed every time and never remembered as right", async () => {
    const x = h();
    const w = work();
    for (let i = 0; i < 5; i++) expect((await x.call("/api/text", jsonBody({ msg: "x" }, bearer("wrong-token-0000")))).status).toBe(401);
    // Each try is checked afresh (the failure limit counts them, so the sixth address-wide try is 429 first).
    expect(since(w).auth).toBeGreaterThanOrEqual(5 + 2);
    expect(x.messages()).toBe(0);
  });

  test("a new token list (a reload) is checked afresh: a token no longer listed is refused, even one seen before", async () => {
    const x = h();
    expect((await x.call("/api/text", jsonBody({ msg: "a" }))).status).toBe(200);
    x.settings.tokens = [TOKEN2];
    expect((await x.call("/api/text", jsonBody({ msg: "b" }))).status).toBe(401);
    expect((await x.call("/api/text", jsonBody({ msg: "c" }, bearer(TOKEN2)))).status).toBe(200);
    x.settings.tokens = [TOKEN, TOKEN2];
    expect((await x.call("/api/text", jsonBody({ msg: "d" }))).status).toBe(200);
    expect(x.messages()).toBe(3);
  });
});

describe("one id per request", () => {
  test("a queued message is named by its request's id, and created at that id's time", async () => {
    let clock = 1_800_000_000_000;
    const x = h({}, { now: () => clock });
    const r = await x.call("/api/text", jsonBody({ msg: "hello" }));
    expect(r.status).toBe(200);
    expect(r.body.id).toMatch(ULID);
    expect(r.res.headers.get("X-Pp-Request-Id")).toBe(r.body.id);
    const row = x.store.db.query("SELECT created_at FROM messages WHERE id = ?").get(r.body.id) as { created_at: number };
    expect(row.created_at).toBe(clock);
    expect(idTime(r.body.id)).toBe(clock);
    // A repeat answers the first message's id; its own request id is new.
    clock += 1000;
    const a = await x.call("/api/text", jsonBody({ msg: "k" }, { "X-Ppt-Request-ID": "req-1" }));
    const b = await x.call("/api/text", jsonBody({ msg: "k" }, { "X-Ppt-Request-ID": "req-1" }));
    expect(b.body).toEqual({ code: "ok", msg: "success", id: a.body.id, request_id: "req-1" });
    expect(b.res.headers.get("X-Pp-Request-Id")).not.toBe(a.body.id);
    expect(x.lines.map((l) => l.requestId)).toEqual([r.body.id, a.body.id, b.res.headers.get("X-Pp-Request-Id")]);
  });

  test("the written-out answers are the JSON they were, in both shapes", async () => {
    const x = h();
    const native = await x.call("/api/text", jsonBody({ msg: "n" }, { "Idempotency-Key": 'odd"key"\\</>' }));
    expect(native.status).toBe(200);
    expect(native.body).toEqual({ code: "ok", msg: "success", id: native.body.id, request_id: 'odd"key"\\</>' });
    expect(native.res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    expect(native.res.headers.get("Cache-Control")).toBe("no-store");
    const compat = await x.call(`/send?token=${TOKEN}&content=c`);
    expect(compat.status).toBe(200);
    expect(Object.keys(compat.body)).toEqual(["code", "msg", "message", "data", "id"]);
    expect(compat.body).toEqual({ code: 200, msg: "success", message: "success", data: compat.body.id, id: compat.body.id });
    // Answers that carry their own headers keep them, and the shared ones are not changed by them.
    const limited = h({ rate: { count: 1, windowMs: 60_000 } });
    await limited.call("/api/text", jsonBody({ msg: "1" }));
    const over = await limited.call("/api/text", jsonBody({ msg: "2" }));
    expect(over.status).toBe(429);
    expect(over.res.headers.get("Retry-After")).toMatch(/^\d+$/);
    const after = await x.call("/api/text", jsonBody({ msg: "n2" }));
    expect(after.res.headers.get("Retry-After")).toBeNull();
    expect([...after.res.headers.keys()].sort()).toEqual(["cache-control", "content-type", "x-pp-request-id"]);
  });
});

describe("metrics and log lines without per-request keys", () => {
  test("the latency histogram, by route template and status, has cumulative buckets; requests are listed in order of first sight", () => {
    const m = createMetrics();
    const line = (route: string, status: number, latencyMs: number) => m.request({ method: "GET", route, status, latencyMs, requestId: "r" });
    line("/b", 200, 0.5);
    line("/a", 404, 3);
    line("/b", 200, 20);
    line("/b", 500, 2000);
    line("/b", 200, 60_000);
    const text = m.metricsText(0);
    const bucket = (le: string) => new RegExp(`^pp_http_request_duration_seconds_bucket\\{route="/b",status="200",le="${le.replace(/[.+]/g, "\\$&")}"\\} (\\d+)$`, "m").exec(text)?.[1];
    expect(["0.001", "0.0025", "0.005", "0.01", "0.025", "2.5", "10", "+Inf"].map(bucket)).toEqual(["1", "1", "1", "1", "2", "2", "2", "3"]);
    expect(text).toContain('pp_http_request_duration_seconds_count{route="/b",status="200"} 3');
    expect(text).toContain('pp_http_request_duration_seconds_count{route="/b",status="500"} 1');
    expect(text).toContain('pp_http_request_duration_seconds_bucket{route="/b",status="500",le="2.5"} 1');
    expect(text).toContain('pp_http_request_duration_seconds_bucket{route="/a",status="404",le="0.0025"} 0');
    expect(text).toContain('pp_http_request_duration_seconds_bucket{route="/a",status="404",le="0.005"} 1');
    expect(text.split("\n").filter((l) => l.startsWith("pp_http_requests_total{"))).toEqual([
      'pp_http_requests_total{route="/b",status="200"} 3',
      'pp_http_requests_total{route="/a",status="404"} 1',
      'pp_http_requests_total{route="/b",status="500"} 1',
    ]);
  });

  test("request lines: an error is quoted in text, kept in JSON, on one line, with secrets hidden", () => {
    for (const format of ["text", "json"] as const) {
      const lines: string[] = [];
      const log = createLogger({ level: "info", format, write: (l) => lines.push(l) });
      log.secrets([TOKEN]);
      log.request({ method: "POST", route: "/api/text", status: 500, latencyMs: 2.345, requestId: "01JREQ", error: `boom ${TOKEN}\nINFO  forged \x1b[31m` });
      log.request({ method: "GET", route: "/healthz", status: 200, latencyMs: 0.04, requestId: "01JREQ2" });
      expect(lines).toHaveLength(2);
      for (const l of lines) {
        expect(l.endsWith("\n") && !l.slice(0, -1).includes("\n")).toBe(true);
        expect(l).not.toContain(TOKEN);
        expect(l).not.toContain("\x1b");
      }
      if (format === "text") {
        expect(lines[0]).toMatch(/^\S+Z INFO  POST \/api\/text 500 2\.3ms request_id=01JREQ error="boom \*\*\*\\nINFO  forged \\u001b\[31m"\n$/);
        expect(lines[1]).toMatch(/^\S+Z INFO  GET \/healthz 200 0ms request_id=01JREQ2\n$/);
      } else {
        const [a, b] = lines.map((l) => JSON.parse(l));
        expect(Object.keys(a)).toEqual(["time", "level", "msg", "method", "route", "status", "latency_ms", "request_id", "error"]);
        expect(a).toMatchObject({ level: "info", msg: "POST /api/text 500 2.3ms", latency_ms: 2.345, request_id: "01JREQ", error: "boom ***\nINFO  forged \x1b[31m" });
        expect(Object.keys(b)).not.toContain("error");
      }
    }
  });
});

describe("the request URL", () => {
  /** One raw HTTP/1.1 exchange, so that the Host header can be what no client library would send. */
  async function raw(port: number, head: string, body = ""): Promise<{ status: number; text: string }> {
    let got = "";
    const done = Promise.withResolvers<void>();
    const socket = await Bun.connect({
      hostname: "127.0.0.1", port,
      socket: { data: (_s, d) => void (got += d.toString()), close: () => done.resolve(), error: () => done.resolve() },
    });
    socket.write(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    await done.promise;
    return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1]), text: got.slice(got.indexOf("\r\n\r\n") + 4) };
  }

  test("a malformed Host header does not make a 500: only the path and the query are read", async () => {
    const x = h();
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => x.app(req) });
    try {
      for (const host of ["h:99999", "a\\b", "x y"]) {
        const auth = `Authorization: Bearer ${TOKEN}\r\nContent-Type: application/json`;
        const posted = await raw(server.port!, `POST /api/text HTTP/1.1\r\nHost: ${host}\r\n${auth}`, JSON.stringify({ msg: "m" }));
        expect(posted.status).toBe(200);
        const listed = await raw(server.port!, `GET /api/messages?limit=1&status=queued HTTP/1.1\r\nHost: ${host}\r\n${auth}`);
        expect(listed.status).toBe(200);
        expect(JSON.parse(listed.text).data).toHaveLength(1);
        const pushed = await raw(server.port!, `GET /send?token=${TOKEN}&content=q&ch=team HTTP/1.1\r\nHost: ${host}`);
        expect(pushed.status).toBe(200);
        expect(x.store.queue.message(JSON.parse(pushed.text).id)!.targets).toEqual(["team"]);
      }
    } finally {
      server.stop(true);
    }
    expect(x.lines.filter((l) => l.status >= 500)).toEqual([]);
  });
});
