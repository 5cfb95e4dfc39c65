import { parseDuration } from "../../channels/_common.ts";
import type { MessageQuery } from "../../core/ports.ts";
import { redactor, secretsOf } from "../../core/redact.ts";
import type { MessageView } from "../../store/view.ts";
import type { AppContext } from "../context.ts";
import {
  clearLoginCookie, clearSessionCookie, CSRF_FIELD, csrfOk, isHttps, login, loginCookie, loginNonceOk, logout,
  newLoginNonce, type Session, sessionCookie, sessionOf,
} from "../session.ts";

/**
 * The pages for people: /login, /logout, /send and /log. Rendered on the server from the same store the API reads;
 * every value is escaped (and redacted with the config's secrets) where it is written into HTML, and a strict
 * Content-Security-Policy with a per-response nonce keeps anything that slipped through from running.
 * The little JavaScript there is only talks to pp's own API.
 */

/** Statuses a delivery can have, in the order the filter lists them. */
const STATUSES = ["queued", "pending", "delivered", "failed", "uncertain", "expired"] as const;
const SINCE_CHOICES = ["1h", "24h", "7d", "30d"];
const PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 200;
/** Login and logout forms are a few hundred bytes. */
const MAX_FORM_BYTES = 16 * 1024;

type Status = (typeof STATUSES)[number];

