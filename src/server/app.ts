import { newId } from "../core/id.ts";
import { redactor, secretsOf } from "../core/redact.ts";
import { FailureGate, RateGate } from "./auth.ts";
import type { AppContext, RequestLine } from "./context.ts";
import { ApiError, errorAnswer, retryAfter, type Shape } from "./errors.ts";
import { getMessage, healthz, listMessages, metrics, postText, reload, replay, stats } from "./routes/api.ts";
import { isPush, sendRoute, sendTokenRoute, tokenRoute } from "./routes/compat.ts";
import { loginThrottled, pageRoute } from "./routes/pages.ts";
import { swaggerRoute } from "./routes/swagger.ts";
import type { Call } from "./submit.ts";

type Handler = (call: Call, params: Map<string, string>) => Promise<Response>;

interface Route {
  /** As the log line and the metrics show it: never the path itself, which may hold a token. */
  template: string;
  segments: string[];
  methods: Map<string, Handler>;
  shape: Shape;
}

/** HEAD is answered wherever GET is, as GET without a body (RFC 9110); a push by GET then queues nothing. */
const route = (template: string, methods: Record<string, Handler>, shape: Shape = "native"): Route => ({
  template, segments: template.split("/").slice(1), methods: new Map(Object.entries(methods)), shape,
});

/** GET /send without push parameters is the send page; with them, pushplus's push. */
const sendGet: Handler = async (call) => (isPush(call.url) ? sendRoute(call) : ((await pageRoute(call.req, call.url, call.ctx)) ?? sendRoute(call)));

const ROUTES: Route[] = [
  route("/healthz", { GET: healthz }),
  route("/metrics", { GET: metrics }),
  route("/api/text", { POST: postText }),
  route("/api/messages", { GET: listMessages }),
  route("/api/stats", { GET: stats }),
  route("/api/messages/:id", { GET: getMessage }),
  route("/api/messages/:id/replay", { POST: replay }),
  route("/-/reload", { POST: reload }),
  route("/send", { GET: sendGet, POST: sendRoute }, "compat"),
  route("/send/:token", { GET: sendTokenRoute, POST: sendTokenRoute, PUT: sendTokenRoute }, "compat"),
];

/** MsgFlow's token routes: any path of two or three segments that does not start with a reserved one. */
const TOKEN_ROUTES: Route[] = [
  route("/:token/:body", { GET: tokenRoute, POST: tokenRoute }, "compat"),
  route("/:token/:title/:body", { GET: tokenRoute, POST: tokenRoute }, "compat"),
];

/** First path segments that are pp's own and never read as a token. */
const RESERVED = new Set(["api", "swagger", "-", "send", "log", "healthz", "metrics", "login", "logout"]);

function match(r: Route, segments: string[]): Map<string, string> | null {
  if (r.segments.length !== segments.length) return null;
  const params = new Map<string, string>();
  for (let i = 0; i < segments.length; i++) {
    const want = r.segments[i]!;
    const got = segments[i]!;
    if (want.startsWith(":")) {
      if (got === "") return null;
      params.set(want.slice(1), got);
    } else if (want !== got) return null;
  }
  return params;
}

type Found = { route: Route; params: Map<string, string> } | { page: string } | null;

/**
 * The routes without parameters by their exact path, found without trying every route in turn; none of the routes
 * before them in ROUTES could match such a path. Their params are one empty map, which handlers only read.
 */
const NO_PARAMS: Map<string, string> = new Map();
/**
 * A request URL whose authority and path hold only characters that URL parsing leaves as they are, with the path
 * (up to the query) in group 1: for such a URL, the path is exactly what URL's pathname would be.
 */
