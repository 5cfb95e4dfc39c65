import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import type { Inbox, MessageQuery } from "../../src/core/ports.ts";
import type { AppContext, ServeSettings } from "../../src/server/context.ts";
import { pageRoute, sinceMs } from "../../src/server/routes/pages.ts";
import { csrfOk, login, sessionOf } from "../../src/server/session.ts";
import type { AttemptRow, LogRow, MessageDetail } from "../../src/store/pushlog.ts";
import { messageJson, type MessageView } from "../../src/store/view.ts";

const TOKEN = "page-token-0123456789abcdef";
const WECOM_KEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const FEISHU_SECRET = "feishu-signing-secret-9876";
const SLACK_PATH = "T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX";

const CONFIG = `
[channels.ops]
type = "wecom"
webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"

[channels.lark]
type = "feishu"
webhook = "https://open.feishu.cn/open-apis/bot/v2/hook/abcdef01-2345-6789-abcd-ef0123456789"
secret = "${FEISHU_SECRET}"

[channels.team]
type = "slack"
webhook = "https://hooks.slack.com/services/${SLACK_PATH}"

[groups]
all = ["ops", "lark"]
`;

function settings(over: Partial<ServeSettings> = {}): ServeSettings {
  return {
    listen: "127.0.0.1:39270", tokens: [TOKEN], allowAnonymous: false, channels: ["ops"], idempotencyWindowMs: 120_000,
    maxBodyBytes: 1 << 20, rate: { count: 600, windowMs: 60_000 }, queueMax: 100_000, workers: 16, graceMs: 10_000,
    deadlineMs: 86_400_000, user: "pp", metricsAuth: false, ...over,
  };
}

let seq = 0;
function view(o: { title?: string | null; text?: string; channel?: string; status?: LogRow["status"]; error?: string | null; response?: string | null; at?: number }): MessageView {
  const at = o.at ?? Date.UTC(2026, 10, 1) + seq;
  const id = `01KTEST${String(seq++).padStart(19, "0")}`;
  const attempt: AttemptRow = { part: 1, attempt: 1, started_at: at, latency_ms: 12, http_status: 200, outcome: o.status === "delivered" ? "ok" : "permanent", error: o.error ?? null, response: o.response ?? null };
  const row: LogRow & { attempts_log: AttemptRow[] } = {
    id, delivery_id: seq, channel: o.channel ?? "ops", type: "wecom", target: "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
    status: o.status ?? "delivered", attempts: 1, parts: 1, latency_ms: 12, error: o.error ?? null, created_at: at, updated_at: at,
    title: o.title ?? null, text: o.text ?? "hello", format: "text", replay_of: null, possible_duplicate: 0, due_at: null,
    attempts_log: [attempt],
  };
  const detail: MessageDetail = {
    message: { id, created_at: at, title: o.title ?? null, text: o.text ?? "hello", format: "text", source: "api", replay_of: null, targets: [row.channel], expires_at: null, request_id: null },
    deliveries: [row],
    callback: null,
  };
  return messageJson(detail);
}

/**
 * The pages read only Inbox.message and Inbox.messages; this one keeps views in an array, newest last, and pages
 * with the index as the cursor, and records each query so the tests see what the page asked for.
 */
function arrayInbox(views: MessageView[]): Inbox & { queries: MessageQuery[] } {
  const queries: MessageQuery[] = [];
  return {
    queries,
    enqueue: () => Promise.reject(new Error("not used by pages")),
    message: (id) => views.find((m) => m.id === id) ?? null,
    messages: (q) => {
      queries.push(q);
      const match = views.filter((m) => (!q.status || m.deliveries.some((d) => d.status === q.status)) && (!q.channel || m.deliveries.some((d) => d.channel === q.channel)));
      const newest = match.reverse();
      const start = q.cursor ? Number(q.cursor) : 0;
      const page = newest.slice(start, start + q.limit);
      return { messages: page, next: start + q.limit < newest.length ? String(start + q.limit) : null };
    },
    depth: () => 0,
    writable: () => true,
  };
}