export async function pageRoute(req: Request, url: URL, ctx: AppContext): Promise<Response | null> {
  const path = url.pathname;
  const method = req.method === "HEAD" ? "GET" : req.method;
  if (path === "/login") {
    if (method === "GET") return loginPage(req, url, ctx);
    if (method === "POST") return loginPost(req, ctx);
    return notAllowed("GET, HEAD, POST");
  }
  if (path === "/logout") {
    if (method === "GET") return logoutPage(req, ctx);
    if (method === "POST") return logoutPost(req, ctx);
    return notAllowed("GET, HEAD, POST");
  }
  // POST /send and friends are the MsgFlow/pushplus API, not a page.
  if (path === "/send") return method === "GET" ? withSession(req, url, ctx, sendPage) : null;
  if (path === "/log" || path === "/log/") {
    return method === "GET" ? withSession(req, url, ctx, logPage) : notAllowed("GET, HEAD");
  }
  if (path.startsWith("/log/") && path.indexOf("/", 5) < 0) {
    return method === "GET" ? withSession(req, url, ctx, detailPage) : notAllowed("GET, HEAD");
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions around pages

interface View {
  req: Request;
  url: URL;
  ctx: AppContext;
  session: Session;
  nonce: string;
  /** Escapes text that came from the store or the config, after hiding any secret the config knows. */
  t: (s: unknown) => string;
  /** Hides secrets without escaping: for text that is cut before it is written (cut first, a secret's head could stay). */
  hide: (s: string) => string;
}

type Render = (v: View) => Response;

function withSession(req: Request, url: URL, ctx: AppContext, render: Render): Response {
  const settings = ctx.settings();
  let session = sessionOf(req, settings.tokens);
  let setCookie: string | undefined;
  if (!session && settings.tokens.length === 0 && settings.allowAnonymous) {
    // An anonymous daemon has nothing to log in with; the session still gives forms their CSRF token.
    session = login("", [], true);
    if (session) setCookie = sessionCookie(session, isHttps(req));
  }
  if (!session) return redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`);
  const hide = pageRedactor(ctx);
  const res = render({ req, url, ctx, session, nonce: newNonce(), hide, t: (s) => esc(hide(s === null || s === undefined ? "" : String(s))) });
  if (setCookie) res.headers.append("set-cookie", setCookie);
  return res;
}

function pageRedactor(ctx: AppContext): (s: string) => string {
  const cfg = ctx.config();
  return redactor([...secretsOf(cfg.channels.values()), ...ctx.settings().tokens]);
}

function safeNext(n: string | null | undefined): string {
  // Only a path on this server: "//host" and "/\host" would leave it.
  if (!n || !n.startsWith("/") || n.startsWith("//") || n.startsWith("/\\")) return "/send";
  return n;
}

function loginPage(req: Request, url: URL, ctx: AppContext): Response {
  const settings = ctx.settings();
  const next = safeNext(url.searchParams.get("next"));
  if (sessionOf(req, settings.tokens)) return redirect(next);
  const secure = isHttps(req);
  if (settings.tokens.length === 0 && settings.allowAnonymous) {
    const s = login("", [], true)!;
    return redirect(next, [sessionCookie(s, secure)]);
  }
  return loginForm(next, secure, 200, "");
}

/** The login form again, refused with 429 and Retry-After while the address has failed to log in too often. */
export function loginThrottled(req: Request, url: URL, waitMs: number): Response {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const res = loginForm(safeNext(url.searchParams.get("next")), isHttps(req), 429, `Too many wrong tokens from this address. Try again in ${seconds} s.`);
  res.headers.set("retry-after", String(seconds));
  return res;
}

function loginForm(next: string, secure: boolean, status: number, problem: string): Response {
  const nonce = newNonce();
  const loginNonce = newLoginNonce();
  const body = `<h1>Log in</h1>
${problem ? `<p class="problem" role="alert">${esc(problem)}</p>` : ""}
<form method="post" action="/login" class="stack">
<input type="hidden" name="_login" value="${esc(loginNonce)}">
<input type="hidden" name="next" value="${esc(next)}">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
</form>
<p class="hint">The token is one of <code>[serve] tokens</code> in pp's config.</p>`;
  return html(layout("Log in", body, nonce, null), nonce, status, [loginCookie(loginNonce, secure)]);
}

async function loginPost(req: Request, ctx: AppContext): Promise<Response> {
  const secure = isHttps(req);
  const form = await readForm(req);
  if (form instanceof Response) return form;
  const next = safeNext(form.get("next"));
  if (!loginNonceOk(req, form.get("_login") ?? undefined)) {
    return loginForm(next, secure, 403, "This login form has expired or came from another site. Please try again.");
  }
  const settings = ctx.settings();
  const s = login(form.get("token") ?? "", settings.tokens, settings.allowAnonymous);
  if (!s) return loginForm(next, secure, 401, "Wrong token.");
  return redirect(next, [sessionCookie(s, secure), clearLoginCookie(secure)]);
}

function logoutPage(req: Request, ctx: AppContext): Response {
  const session = sessionOf(req, ctx.settings().tokens);
  if (!session) return redirect("/login");
  const nonce = newNonce();
  const body = `<h1>Log out</h1>
<form method="post" action="/logout"><input type="hidden" name="${CSRF_FIELD}" value="${esc(session.csrf)}"><button type="submit">Log out</button></form>`;
  return html(layout("Log out", body, nonce, session), nonce);
}

async function logoutPost(req: Request, ctx: AppContext): Promise<Response> {
  const secure = isHttps(req);
  const session = sessionOf(req, ctx.settings().tokens);
  if (!session) return redirect("/login", [clearSessionCookie(secure)]);
  const form = await readForm(req);
  if (form instanceof Response) return form;
  if (!csrfOk(req, session, form.get(CSRF_FIELD) ?? undefined)) return problemPage(403, "Refused", "This request did not come from one of pp's pages.");
  logout(session);
  return redirect("/login", [clearSessionCookie(secure)]);
}

/** A small urlencoded form, read with a size bound (the login and logout forms only). */
async function readForm(req: Request): Promise<URLSearchParams | Response> {
  const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return problemPage(415, "Unsupported form", "Send the form from pp's page.");
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_FORM_BYTES) return problemPage(413, "Too large", "The form is larger than a login form can be.");
  if (!req.body) return new URLSearchParams();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_FORM_BYTES) {
      await reader.cancel().catch(() => {});
      return problemPage(413, "Too large", "The form is larger than a login form can be.");
    }
    chunks.push(value);
  }
  return new URLSearchParams(new TextDecoder().decode(Buffer.concat(chunks)));
}

