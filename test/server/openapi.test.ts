import { afterAll, describe, expect, test } from "bun:test";
import Ajv2020 from "ajv/dist/2020";
import { CATALOGUE } from "../../src/server/errors.ts";
import { OPENAPI_YAML, swaggerRoute } from "../../src/server/routes/swagger.ts";
import { login } from "../../src/server/session.ts";
import { newId } from "../../src/core/id.ts";
import { bearer, formBody, harness, jsonBody, TOKEN } from "./_api.ts";

/**
 * The OpenAPI document is the contract clients are written against: every real answer of the app, for every
 * route and every error of the catalogue, is checked against the schema the document gives for that path, method
 * and status. An answer with a field, code or status the document does not describe fails here.
 */

type Json = any;
const doc: Json = Bun.YAML.parse(OPENAPI_YAML);

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat("date-time", (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)));
ajv.addFormat("uri", (s: string) => URL.canParse(s));
ajv.addSchema(doc, "pp");

const METHODS = ["get", "post", "put", "delete", "patch", "head", "options"];

/** The document's path template for a real path: literal segments beat parameters, as the router decides. */
function templateFor(path: string): string | null {
  const segs = path.split("/").slice(1);
  let best: { t: string; literal: number } | null = null;
  for (const t of Object.keys(doc.paths)) {
    const ts = t.split("/").slice(1);
    if (ts.length !== segs.length) continue;
    let literal = 0;
    let ok = true;
    for (let i = 0; i < ts.length; i++) {
      if (/^\{.+\}$/.test(ts[i]!)) continue;
      if (ts[i] !== segs[i]) ok = false;
      else literal++;
    }
    if (ok && (!best || literal > best.literal)) best = { t, literal };
  }
  return best?.t ?? null;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

/** Follows a `$ref` inside the document, returning the object and its JSON pointer. */
function deref(obj: Json, at: string): { obj: Json; at: string } {
  while (obj && typeof obj.$ref === "string") {
    at = obj.$ref.slice(1);
    obj = at.split("/").slice(1).reduce((o: Json, k: string) => o[k.replaceAll("~1", "/").replaceAll("~0", "~")], doc);
  }
  return { obj, at };
}

const checked = new Set<string>();

/** Validates one real answer against the document; returns the body (JSON when it is JSON). */
async function conforms(method: string, path: string, res: Response, text?: string): Promise<Json> {
  const body = text ?? (await res.text());
  const t = templateFor(path);
  expect(t, `${path} is not in the document`).not.toBeNull();
  const m = method.toLowerCase();
  const item = doc.paths[t!];
  const op = item[m];
  let resp: Json;
  let at: string;
  if (!op && res.status === 405) {
    // A method the document does not list: the catalogue's 405, in the route's shape, naming exactly the listed methods.
    const listed = METHODS.filter((x) => item[x]);
    const compat = listed.some((x) => item[x].tags?.includes("compat"));
    resp = { $ref: `#/components/responses/${compat ? "Compat" : ""}MethodNotAllowed` };
    at = "";
    const allow = (res.headers.get("allow") ?? "").split(",").map((x) => x.trim().toLowerCase()).filter((x) => x && x !== "head");
    expect(allow.toSorted(), `Allow of ${t}`).toEqual(listed.toSorted());
    checked.add(`405 ${t}`);
  } else {
    expect(op, `${method} ${t} is not in the document`).toBeDefined();
    resp = op.responses[String(res.status)] ?? op.responses.default;
    expect(resp, `${method} ${t} answered ${res.status}, which the document does not list`).toBeDefined();
    at = `/paths/${pointer(t!, m, "responses", String(res.status))}`;
    checked.add(`${m} ${t} ${res.status}`);
  }
  const { obj: response, at: where } = deref(resp, at);
  at = where;
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  for (const h of Object.keys(response.headers ?? {})) {
    if (h === "Location" || res.status < 300 || res.status >= 400) expect(res.headers.has(h), `${method} ${path} ${res.status} lacks the ${h} header`).toBe(true);
  }
  if (!response.content) return body;
  const media = response.content[type];
  expect(media, `${method} ${t} ${res.status} answered ${type}, which the document does not list`).toBeDefined();
  if (type !== "application/json") return body;
  const parsed = JSON.parse(body);
  const validate = ajv.getSchema(`pp#${at}/${pointer("content", type, "schema")}`)!;
  expect(validate, `no schema for ${method} ${t} ${res.status}`).toBeDefined();
  const ok = validate(parsed);
  expect(ok ? [] : validate.errors, `${method} ${path} ${res.status}: ${body.slice(0, 300)}`).toEqual([]);
  return parsed;
}

const all: ReturnType<typeof harness>[] = [];
function h(...a: Parameters<typeof harness>) {
  const x = harness(...a);
  all.push(x);
  return x;
}
afterAll(() => {
  for (const x of all) x.close();
});

/** Calls the app and checks the answer against the document. */
async function call(x: ReturnType<typeof harness>, path: string, init: RequestInit = {}): Promise<{ status: number; body: Json; res: Response }> {
  const res = await x.app(new Request(`http://pp.test${path}`, init));
  const body = await conforms(init.method ?? "GET", new URL(`http://pp.test${path}`).pathname, res);
  return { status: res.status, body, res };
}

/** A message recorded the way `pp send` records one, with attempts and the platform's answers. */
function recorded(x: ReturnType<typeof harness>, status: "delivered" | "failed"): string {
  const id = newId();
  const log = x.store.log;
  const [b] = log.begin({ id, createdAt: Date.now(), title: "cli", text: "from the CLI", format: "text", source: "cli", targets: ["ops"] },
    [{ channel: "ops", type: "wecom", target: "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***", parts: 1 }], { leaseUntil: Date.now() + 60_000 });
  const deliveryId = (b as { id: number }).id;
  const a = log.sending({ deliveryId, part: 1, parts: 1, attempt: 1, startedAt: Date.now() });
  log.answered(a, status === "delivered"
    ? { latencyMs: 30, httpStatus: 200, outcome: "ok", error: null, response: '{"errcode":0,"errmsg":"ok"}' }
    : { latencyMs: 30, httpStatus: 200, outcome: "permanent", error: "errcode 93000: invalid webhook url", response: '{"errcode":93000}' });
  log.finish(deliveryId, { status, attempts: 1, latencyMs: 30, error: status === "failed" ? "errcode 93000: invalid webhook url" : null });
  return id;
}

describe("the document", () => {
  test("parses as OpenAPI 3.1, and every $ref in it resolves", () => {
    expect(doc.openapi).toBe("3.1.0");
    const refs = [...OPENAPI_YAML.matchAll(/\$ref: "([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(50);
    for (const r of new Set(refs)) expect(deref({ $ref: r }, "").obj, r).toBeDefined();
  });

  test("names every code and status of the error catalogue, and no other", () => {
    const codes = new Set(Object.values(CATALOGUE).map((e) => e.code));
    const statuses = new Set(Object.values(CATALOGUE).map((e) => e.status));
    expect(new Set(doc.components.schemas.ErrorCode.enum)).toEqual(codes);
    expect(new Set(doc.components.schemas.CompatError.properties.code.enum)).toEqual(statuses);
    // Each status appears in the table of the description with its code.
    for (const e of Object.values(CATALOGUE)) expect(doc.info.description).toContain(`| ${e.status} | ${e.code} |`);
  });

  test("is what /swagger/openapi.yaml serves, next to a Swagger UI page and its assets", async () => {
    const yaml = swaggerRoute(new URL("http://pp.test/swagger/openapi.yaml"))!;
    expect(yaml.headers.get("content-type")).toBe("application/yaml; charset=utf-8");
    expect(await yaml.text()).toBe(OPENAPI_YAML);
    const page = await swaggerRoute(new URL("http://pp.test/swagger/"))!.text();
    expect(page).toContain('<meta charset="utf-8">');
    for (const asset of ["swagger-ui-bundle.js", "swagger-ui.css", "init.js"]) {
      expect(page).toContain(`"${asset}"`);
      const res = swaggerRoute(new URL(`http://pp.test/swagger/${asset}`))!;
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("charset=utf-8");
      expect((await res.text()).length).toBeGreaterThan(100);
    }
    expect(await (swaggerRoute(new URL("http://pp.test/swagger/init.js"))!).text()).toContain('url: "openapi.yaml"');
    expect(swaggerRoute(new URL("http://pp.test/swagger"))!.headers.get("location")).toBe("/swagger/");
    expect(swaggerRoute(new URL("http://pp.test/swagger/nothing"))).toBeNull();
  });
});

describe("real answers match the document", () => {
  test("POST /api/text: accepted (JSON, form, with a request id), and each error of the table", async () => {
    const x = h({ maxBodyBytes: 2048 });
    expect((await call(x, "/api/text", jsonBody({ msg: "hi", channels: ["ops"] }))).status).toBe(200);
    expect((await call(x, "/api/text", formBody("text=hi&ch=ops,team"))).status).toBe(200);
    const repeat = jsonBody({ msg: "once" }, { "X-Ppt-Request-ID": "req-1" });
    const first = await call(x, "/api/text", repeat);
    expect(first.body.request_id).toBe("req-1");
    expect((await call(x, "/api/text", jsonBody({ msg: "once" }, { "X-Ppt-Request-ID": "req-1" }))).body.id).toBe(first.body.id);
    const conflict = await call(x, "/api/text", jsonBody({ msg: "other" }, { "X-Ppt-Request-ID": "req-1" }));
    expect([conflict.status, conflict.body.code]).toEqual([422, "invalid_argument"]);
    expect((await call(x, "/api/text", jsonBody({}))).body.code).toBe("invalid_argument");
    expect((await call(x, "/api/text", jsonBody({ msg: "x", channels: ["nope"] }))).status).toBe(400);
    expect((await call(x, "/api/text", { method: "POST", headers: { "Content-Type": "application/json", ...bearer() }, body: "{" })).status).toBe(400);
    expect((await call(x, "/api/text", jsonBody({ msg: "x" }, { Authorization: "Bearer wrong" }))).status).toBe(401);
    expect((await call(x, "/api/text", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"msg":"x"}' })).status).toBe(401);
    const big = await call(x, "/api/text", jsonBody({ msg: "x".repeat(5000) }));
    expect([big.status, big.body.code]).toEqual([413, "payload_too_large"]);
    expect((await call(x, "/api/text", { method: "POST", headers: { "Content-Type": "text/plain", ...bearer() }, body: "x" })).status).toBe(415);
    const wrong = await call(x, "/api/text", { headers: bearer() });
    expect([wrong.status, wrong.res.headers.get("allow")]).toEqual([405, "POST"]);
  });

  test("429: the token's rate, and a full queue, with Retry-After", async () => {
    const x = h({ rate: { count: 1, windowMs: 60_000 } });
    await call(x, "/api/text", jsonBody({ msg: "a" }));
    const r = await call(x, "/api/text", jsonBody({ msg: "b" }));
    expect([r.status, r.body.code]).toEqual([429, "resource_exhausted"]);
    const q = h({ queueMax: 1 });
    await call(q, "/api/text", jsonBody({ msg: "a" }));
    expect((await call(q, "/api/text", jsonBody({ msg: "b", channels: ["ops", "team"] }))).status).toBe(429);
    const compat = await call(q, "/send", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: TOKEN, content: "c" }) });
    expect([compat.status, compat.body.code]).toEqual([429, 429]);
  });

  test("500 and 503 in both shapes", async () => {
    const x = h();
    const inbox = x.ctx.inbox;
    x.ctx.inbox = { ...inbox, message: () => { throw new Error("disk on fire"); }, messages: (q) => inbox.messages(q), enqueue: (e) => inbox.enqueue(e), depth: () => inbox.depth(), writable: () => inbox.writable() };
    const r = await call(x, `/api/messages/${newId()}`, { headers: bearer() });
    expect([r.status, r.body.code]).toEqual([500, "internal"]);
    x.ctx.inbox = { ...x.ctx.inbox, enqueue: () => Promise.resolve({ kind: "weird" } as never) };
    const compat500 = await call(x, "/send", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: TOKEN, content: "c" }) });
    expect([compat500.status, compat500.body.code]).toEqual([500, 500]);
    // The store refuses the write: 503 in both shapes, with Retry-After.
    x.ctx.inbox = { ...inbox, enqueue: () => Promise.reject(new Error("disk I/O error")), message: (i) => inbox.message(i), messages: (q) => inbox.messages(q), depth: () => inbox.depth(), writable: () => false };
    const full = await call(x, "/api/text", jsonBody({ msg: "no room" }));
    expect([full.status, full.body.code, full.res.headers.get("retry-after")]).toEqual([503, "unavailable", "5"]);
    const compatFull = await call(x, "/send", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: TOKEN, content: "c" }) });
    expect([compatFull.status, compatFull.body.code]).toEqual([503, 503]);
    expect((await call(x, "/healthz")).body).toEqual({ status: "unavailable", reason: "the store cannot be written" });
    x.ctx.inbox = inbox;
    x.state.draining = true;
    expect((await call(x, "/api/text", jsonBody({ msg: "late" }))).body.code).toBe("unavailable");
    const compat = await call(x, "/send", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: TOKEN, content: "c" }) });
    expect([compat.status, compat.body.code]).toEqual([503, 503]);
    const health = await call(x, "/healthz");
    expect(health).toMatchObject({ status: 503, body: { status: "unavailable" } });
  });

  test("GET /api/messages and /api/messages/{id}: queued, delivered and failed messages with attempts and callbacks", async () => {
    const x = h();
    const queued = (await call(x, "/api/text", jsonBody({ msg: "later", title: "t", format: "markdown", channels: ["ops", "lark"], callback_url: "http://127.0.0.1:9/cb?token=client", expires_at: Date.now() + 3_600_000 }))).body.id;
    const delivered = recorded(x, "delivered");
    const failed = recorded(x, "failed");
    for (const id of [queued, delivered, failed]) {
      const one = await call(x, `/api/messages/${id}`, { headers: bearer() });
      expect(one.body.data.id).toBe(id);
    }
    const withAttempts = (await call(x, `/api/messages/${failed}`, { headers: bearer() })).body.data;
    expect(withAttempts.deliveries[0].attempts_log).toHaveLength(1);
    expect((await call(x, `/api/messages/${queued}`, { headers: bearer() })).body.data.callback).not.toBeNull();
    const page1 = await call(x, "/api/messages?limit=2", { headers: bearer() });
    expect(page1.body.data).toHaveLength(2);
    const page2 = await call(x, `/api/messages?limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`, { headers: bearer() });
    expect(page2.body.next_cursor).toBeNull();
    expect((await call(x, "/api/messages?status=failed&channel=ops&since=1h", { headers: bearer() })).body.data.map((m: Json) => m.id)).toEqual([failed]);
    expect((await call(x, "/api/messages?status=bogus", { headers: bearer() })).status).toBe(400);
    expect((await call(x, "/api/messages", {})).status).toBe(401);
    expect((await call(x, `/api/messages/${newId()}`, { headers: bearer() })).status).toBe(404);
    expect((await call(x, "/api/messages", { method: "POST", headers: bearer() })).status).toBe(405);
    expect((await call(x, `/api/messages/${queued}`, { method: "DELETE", headers: bearer() })).status).toBe(405);
  });

  test("POST /api/messages/{id}/replay: a new message, nothing to replay, and its errors", async () => {
    const x = h();
    const failed = recorded(x, "failed");
    const again = await call(x, `/api/messages/${failed}/replay`, jsonBody({}));
    expect(again.body.replay_of).toBe(failed);
    expect(again.body.id).not.toBe(failed);
    const delivered = recorded(x, "delivered");
    const nothing = await call(x, `/api/messages/${delivered}/replay`, jsonBody({}));
    expect(nothing.body).toMatchObject({ id: delivered, replay_of: delivered });
    expect(nothing.body.msg).toStartWith("nothing to replay");
    expect((await call(x, `/api/messages/${delivered}/replay`, jsonBody({ channels: ["team"], uncertain: true }))).status).toBe(200);
    expect((await call(x, `/api/messages/${delivered}/replay`, jsonBody({ channels: ["nope"] }))).status).toBe(400);
    expect((await call(x, `/api/messages/${newId()}/replay`, jsonBody({}))).status).toBe(404);
    expect((await call(x, `/api/messages/${delivered}/replay`, { method: "POST" })).status).toBe(401);
    expect((await call(x, `/api/messages/${delivered}/replay`, { headers: bearer() })).status).toBe(405);
  });

  test("POST /-/reload, GET /healthz and GET /metrics", async () => {
    const x = h();
    expect((await call(x, "/-/reload", { method: "POST", headers: bearer() })).body.msg).toBe("reloaded");
    x.state.reload = { ok: false, error: "channels.ops.webhook: must be a URL" };
    expect((await call(x, "/-/reload", { method: "POST", headers: bearer() })).status).toBe(400);
    expect((await call(x, "/-/reload", { method: "POST" })).status).toBe(401);
    expect((await call(x, "/-/reload", { headers: bearer() })).status).toBe(405);
    expect((await call(x, "/healthz")).body).toEqual({ status: "ok" });
    expect((await call(x, "/healthz", { method: "POST" })).status).toBe(405);
    const metrics = await call(x, "/metrics");
    expect(metrics.body).toContain("pp_queue_depth");
    expect((await call(x, "/metrics", { method: "POST" })).status).toBe(405);
    const locked = h({ metricsAuth: true });
    expect((await call(locked, "/metrics")).status).toBe(401);
    expect((await call(locked, "/metrics", { headers: bearer() })).status).toBe(200);
  });

  test("MsgFlow and pushplus routes answer their shape, for success and errors", async () => {
    const x = h({ maxBodyBytes: 2048 });
    const ok = (r: { status: number; body: Json }) => expect([r.status, r.body.code, r.body.data]).toEqual([200, 200, r.body.id]);
    ok(await call(x, `/send?token=${TOKEN}&content=hi&title=t&template=markdown&ch=ops`));
    ok(await call(x, "/send", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: TOKEN, title: "t", content: "c", topic: "all", callbackUrl: "http://127.0.0.1:9/cb", timestamp: Date.now() + 60_000 }) }));
    ok(await call(x, "/send", formBody("body=b&webhook=team")));
    ok(await call(x, `/send/${TOKEN}?content=hi`));
    ok(await call(x, `/send/${TOKEN}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"content":"hi"}' }));
    ok(await call(x, `/send/${TOKEN}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: '{"content":"hi"}' }));
    ok(await call(x, `/${TOKEN}/hello?ch=ops&ch=team`));
    ok(await call(x, `/${TOKEN}/hello`, { method: "POST" }));
    ok(await call(x, `/${TOKEN}/title/hello`));
    ok(await call(x, `/${TOKEN}/title/hello`, { method: "POST" }));
    ok(await call(x, `/send?template=json&token=${TOKEN}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"alert":"cpu","value":97}' }));
    ok(await call(x, "/send", { method: "POST", headers: { "Content-Type": "application/json", "Idempotency-Key": "k1" }, body: JSON.stringify({ token: TOKEN, content: "c" }) }));
    const conflict = await call(x, "/send", { method: "POST", headers: { "Content-Type": "application/json", "Idempotency-Key": "k1" }, body: JSON.stringify({ token: TOKEN, content: "d" }) });
    expect(conflict.body.code).toBe(422);
    expect((await call(x, `/send?token=${TOKEN}&title=only`)).body.code).toBe(400);
    expect((await call(x, "/send?token=wrong&content=x")).body.code).toBe(401);
    expect((await call(x, "/wrong/hello")).body.code).toBe(401);
    expect((await call(x, `/send/${TOKEN}`, { method: "DELETE" })).body.code).toBe(405);
    expect((await call(x, `/${TOKEN}/hello`, { method: "PUT" })).body.code).toBe(405);
    expect((await call(x, `/send/${TOKEN}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ content: "x".repeat(5000) }) })).body.code).toBe(413);
    expect((await call(x, `/send/${TOKEN}`, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" })).body.code).toBe(415);
  });

  test("the pages: /send without push parameters, /login, /logout, /log, /log/{id} and /swagger/", async () => {
    const x = h();
    const toLogin = await call(x, "/send");
    expect([toLogin.status, toLogin.res.headers.get("location")]).toEqual([303, "/login?next=%2Fsend"]);
    const form = await call(x, "/login");
    expect(form.status).toBe(200);
    const nonce = /name="_login" value="([^"]+)"/.exec(form.body)![1]!;
    const loginWith = (token: string) => call(x, "/login", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", cookie: `pp_login=${nonce}` },
      body: new URLSearchParams({ token, _login: nonce }).toString(),
    });
    expect((await loginWith("wrong")).status).toBe(401);
    expect((await loginWith(TOKEN)).status).toBe(303);
    const s = login(TOKEN, [TOKEN], false)!;
    const cookie = { cookie: `pp_session=${s.id}` };
    expect((await call(x, "/send", { headers: cookie })).status).toBe(200);
    expect((await call(x, "/log", { headers: cookie })).status).toBe(200);
    expect((await call(x, "/log?status=bogus", { headers: cookie })).status).toBe(400);
    const id = recorded(x, "failed");
    expect((await call(x, `/log/${id}`, { headers: cookie })).status).toBe(200);
    expect((await call(x, `/log/${newId()}`, { headers: cookie })).status).toBe(404);
    expect((await call(x, "/log", {})).status).toBe(303);
    expect((await call(x, "/logout", { headers: cookie })).status).toBe(200);
    expect((await call(x, "/logout", { method: "POST", headers: { ...cookie, "Content-Type": "application/x-www-form-urlencoded" }, body: "_csrf=wrong" })).status).toBe(403);
    expect((await call(x, "/logout", { method: "POST", headers: { ...cookie, "Content-Type": "application/x-www-form-urlencoded" }, body: `_csrf=${s.csrf}` })).status).toBe(303);
    expect((await call(x, "/swagger/")).status).toBe(200);
    expect((await call(x, "/swagger/openapi.yaml")).status).toBe(200);
    // A page session sends through the API with its CSRF token, and is refused without it.
    const s2 = login(TOKEN, [TOKEN], false)!;
    const page = { "Content-Type": "application/json", cookie: `pp_session=${s2.id}` };
    expect((await call(x, "/api/text", { method: "POST", headers: page, body: '{"msg":"from the page"}' })).status).toBe(401);
    expect((await call(x, "/api/text", { method: "POST", headers: { ...page, "X-Pp-Csrf": s2.csrf }, body: '{"msg":"from the page"}' })).status).toBe(200);
  });

  test("an unknown path is the catalogue's 404; / leads to the send page", async () => {
    const x = h();
    for (const path of ["/api/nope", "/api/messages/a/b/c", "/-/nope", "/a/b/c/d"]) {
      const res = await x.app(new Request(`http://pp.test${path}`, { headers: bearer() }));
      expect(res.status).toBe(404);
      const validate = ajv.getSchema("pp#/components/responses/NotFound/content/application~1json/schema")!;
      const body = (await res.json()) as Json;
      expect(validate(body) ? [] : validate.errors).toEqual([]);
      expect(body.code).toBe("not_found");
    }
    const root = await call(x, "/");
    expect(root.res.headers.get("location")).toBe("/send");
  });

  test("GET /api/messages?failed=1 (rows, paged) and GET /api/stats", async () => {
    const x = h();
    const failed = recorded(x, "failed");
    recorded(x, "delivered");
    recorded(x, "failed");
    // An abandoned CLI delivery (its lease ran out) and an expired one are listed too.
    const log = x.store.log;
    const [p] = log.begin({ id: newId(), createdAt: Date.now(), text: "left", format: "text", source: "cli", targets: ["team"] },
      [{ channel: "team", type: "slack", target: "hooks.slack.com/services/***", parts: 1 }], { leaseUntil: Date.now() - 1 });
    const [e] = log.begin({ id: newId(), createdAt: Date.now(), text: "late", format: "text", source: "cli", targets: ["ops"] },
      [{ channel: "ops", type: "wecom", target: "qyapi.weixin.qq.com/***", parts: 1 }], { leaseUntil: Date.now() + 60_000 });
    log.finish((e as { id: number }).id, { status: "expired", attempts: 0, latencyMs: 0, error: "expired before it could be sent" });
    expect(p).toBeDefined();
    const page1 = await call(x, "/api/messages?failed=1&limit=2", { headers: bearer() });
    expect(page1.body.data.map((r: Json) => r.status)).toEqual(["expired", "pending"]);
    const page2 = await call(x, `/api/messages?failed=1&all=1&limit=3&cursor=${page1.body.next_cursor}`, { headers: bearer() });
    expect(page2.body.data.map((r: Json) => r.status)).toEqual(["failed", "failed"]);
    expect(page2.body.data.at(-1).id).toBe(failed);
    expect(page2.body.next_cursor).toBeNull();
    expect((await call(x, "/api/messages?failed=1&status=failed", { headers: bearer() })).status).toBe(400);
    const stats = await call(x, "/api/stats?since=1h", { headers: bearer() });
    expect(stats.body.data.map((r: Json) => [r.channel, r.deliveries])).toEqual([["ops", 4], ["team", 1]]);
    expect((await call(x, "/api/stats?since=whenever", { headers: bearer() })).status).toBe(400);
    expect((await call(x, "/api/stats")).status).toBe(401);
    expect((await call(x, "/api/stats", { method: "POST", headers: bearer() })).status).toBe(405);
  });

  test("429 after too many failed authentications: the API's and the login page's", async () => {
    const x = h();
    for (let i = 0; i < 10; i++) await call(x, "/api/messages", { headers: bearer(`guess-${i}`) });
    const api = await call(x, "/api/stats", { headers: bearer() });
    expect([api.status, api.body.code]).toEqual([429, "resource_exhausted"]);
    const login = await call(x, "/login", {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: TOKEN, _login: "x" }).toString(),
    });
    expect(login.status).toBe(429);
  });

  test("every operation in the document was answered for real at least once", () => {
    const missing: string[] = [];
    for (const [t, item] of Object.entries<Json>(doc.paths)) {
      for (const m of METHODS) {
        if (!item[m]) continue;
        if (![...checked].some((c) => c.startsWith(`${m} ${t} `))) missing.push(`${m.toUpperCase()} ${t}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