function context(views: MessageView[] = [], s: ServeSettings = settings()): AppContext & { inbox: ReturnType<typeof arrayInbox>; set(next: ServeSettings): void } {
  const cfg = parseConfig(CONFIG, "/tmp/pp.toml");
  const inbox = arrayInbox(views);
  let current = s;
  const ctx = {
    config: () => cfg,
    settings: () => current,
    inbox,
    events: undefined as never,
    wake: () => {},
    reload: async () => ({ ok: true as const }),
    draining: () => false,
    logRequest: () => {},
    set(next: ServeSettings) { current = next; },
  };
  return ctx;
}

const BASE = "http://127.0.0.1:39270";

async function call(ctx: AppContext, path: string, init: RequestInit = {}): Promise<Response> {
  const req = new Request(BASE + path, init);
  const res = await pageRoute(req, new URL(req.url), ctx);
  if (!res) throw new Error(`${init.method ?? "GET"} ${path} is not a page`);
  return res;
}

const cookiesOf = (res: Response) => res.headers.getSetCookie();
const cookieNamed = (res: Response, name: string) => cookiesOf(res).find((c) => c.startsWith(`${name}=`));
const valueOf = (setCookie: string) => setCookie.slice(setCookie.indexOf("=") + 1).split(";")[0]!;

/** Logs in the way a browser does: GET the form, POST it back with its cookie. Returns the Cookie header to use. */
async function logIn(ctx: AppContext, token = TOKEN): Promise<string> {
  const form = await call(ctx, "/login");
  const nonce = valueOf(cookieNamed(form, "pp_login")!);
  const res = await call(ctx, "/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: `pp_login=${nonce}` },
    body: new URLSearchParams({ token, _login: nonce, next: "/send" }).toString(),
  });
  expect(res.status).toBe(303);
  return `pp_session=${valueOf(cookieNamed(res, "pp_session")!)}`;
}

const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

describe("login", () => {
  test("GET /send without a session redirects to the login page", async () => {
    const res = await call(context(), "/send");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2Fsend");
  });

  test("the session cookie is HttpOnly, SameSite=Strict, Path=/, holds no token, and is Secure only over HTTPS", async () => {
    const ctx = context();
    const form = await call(ctx, "/login");
    expect(form.status).toBe(200);
    const nonce = valueOf(cookieNamed(form, "pp_login")!);
    const post = (headers: Record<string, string>) => call(ctx, "/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: `pp_login=${nonce}`, ...headers },
      body: new URLSearchParams({ token: TOKEN, _login: nonce, next: "/log" }).toString(),
    });
    const res = await post({});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/log");
    const c = cookieNamed(res, "pp_session")!;
    expect(c).toContain("; HttpOnly");
    expect(c).toContain("; SameSite=Strict");
    expect(c).toContain("; Path=/");
    expect(c).not.toContain("Secure");
    expect(c).not.toContain(TOKEN);
    expect(valueOf(c).length).toBeGreaterThanOrEqual(40);
    const behindTls = await post({ "x-forwarded-proto": "https" });
    expect(cookieNamed(behindTls, "pp_session")!).toContain("; Secure");
  });

  test("a wrong token is refused and sets no session", async () => {
    const ctx = context();
    const form = await call(ctx, "/login");
    const nonce = valueOf(cookieNamed(form, "pp_login")!);
    const res = await call(ctx, "/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: `pp_login=${nonce}` },
      body: new URLSearchParams({ token: `${TOKEN}x`, _login: nonce }).toString(),
    });
    expect(res.status).toBe(401);
    expect(cookieNamed(res, "pp_session")).toBeUndefined();
    expect(await res.text()).toContain("Wrong token");
  });

  test("a login posted from another site (no login cookie) is refused even with the right token", async () => {
    const res = await call(context(), "/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: TOKEN, _login: "forged" }).toString(),
    });
    expect(res.status).toBe(403);
    expect(cookieNamed(res, "pp_session")).toBeUndefined();
  });

  test("next= cannot send the browser to another host", async () => {
    const ctx = context();
    for (const next of ["//evil.example/x", "https://evil.example/", "/\\evil.example"]) {
      const form = await call(ctx, "/login");
      const nonce = valueOf(cookieNamed(form, "pp_login")!);
      const res = await call(ctx, "/login", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: `pp_login=${nonce}` },
        body: new URLSearchParams({ token: TOKEN, _login: nonce, next }).toString(),
      });
      expect(res.headers.get("location")).toBe("/send");
    }
  });

  test("a session ends when a reload removes its token", async () => {
    const ctx = context();
    const cookie = await logIn(ctx);
    expect((await call(ctx, "/send", { headers: { cookie } })).status).toBe(200);
    ctx.set(settings({ tokens: ["another-token-0000000000"] }));
    expect((await call(ctx, "/send", { headers: { cookie } })).status).toBe(303);
  });

  test("an anonymous daemon opens a session without a login form", async () => {
    const ctx = context([], settings({ tokens: [], allowAnonymous: true }));
    const res = await call(ctx, "/send");
    expect(res.status).toBe(200);
    expect(cookieNamed(res, "pp_session")).toContain("HttpOnly");
    // Without allow_anonymous, no token means no way in.
    expect(login("", [], false)).toBeNull();
  });
});