// ---------------------------------------------------------------------------------------------------------------
// /send

function sendPage(v: View): Response {
  const cfg = v.ctx.config();
  const defaults = new Set(v.ctx.settings().channels);
  const boxes: string[] = [];
  let i = 0;
  const box = (name: string, kind: string) => {
    const id = `ch-${i++}`;
    boxes.push(`<label class="check" for="${id}"><input type="checkbox" id="${id}" name="channels" value="${v.t(name)}"${defaults.has(name) ? " checked" : ""}> ${v.t(name)}${kind ? ` <small>${kind}</small>` : ""}</label>`);
  };
  for (const [name, target] of cfg.channels) box(name, v.t(target.def.type));
  for (const name of cfg.groups.keys()) box(name, "group");
  const body = `<h1>Send</h1>
<form id="send" method="post" action="/api/text" class="stack">
<input type="hidden" name="${CSRF_FIELD}" value="${esc(v.session.csrf)}">
<fieldset><legend>Channels</legend>
${boxes.length ? boxes.join("\n") : `<p class="hint">No channels are configured.</p>`}
<p class="hint">None ticked: the daemon's default channels.</p>
</fieldset>
<label>Title <input name="title" maxlength="500"></label>
<label>Format <select name="format"><option value="text">text</option><option value="markdown">markdown</option></select></label>
<label>Text <textarea name="text" rows="7" required></textarea></label>
<button type="submit">Send</button>
</form>
<section id="result" aria-live="polite" hidden>
<p id="state"></p>
<ul id="deliveries" class="deliveries"></ul>
</section>
<script nonce="${v.nonce}">${SEND_JS}</script>`;
  return html(layout("Send", body, v.nonce, v.session), v.nonce);
}

/** Shared by /send and /log/{id}: shows each delivery's status as the API reports it. */
const SHOW_JS = `const FINAL=new Set(["delivered","failed","uncertain","expired"]);
function el(tag,cls,text){const e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined)e.textContent=text;return e}
function link(id){const a=el("a","",id);a.href="/log/"+encodeURIComponent(id);return a}
function show(list,ds){list.replaceChildren(...ds.map(d=>{const li=el("li");li.append(el("span","ch",d.channel)," ",el("span","st st-"+d.status,d.status));if(d.attempts)li.append(el("small",""," "+d.attempts+(d.attempts===1?" attempt":" attempts")));if(d.error)li.append(el("div","err",d.error));return li}))}`;

const SEND_JS = `(()=>{${SHOW_JS}
const f=document.getElementById("send"),box=document.getElementById("result"),state=document.getElementById("state"),list=document.getElementById("deliveries"),csrf=f.elements["${CSRF_FIELD}"].value;let gen=0;
async function poll(id,g,n){if(g!==gen)return;try{const r=await fetch("/api/messages/"+encodeURIComponent(id),{credentials:"same-origin"});const j=await r.json();if(g!==gen)return;if(j.code==="ok"){const ds=j.data.deliveries;show(list,ds);if(ds.length&&ds.every(d=>FINAL.has(d.status)))return}}catch(e){}if(n<900)setTimeout(()=>poll(id,g,n+1),n<60?1000:5000)}
f.addEventListener("submit",async e=>{e.preventDefault();const g=++gen,btn=f.querySelector("button[type=submit]");btn.disabled=true;box.hidden=false;list.replaceChildren();state.textContent="Sending…";
const body={text:f.elements.text.value,format:f.elements.format.value},title=f.elements.title.value,ch=[...f.querySelectorAll("input[name=channels]:checked")].map(i=>i.value);if(title)body.title=title;if(ch.length)body.channels=ch;
try{const r=await fetch("/api/text",{method:"POST",credentials:"same-origin",headers:{"content-type":"application/json","x-pp-csrf":csrf},body:JSON.stringify(body)});let j;try{j=await r.json()}catch(x){j={msg:"HTTP "+r.status}}
if(j.code!=="ok"){state.textContent="Refused: "+(j.msg||("HTTP "+r.status));return}state.replaceChildren("Queued as ",link(j.id));poll(j.id,g,0)}catch(x){state.textContent="Could not reach pp: "+x.message}finally{btn.disabled=false}})})();`;