const PLAIN_URL = /^https?:\/\/[A-Za-z0-9.:[\]-]+(\/[\w/-]*)(?:[?#]|$)/;
/**
 * The request's URL. Bun makes it from the Host header, and a malformed one (a bad port, a backslash) makes no URL;
 * only the path and the query matter here, so they are read on their own then.
 */
function parseUrl(href: string): URL {
  try {
    return new URL(href);
  } catch {
    const start = href.startsWith("/") ? 0 : href.indexOf("/", href.indexOf("//") + 2);
    return new URL(start === -1 ? "/" : href.slice(start).replace(/^\/+/, "/"), "http://host.invalid");
  }
}
const STATIC = new Map(ROUTES.filter((r) => !r.template.includes(":")).map((r) => [r.template, { route: r, params: NO_PARAMS }]));

function find(segments: string[]): Found {
  for (const r of ROUTES) {
    const params = match(r, segments);
    if (params) return { route: r, params };
  }
  const first = segments[0]!;
  if (!RESERVED.has(first)) {
    for (const r of TOKEN_ROUTES) {
      const params = match(r, segments);
      if (params) return { route: r, params };
    }
  }
  // Everything else may be a page (/log/..., /login) or nothing; its template names only the first segment.
  if (first === "api" || first === "-") return null;
  return { page: first === "" ? "/" : `/${RESERVED.has(first) ? first : ":path"}${segments.length > 1 ? "/*" : ""}` };
}

export interface AppOptions {
  /** The clock of rate limits and message ids (tests move it). */
  now?: () => number;
}

/**
 * The daemon's HTTP app: a Request (and the client's address, for anonymous rate limits) to a Response, with no
 * socket, so that tests call it directly. Every request gets an id, one log line and a metrics count; errors are
 * rendered from the catalogue in the route's shape, and nothing unexpected ever shows a stack.
 */
export function createApp(ctx: AppContext, o: AppOptions = {}): (req: Request, ip?: string) => Promise<Response> {
  const now = o.now ?? Date.now;
  const gate = new RateGate(now);
  const failures = new FailureGate(now);
  return async (req, ip) => {
    const started = performance.now();
    const at = now();
    const requestId = newId(at);
    let template = "*";
    let shape: Shape = "native";
    let logError: string | undefined;
    let res: Response;
    try {
      // A plain path to a route without parameters needs no URL parsing; the URL is made when a route asks for it.
      const plain = PLAIN_URL.exec(req.url)?.[1];
      let url: URL | undefined;
      const hit = plain === undefined ? undefined : STATIC.get(plain);
      let segments: string[];
      let found: Found;
      if (hit) {
        found = hit;
        segments = hit.route.segments;
      } else {
        url = parseUrl(req.url);
        segments = url.pathname.split("/").slice(1);
        found = STATIC.get(url.pathname) ?? find(segments);
      }
      if (found && "route" in found) {
        template = found.route.template;
        shape = found.route.shape;
      } else if (found) template = found.page;
      const call: Call = {
        ctx, req, requestId, at, ip, now, gate,
        get url() {
          return (url ??= parseUrl(req.url));
        },
      };
      res = await handle(call, found, segments, failures);
    } catch (e) {
      if (e instanceof ApiError) {
        res = errorAnswer(e, shape, requestId, (s) => hideSecrets(s, ctx));
        if (e.detail !== undefined) logError = describe(e.detail, ctx);
      } else {
        logError = describe(e, ctx);
        res = errorAnswer(new ApiError("internal", `internal error; the server log has the details under request ${requestId}`), shape, requestId);
      }
    }
    const method = req.method;
    const status = res.status;
    // A wrong token, a wrong login, a page request without its CSRF token: each counts against the address.
    if (status === 401) failures.failed(ip);
    if (method === "HEAD" && res.body !== null) res = new Response(null, { status, statusText: res.statusText, headers: res.headers });
    try {
      res.headers.set("X-Pp-Request-Id", requestId);
    } catch {}
    const line: RequestLine = { method, route: template, status, latencyMs: Math.round((performance.now() - started) * 1000) / 1000, requestId };
    if (logError !== undefined) line.error = logError;
    try {
      ctx.events.request(line);
      ctx.logRequest(line);
    } catch {}
    return res;
  };
}

async function handle(call: Call, found: Found, segments: string[], failures: FailureGate): Promise<Response> {
  const { ctx, req } = call;
  if (ctx.draining()) {
    if (segments.length === 1 && segments[0] === "healthz") return healthz(call);
    throw new ApiError("unavailable", "the server is shutting down; try again shortly", { "Retry-After": "5" });
  }
  if (found === null) throw new ApiError("not_found", "no such route");
  if (checksToken(call, found)) {
    const wait = failures.blockedFor(call.ip);
    if (wait > 0) {
      if ("page" in found) return loginThrottled(req, call.url, wait);
      throw new ApiError("resource_exhausted", `too many failed authentications from this address (${failures.max} in ${failures.windowMs / 1000}s); try again later`, retryAfter(wait));
    }
  }
  if ("page" in found) {
    if (segments.length === 1 && segments[0] === "" && (req.method === "GET" || req.method === "HEAD")) {
      return new Response(null, { status: 302, headers: { Location: "/send" } });
    }
    if (segments[0] === "swagger" && req.method !== "GET" && req.method !== "HEAD") {
      throw new ApiError("method_not_allowed", `${req.method.slice(0, 20)} is not allowed here; use GET, HEAD`, { Allow: "GET, HEAD" });
    }
    const page = segments[0] === "swagger" ? swaggerRoute(call.url) : await pageRoute(req, call.url, ctx);
    if (page) return page;
    throw new ApiError("not_found", "no such route");
  }
  const { route: r, params } = found;
  const handler = r.methods.get(req.method === "HEAD" ? "GET" : req.method);
  if (!handler) {
    const allow = [...r.methods.keys()].flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m])).join(", ");
    throw new ApiError("method_not_allowed", `${req.method.slice(0, 20)} is not allowed here; use ${allow}`, { Allow: allow });
  }
  return handler(call, params);
}

/**
 * Whether the request may check a token (or a login), and so is refused while its address has failed too often:
 * everything but what needs no token (health, open metrics, the pages' GETs, the API's document).
 */
function checksToken(call: Call, found: Exclude<Found, null>): boolean {
  if ("page" in found) return found.page === "/login" && call.req.method === "POST";
  switch (found.route.template) {
    case "/healthz":
      return false;
    case "/metrics":
      return call.ctx.settings().metricsAuth;
    case "/send":
      return call.req.method === "POST" || isPush(call.url);
    default:
      return true;
  }
}

/** An unexpected error for the log: its message only (no stack), with every token and channel secret hidden. */
function describe(e: unknown, ctx: AppContext): string {
  const text = (typeof e === "string" ? e : e instanceof Error ? `${e.name}: ${e.message}` : String(e)).replace(/\s+/g, " ").slice(0, 500);
  return hideSecrets(text, ctx);
}

function hideSecrets(text: string, ctx: AppContext): string {
  try {
    return redactor([...ctx.settings().tokens, ...secretsOf(ctx.config().channels.values())])(text);
  } catch {
    return "an error that could not be described safely";
  }
}