describe("CSRF", () => {
  test("csrfOk wants the session's token in X-Pp-Csrf or the form field", async () => {
    const s = login(TOKEN, [TOKEN], false)!;
    const req = (h: Record<string, string> = {}) => new Request(`${BASE}/api/text`, { method: "POST", headers: { cookie: `pp_session=${s.id}`, ...h } });
    expect(sessionOf(req())?.id).toBe(s.id);
    expect(csrfOk(req(), s)).toBe(false);
    expect(csrfOk(req(), s, "")).toBe(false);
    expect(csrfOk(req({ "x-pp-csrf": `${s.csrf}x` }), s)).toBe(false);
    expect(csrfOk(req(), s, s.id)).toBe(false);
    expect(csrfOk(req({ "x-pp-csrf": s.csrf }), s)).toBe(true);
    expect(csrfOk(req(), s, s.csrf)).toBe(true);
    // Another session's token does not do.
    const other = login(TOKEN, [TOKEN], false)!;
    expect(csrfOk(req({ "x-pp-csrf": other.csrf }), s)).toBe(false);
  });

  test("logout without the CSRF field is refused and the session lives on; with it, the session ends", async () => {
    const ctx = context();
    const cookie = await logIn(ctx);
    const page = await (await call(ctx, "/send", { headers: { cookie } })).text();
    const csrf = csrfIn(page);
    const form = (body: Record<string, string>) => call(ctx, "/logout", { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(body).toString() });
    expect((await form({})).status).toBe(403);
    expect((await form({ _csrf: "nope" })).status).toBe(403);
    expect((await call(ctx, "/send", { headers: { cookie } })).status).toBe(200);
    const out = await form({ _csrf: csrf });
    expect(out.status).toBe(303);
    expect(cookieNamed(out, "pp_session")).toContain("Max-Age=0");
    expect((await call(ctx, "/send", { headers: { cookie } })).status).toBe(303);
  });

  test("every form on the pages carries the CSRF token; scripts and styles carry the response's CSP nonce", async () => {
    const v = view({ title: "t", status: "failed", error: "boom" });
    const ctx = context([v]);
    const cookie = await logIn(ctx);
    for (const path of ["/send", "/log", `/log/${v.id}`]) {
      const res = await call(ctx, path, { headers: { cookie } });
      const html = await res.text();
      const nonce = /script-src 'nonce-([^']+)'/.exec(res.headers.get("content-security-policy")!)![1]!;
      const posts = html.match(/<form[^>]*method="post"[^>]*>[\s\S]*?<\/form>/g) ?? [];
      expect(posts.length).toBeGreaterThan(0);
      for (const f of posts) expect(f).toContain(`name="_csrf" value="`);
      for (const tag of html.match(/<(script|style)[^>]*>/g) ?? []) expect(tag).toContain(`nonce="${nonce}"`);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    }
  });
});