// ---------------------------------------------------------------------------------------------------------------
// /log

interface Filters { status: string; channel: string; since: string; cursor: string; limit: number }

function readFilters(url: URL): Filters {
  const p = url.searchParams;
  const limit = Number(p.get("limit") ?? PAGE_SIZE);
  return {
    status: p.get("status") ?? "",
    channel: p.get("channel") ?? "",
    since: p.get("since") ?? "",
    cursor: p.get("cursor") ?? "",
    limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, MAX_PAGE_SIZE) : PAGE_SIZE,
  };
}

/** "1h", "2d", an ISO-8601 time or epoch ms -> unix ms; a string saying what is wrong otherwise. */
export function sinceMs(s: string, now = Date.now()): number | string {
  if (/^\d{10,}$/.test(s)) return Number(s);
  try {
    const ago = parseDuration(s);
    if (Number.isFinite(ago)) return Math.max(0, now - ago);
  } catch {}
  const t = Date.parse(s);
  return Number.isNaN(t) ? `"${s}" is not a time: use 1h, 2d, 30m or an ISO-8601 time` : t;
}

function logPage(v: View): Response {
  const f = readFilters(v.url);
  const q: MessageQuery = { limit: f.limit };
  const problems: string[] = [];
  if (f.status) {
    if ((STATUSES as readonly string[]).includes(f.status)) q.status = f.status as Status;
    else problems.push(`unknown status "${f.status}"`);
  }
  if (f.channel) q.channel = f.channel;
  if (f.since) {
    const ms = sinceMs(f.since);
    if (typeof ms === "number") q.since = ms;
    else problems.push(ms);
  }
  if (f.cursor) q.cursor = f.cursor;

  let rows: MessageView[] = [];
  let next: string | null = null;
  let status = problems.length ? 400 : 200;
  if (!problems.length) {
    try {
      const page = v.ctx.inbox.messages(q);
      rows = page.messages;
      next = page.next;
    } catch (e) {
      status = 503;
      problems.push(`the push log cannot be read: ${(e as Error).message}`);
    }
  }

  const body = `<h1>Push log</h1>
${filterForm(v, f)}
${problems.map((p) => `<p class="problem" role="alert">${v.t(p)}</p>`).join("\n")}
${rows.length ? `<ol class="log">\n${rows.map((m) => logRow(v, m)).join("\n")}\n</ol>` : problems.length ? "" : `<p class="hint">No messages${f.status || f.channel || f.since ? " match these filters" : " yet"}.</p>`}
<nav class="pager">${f.cursor ? `<a href="${esc(logHref(f, ""))}">Newest</a>` : ""}${next ? `<a href="${esc(logHref(f, next))}" rel="next">Older</a>` : ""}</nav>
<script nonce="${v.nonce}">${TIME_JS}</script>`;
  return html(layout("Log", body, v.nonce, v.session), v.nonce, status);
}

function logHref(f: Filters, cursor: string): string {
  const p = new URLSearchParams();
  if (f.status) p.set("status", f.status);
  if (f.channel) p.set("channel", f.channel);
  if (f.since) p.set("since", f.since);
  if (f.limit !== PAGE_SIZE) p.set("limit", String(f.limit));
  if (cursor) p.set("cursor", cursor);
  const s = p.toString();
  return s ? `/log?${s}` : "/log";
}

function filterForm(v: View, f: Filters): string {
  const opt = (value: string, label: string, selected: boolean) => `<option value="${v.t(value)}"${selected ? " selected" : ""}>${v.t(label)}</option>`;
  const channels = [...v.ctx.config().channels.keys()];
  if (f.channel && !channels.includes(f.channel)) channels.push(f.channel);
  const since = [...SINCE_CHOICES];
  if (f.since && !since.includes(f.since)) since.push(f.since);
  return `<form method="get" action="/log" class="filters">
<label>Status <select name="status">${opt("", "any", !f.status)}${STATUSES.map((s) => opt(s, s, f.status === s)).join("")}</select></label>
<label>Channel <select name="channel">${opt("", "any", !f.channel)}${channels.map((c) => opt(c, c, f.channel === c)).join("")}</select></label>
<label>Since <select name="since">${opt("", "any time", !f.since)}${since.map((s) => opt(s, s.replace(/^(\d+)h$/, "last $1 h").replace(/^(\d+)d$/, "last $1 days"), f.since === s)).join("")}</select></label>
<button type="submit">Filter</button>
</form>`;
}

function logRow(v: View, m: MessageView): string {
  const text = esc(cut(v.hide(m.text), 140));
  const chips = (m.deliveries ?? []).map((d) => {
    const why = d.error && d.status !== "delivered" ? ` <small class="err">${esc(cut(v.hide(d.error), 100))}</small>` : "";
    return `<span class="chip"><span class="ch">${v.t(d.channel)}</span> <span class="st st-${statusClass(d.status)}">${v.t(d.status)}</span>${why}</span>`;
  }).join(" ");
  return `<li><a href="/log/${encodeURIComponent(m.id)}"><span class="meta">${timeTag(v, m.created_at)} <code>${v.t(m.id.slice(-8))}</code>${m.source === "replay" || m.replay_of ? " <small>replay</small>" : ""}</span>
<span class="title">${m.title ? `<strong>${v.t(m.title)}</strong> ` : ""}<span class="text">${text}</span></span></a>
<span class="chips">${chips}</span></li>`;
}

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  // By code point: a cut through a surrogate pair would leave half a character.
  return `${Array.from(s).slice(0, max).join("")}…`;
}

function statusClass(s: string): string {
  return (STATUSES as readonly string[]).includes(s) ? s : "other";
}

function timeTag(v: View, iso: string): string {
  return `<time datetime="${v.t(iso)}">${v.t(iso.replace("T", " ").replace(/\.\d+Z$/, "Z"))}</time>`;
}

/** Shows times in the reader's own zone; without JavaScript they stay in UTC. */
const TIME_JS = `for(const t of document.querySelectorAll("time[datetime]")){const d=new Date(t.dateTime);if(!isNaN(d))t.textContent=d.toLocaleString()}`;

// ---------------------------------------------------------------------------------------------------------------
// /log/{id}