describe("what pages show", () => {
  test("no page shows a token or a channel's secret, even when the store holds one", async () => {
    const leaky = view({
      title: "deploy",
      status: "failed",
      error: `bad key ${WECOM_KEY}`,
      response: `{"errmsg":"invalid webhook url https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}","sign":"${FEISHU_SECRET}","t":"${TOKEN}"}`,
      text: `see hooks.slack.com/services/${SLACK_PATH}`,
    });
    // The list cuts long texts and errors; the cut falls inside the key, whose head must not be left showing.
    const long = view({ title: "long", status: "failed", text: `${"x".repeat(130)}${WECOM_KEY}`, error: `${"e".repeat(90)}${WECOM_KEY}` });
    const ctx = context([leaky, long]);
    const cookie = await logIn(ctx);
    const pages = [
      await call(ctx, "/login"),
      await call(ctx, "/send", { headers: { cookie } }),
      await call(ctx, "/log", { headers: { cookie } }),
      await call(ctx, `/log/${leaky.id}`, { headers: { cookie } }),
      await call(ctx, "/logout", { headers: { cookie } }),
      await call(ctx, "/log/unknown", { headers: { cookie } }),
    ];
    for (const res of pages) {
      const html = await res.text();
      for (const secret of [TOKEN, WECOM_KEY, FEISHU_SECRET, SLACK_PATH]) expect(html).not.toContain(secret);
      expect(html).not.toContain(WECOM_KEY.slice(0, 8));
      for (const c of cookiesOf(res)) expect(c).not.toContain(TOKEN);
    }
    // The redaction is what hid them: the rest of the answer is there.
    const detail = await (await call(ctx, `/log/${leaky.id}`, { headers: { cookie } })).text();
    expect(detail).toContain("invalid webhook url");
    expect(detail).toContain("***");
  });

  test("a hostile title, text, error and answer are escaped everywhere", async () => {
    const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>'`;
    const v = view({ title: evil, text: `${evil}\n&amp;`, status: "failed", error: evil, response: evil });
    const ctx = context([v]);
    const cookie = await logIn(ctx);
    for (const path of ["/log", `/log/${v.id}`, `/log?channel=${encodeURIComponent(evil)}&since=${encodeURIComponent(evil)}`, `/log/${encodeURIComponent(evil)}`]) {
      const html = await (await call(ctx, path, { headers: { cookie } })).text();
      expect(html).not.toContain("<script>alert");
      expect(html).not.toContain("<img");
      // Every occurrence of the payload is the escaped one.
      expect(html).toContain("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
      expect(html.split("alert(1)").length).toBe(html.split("&lt;script&gt;alert(1)").length);
    }
    const detail = await (await call(ctx, `/log/${v.id}`, { headers: { cookie } })).text();
    expect(detail).toContain("&amp;amp;");
    expect(detail).toContain("&quot;&gt;&lt;script&gt;");
  });

  test("the send page lists every channel and group as a checkbox, the default ones ticked", async () => {
    const ctx = context();
    const cookie = await logIn(ctx);
    const html = await (await call(ctx, "/send", { headers: { cookie } })).text();
    for (const name of ["ops", "lark", "team", "all"]) expect(html).toContain(`name="channels" value="${name}"`);
    expect(html).toMatch(/value="ops" checked/);
    expect(html).not.toMatch(/value="lark" checked/);
    expect(html).toContain('<meta name="viewport"');
    expect(html).toContain('action="/api/text"');
  });

  test("/log/{id} shows every attempt with the platform's answer and a Replay form posting to the API", async () => {
    const v = view({ status: "failed", error: "errcode 93000", response: '{"errcode":93000,"errmsg":"invalid webhook url"}' });
    const ctx = context([v]);
    const cookie = await logIn(ctx);
    const html = await (await call(ctx, `/log/${v.id}`, { headers: { cookie } })).text();
    expect(html).toContain("errcode 93000");
    expect(html).toContain("&quot;errmsg&quot;:&quot;invalid webhook url&quot;");
    expect(html).toContain(`action="/api/messages/${v.id}/replay"`);
    expect((await call(ctx, "/log/01KNOSUCHMESSAGE", { headers: { cookie } })).status).toBe(404);
  });
});

describe("the log", () => {
  test("pages newest first through every message with the cursor, each exactly once", async () => {
    const views = Array.from({ length: 123 }, (_, i) => view({ title: `m${i}`, status: i % 3 ? "delivered" : "failed" }));
    const ctx = context(views);
    const cookie = await logIn(ctx);
    const seen: string[] = [];
    let path: string | null = "/log";
    let pages = 0;
    while (path) {
      const html = await (await call(ctx, path, { headers: { cookie } })).text();
      seen.push(...[...html.matchAll(/<strong>(m\d+)<\/strong>/g)].map((m) => m[1]!));
      const older = /<a href="([^"]+)" rel="next">/.exec(html);
      path = older ? older[1]!.replaceAll("&amp;", "&") : null;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(views.map((_, i) => `m${i}`).reverse());
  });

  test("filters go to the store and stay in the paging links; a bad filter is a 400 page, not a query", async () => {
    const views = Array.from({ length: 60 }, (_, i) => view({ title: `m${i}`, status: "failed", channel: "lark" }));
    const ctx = context(views);
    const cookie = await logIn(ctx);
    const res = await call(ctx, "/log?status=failed&channel=lark&since=2d", { headers: { cookie } });
    expect(res.status).toBe(200);
    const q = ctx.inbox.queries.at(-1)!;
    expect(q.status).toBe("failed");
    expect(q.channel).toBe("lark");
    expect(Date.now() - q.since!).toBeGreaterThanOrEqual(2 * 86_400_000 - 60_000);
    expect(await res.text()).toMatch(/href="\/log\?status=failed&amp;channel=lark&amp;since=2d&amp;cursor=50" rel="next"/);
    const before = ctx.inbox.queries.length;
    expect((await call(ctx, "/log?status=bogus", { headers: { cookie } })).status).toBe(400);
    expect((await call(ctx, "/log?since=yesterday-ish", { headers: { cookie } })).status).toBe(400);
    expect(ctx.inbox.queries.length).toBe(before);
  });

  test("since accepts durations, ISO-8601 and epoch ms", () => {
    const now = 1_800_000_000_000;
    expect(sinceMs("1h", now)).toBe(now - 3_600_000);
    expect(sinceMs("2026-11-01T00:00:00Z", now)).toBe(Date.UTC(2026, 10, 1));
    expect(sinceMs("1790000000000", now)).toBe(1_790_000_000_000);
    expect(typeof sinceMs("soon", now)).toBe("string");
  });

  test("a method a page does not answer is 405 with Allow; POST /send is not a page", async () => {
    const ctx = context();
    const res = await call(ctx, "/log", { method: "PUT" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    const req = new Request(`${BASE}/send`, { method: "POST" });
    expect(await pageRoute(req, new URL(req.url), ctx)).toBeNull();
    const other = new Request(`${BASE}/api/text`);
    expect(await pageRoute(other, new URL(other.url), ctx)).toBeNull();
  });
});

describe("the log over the real queue", () => {
  test("pages through the store's messages newest first, each once, through the app", async () => {
    const { harness, jsonBody } = await import("./_api.ts");
    const x = harness();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 57; i++) {
        const r = await x.call("/api/text", jsonBody({ msg: `n${i}`, title: `q${i}`, channels: [i % 2 ? "ops" : "team"] }));
        ids.push(r.body.id);
      }
      const s = login(x.settings.tokens[0]!, x.settings.tokens, false)!;
      const seen: string[] = [];
      let path: string | null = "/log?limit=20";
      while (path) {
        const r = await x.call(path, { headers: { cookie: `pp_session=${s.id}` } });
        expect(r.status).toBe(200);
        seen.push(...[...r.text.matchAll(/<strong>(q\d+)<\/strong>/g)].map((m) => m[1]!));
        const older = /<a href="([^"]+)" rel="next">/.exec(r.text);
        path = older ? older[1]!.replaceAll("&amp;", "&") : null;
      }
      expect(seen).toEqual(ids.map((_, i) => `q${i}`).reverse());
      const team = await x.call("/log?channel=team", { headers: { cookie: `pp_session=${s.id}` } });
      const titles = [...team.text.matchAll(/<strong>(q\d+)<\/strong>/g)].map((m) => Number(m[1]!.slice(1)));
      expect(titles.length).toBe(29);
      expect(titles.every((n) => n % 2 === 0)).toBe(true);
    } finally {
      x.close();
    }
  });
});