function detailPage(v: View): Response {
  let id: string;
  try {
    id = decodeURIComponent(v.url.pathname.slice("/log/".length));
  } catch {
    return problemPage(404, "Not found", "No such message.", v);
  }
  if (!id || id.length > 64) return problemPage(404, "Not found", "No such message.", v);
  let m: MessageView | null;
  try {
    m = v.ctx.inbox.message(id);
  } catch (e) {
    return problemPage(503, "Unavailable", `The push log cannot be read: ${(e as Error).message}`, v);
  }
  if (!m) return problemPage(404, "Not found", `No message ${id} in the push log.`, v);

  const extra = m as MessageView & { expires_at?: string | number | null; request_id?: string | null; callback?: Record<string, unknown> | null };
  const facts: [string, string][] = [
    ["Id", `<code>${v.t(m.id)}</code>`],
    ["Created", timeTag(v, m.created_at)],
    ["Source", v.t(m.source)],
    ["Format", v.t(m.format)],
  ];
  if (m.replay_of) facts.push(["Replay of", `<a href="/log/${encodeURIComponent(m.replay_of)}"><code>${v.t(m.replay_of)}</code></a>`]);
  if (extra.expires_at !== undefined && extra.expires_at !== null) facts.push(["Expires", v.t(extra.expires_at)]);
  if (extra.request_id) facts.push(["Request id", `<code>${v.t(extra.request_id)}</code>`]);
  // The callback URL is the client's and may carry its credentials: only what happened to the callback is shown.
  if (extra.callback && typeof extra.callback === "object") {
    const c = extra.callback;
    facts.push(["Callback", v.t([c.status, c.http_status ? `HTTP ${c.http_status}` : "", c.attempts ? `${c.attempts} attempts` : "", c.error].filter(Boolean).join(" · "))]);
  }
  const channels = [...new Set(m.deliveries.map((d) => d.channel))];
  const body = `<h1>${m.title ? v.t(m.title) : "Message"}</h1>
<dl class="facts">${facts.map(([k, val]) => `<dt>${k}</dt><dd>${val}</dd>`).join("")}</dl>
<pre class="text">${v.t(m.text)}</pre>
<h2>Deliveries</h2>
${m.deliveries.map((d) => delivery(v, d)).join("\n")}
<h2>Replay</h2>
<form id="replay" method="post" action="/api/messages/${encodeURIComponent(m.id)}/replay" class="stack">
<input type="hidden" name="${CSRF_FIELD}" value="${esc(v.session.csrf)}">
<p class="hint">Sends again what was not delivered. Tick a channel to send to it again even if it was delivered.</p>
<fieldset><legend>Channels</legend>${channels.map((c, i) => `<label class="check" for="rc-${i}"><input type="checkbox" id="rc-${i}" name="channels" value="${v.t(c)}"> ${v.t(c)}</label>`).join("\n")}
<label class="check" for="rc-uncertain"><input type="checkbox" id="rc-uncertain" name="uncertain" value="1"> also what may have arrived (uncertain)</label></fieldset>
<button type="submit">Replay</button>
</form>
<section id="replayed" aria-live="polite" hidden><p id="rstate"></p><ul id="rdeliveries" class="deliveries"></ul></section>
<script nonce="${v.nonce}">${TIME_JS}
${REPLAY_JS}</script>`;
  return html(layout(m.title ? `Message ${m.id.slice(-8)}` : "Message", body, v.nonce, v.session), v.nonce);
}

type DeliveryView = MessageView["deliveries"][number] & { possible_duplicate?: number | boolean; due_at?: string | number | null };

function delivery(v: View, d: DeliveryView): string {
  const facts: [string, string][] = [
    ["Type", v.t(d.type)],
    ["Target", `<code>${v.t(d.target)}</code>`],
    ["Attempts", v.t(d.attempts)],
    ["Parts", v.t(d.parts)],
  ];
  if (d.latency_ms !== null && d.latency_ms !== undefined) facts.push(["Latency", `${v.t(d.latency_ms)} ms`]);
  if (d.due_at) facts.push(["Due", v.t(d.due_at)]);
  if (d.possible_duplicate) facts.push(["Note", "sent again after a crash: may have arrived twice"]);
  if (d.error) facts.push(["Error", `<span class="err">${v.t(d.error)}</span>`]);
  facts.push(["Updated", timeTag(v, d.updated_at)]);
  const attempts = d.attempts_log ?? [];
  const table = attempts.length
    ? `<div class="scroll"><table><thead><tr><th>#</th><th>Part</th><th>Started</th><th>Latency</th><th>HTTP</th><th>Outcome</th><th>Error</th><th>Platform's answer</th></tr></thead><tbody>
${attempts.map((a) => `<tr><td>${v.t(a.attempt)}</td><td>${v.t(a.part)}</td><td>${timeTag(v, a.started_at)}</td><td>${a.latency_ms === null || a.latency_ms === undefined ? "" : `${v.t(a.latency_ms)} ms`}</td><td>${v.t(a.http_status ?? "")}</td><td>${v.t(a.outcome)}</td><td>${v.t(a.error ?? "")}</td><td>${a.response ? `<pre class="answer">${v.t(a.response)}</pre>` : ""}</td></tr>`).join("\n")}
</tbody></table></div>`
    : `<p class="hint">No attempt yet.</p>`;
  return `<section class="delivery"><h3>${v.t(d.channel)} <span class="st st-${statusClass(d.status)}">${v.t(d.status)}</span></h3>
<dl class="facts">${facts.map(([k, val]) => `<dt>${k}</dt><dd>${val}</dd>`).join("")}</dl>
${table}</section>`;
}

const REPLAY_JS = `(()=>{${SHOW_JS}
const f=document.getElementById("replay"),box=document.getElementById("replayed"),state=document.getElementById("rstate"),list=document.getElementById("rdeliveries"),csrf=f.elements["${CSRF_FIELD}"].value;let gen=0;
async function poll(id,g,n){if(g!==gen)return;try{const r=await fetch("/api/messages/"+encodeURIComponent(id),{credentials:"same-origin"});const j=await r.json();if(g!==gen)return;if(j.code==="ok"){const ds=j.data.deliveries;show(list,ds);if(ds.length&&ds.every(d=>FINAL.has(d.status)))return}}catch(e){}if(n<900)setTimeout(()=>poll(id,g,n+1),n<60?1000:5000)}
f.addEventListener("submit",async e=>{e.preventDefault();const g=++gen,btn=f.querySelector("button[type=submit]");btn.disabled=true;box.hidden=false;list.replaceChildren();state.textContent="Replaying…";
const body={},ch=[...f.querySelectorAll("input[name=channels]:checked")].map(i=>i.value);if(ch.length)body.channels=ch;if(f.elements.uncertain.checked)body.uncertain=true;
try{const r=await fetch(f.getAttribute("action"),{method:"POST",credentials:"same-origin",headers:{"content-type":"application/json","x-pp-csrf":csrf},body:JSON.stringify(body)});let j;try{j=await r.json()}catch(x){j={msg:"HTTP "+r.status}}
if(j.code!=="ok"){state.textContent="Refused: "+(j.msg||("HTTP "+r.status));return}
const skipped=(j.skipped||[]).map(s=>s.channel+": "+s.reason);
if(j.id&&j.id!==j.replay_of){state.replaceChildren("Replayed as ",link(j.id),skipped.length?" (skipped "+skipped.join("; ")+")":"");poll(j.id,g,0)}else state.textContent=j.msg+(skipped.length?" ("+skipped.join("; ")+")":"")}catch(x){state.textContent="Could not reach pp: "+x.message}finally{btn.disabled=false}})})();`;

// ---------------------------------------------------------------------------------------------------------------
// HTML

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text and attribute values alike: every value written into a page goes through here. */
export function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function newNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
}

function layout(title: string, main: string, nonce: string, session: Session | null): string {
  const nav = session
    ? `<nav><a href="/send">Send</a><a href="/log">Log</a><a href="/swagger/">API</a><form method="post" action="/logout"><input type="hidden" name="${CSRF_FIELD}" value="${esc(session.csrf)}"><button type="submit" class="link">Log out</button></form></nav>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · pp</title><link rel="icon" href="data:,"><style nonce="${nonce}">${CSS}</style></head>
<body><header><a class="brand" href="/send">pp</a>${nav}</header>
<main>
${main}
</main></body></html>`;
}

const CSS = `:root{color-scheme:light dark;--fg:#1b1d21;--bg:#fff;--mute:#667;--line:#d8dbe0;--accent:#2457c5;--ok:#18794e;--bad:#c4320a;--warn:#a15c00}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--bg:#15171a;--mute:#9aa;--line:#353a40;--accent:#7ea6ff;--ok:#4cc38a;--bad:#ff8266;--warn:#f0b35a}}
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
header nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}header form{margin:0}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}a{color:var(--accent)}
main{max-width:60rem;margin:0 auto;padding:1rem}h1{font-size:1.5rem;margin:.25rem 0 1rem}h2{font-size:1.2rem;margin-top:1.5rem}h3{font-size:1.05rem;margin:.2rem 0}
.stack{display:flex;flex-direction:column;gap:.8rem}label{display:flex;flex-direction:column;gap:.25rem;font-weight:600}
label.check{flex-direction:row;align-items:center;gap:.4rem;font-weight:400;padding:.2rem 0}
input,select,textarea,button{font:inherit;font-weight:400;color:inherit}input:not([type=checkbox]),select,textarea{padding:.5rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);width:100%}
fieldset{border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem;display:flex;flex-wrap:wrap;gap:0 1.2rem}legend{font-weight:600}
button{padding:.55rem 1.2rem;border:0;border-radius:6px;background:var(--accent);color:#fff;cursor:pointer;align-self:flex-start}button:disabled{opacity:.6}
button.link{background:none;color:var(--accent);padding:0;text-decoration:underline}
.hint{color:var(--mute);font-size:.9rem;margin:.25rem 0;width:100%}.problem{color:var(--bad);font-weight:600}.err{color:var(--bad);overflow-wrap:anywhere}
.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin-bottom:1rem}.filters label{flex:1 1 9rem}.filters button{align-self:flex-end}
.log{list-style:none;margin:0;padding:0}.log li{border-bottom:1px solid var(--line);padding:.6rem 0}.log a{display:block;text-decoration:none;color:inherit}
.log .meta{display:block;color:var(--mute);font-size:.85rem}.log .title{display:block;overflow-wrap:anywhere}.chips{display:flex;flex-wrap:wrap;gap:.3rem .8rem;margin-top:.25rem;font-size:.9rem}
.st{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.8rem;border:1px solid currentColor}
.st-delivered{color:var(--ok)}.st-failed,.st-expired{color:var(--bad)}.st-uncertain,.st-queued,.st-pending{color:var(--warn)}.st-other{color:var(--mute)}
.pager{display:flex;gap:1.5rem;margin:1rem 0}.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}.facts dt{color:var(--mute)}.facts dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0}pre.text{padding:.8rem;border:1px solid var(--line);border-radius:6px}pre.answer{font-size:.8rem;max-height:12rem;overflow:auto}
.delivery{border-top:1px solid var(--line);padding:.6rem 0}.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85rem;min-width:40rem}th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
.deliveries{padding-left:1.2rem}.deliveries li{margin:.3rem 0}.ch{font-weight:600}
@media (max-width:30rem){main{padding:.75rem}.facts{grid-template-columns:1fr}.facts dt{margin-top:.3rem}}`;

function securityHeaders(nonce: string): Record<string, string> {
  return {
    "content-type": "text/html; charset=utf-8",
    // Nothing but pp's own nonce-marked code runs, and fetch() only reaches pp itself.
    "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  };
}

function html(page: string, nonce: string, status = 200, cookies: string[] = []): Response {
  const headers = new Headers(securityHeaders(nonce));
  for (const c of cookies) headers.append("set-cookie", c);
  return new Response(page, { status, headers });
}

function redirect(location: string, cookies: string[] = []): Response {
  const headers = new Headers({ location, "cache-control": "no-store" });
  for (const c of cookies) headers.append("set-cookie", c);
  return new Response(null, { status: 303, headers });
}

function problemPage(status: number, title: string, text: string, v?: View): Response {
  const nonce = v?.nonce ?? newNonce();
  return html(layout(title, `<h1>${esc(title)}</h1><p>${v ? v.t(text) : esc(text)}</p>`, nonce, v?.session ?? null), nonce, status);
}

function notAllowed(allow: string): Response {
  const res = problemPage(405, "Method not allowed", `This page answers ${allow}.`);
  res.headers.set("allow", allow);
  return res;
}
