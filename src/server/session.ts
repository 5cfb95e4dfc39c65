import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Page sessions: a login with the daemon's token gives the browser a cookie holding a random id. The token itself
 * never goes back to the browser, and a session ends with the process (a restart asks people to log in again,
 * which is cheaper than keeping a signing key on disk). Each session has its own CSRF token that every form
 * carries and every fetch() sends as X-Pp-Csrf.
 */
export interface Session {
  id: string;
  /** Proof that a form or fetch() came from one of pp's own pages. */
  csrf: string;
  /** Unix ms. */
  expires: number;
  /** sha256 of the token used to log in ("" for an anonymous daemon), so a reload that removes the token ends the session. */
  tokenDigest: string;
}

export const SESSION_COOKIE = "pp_session";
/** Set by the login form's GET and carried by its POST, so a third-party site cannot log a browser in. */
export const LOGIN_COOKIE = "pp_login";
export const CSRF_HEADER = "x-pp-csrf";
/** The name of the hidden CSRF field in pp's forms. */
export const CSRF_FIELD = "_csrf";
export const SESSION_TTL_MS = 12 * 3600_000;
/** Logins are rare; the cap only stops an anonymous daemon's login page from filling memory. */
const MAX_SESSIONS = 10_000;

const sessions = new Map<string, Session>();

const digest = (s: string) => createHash("sha256").update(s).digest();
const digestHex = (s: string) => digest(s).toString("hex");
const randomId = () => randomBytes(32).toString("base64url");

/** Equal-length digests, so neither the time nor an early exit says how much of a guess was right. */
function same(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Whether `given` is one of the tokens; each is compared, whatever the result of the others. */
export function tokenMatches(given: string, tokens: readonly string[]): boolean {
  let ok = false;
  for (const t of tokens) if (same(given, t)) ok = true;
  return ok;
}

/**
 * Starts a session when `token` is one of `tokens`, or when the daemon has no token and anonymous access is
 * allowed (then any token, even none, will do). Null when refused.
 */
export function login(token: string, tokens: readonly string[], allowAnonymous: boolean, now = Date.now()): Session | null {
  let tokenDigest: string;
  if (tokens.length === 0) {
    if (!allowAnonymous) return null;
    tokenDigest = "";
  } else {
    if (!token || !tokenMatches(token, tokens)) return null;
    tokenDigest = digestHex(token);
  }
  purge(now);
  while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
  const s: Session = { id: randomId(), csrf: randomId(), expires: now + SESSION_TTL_MS, tokenDigest };
  sessions.set(s.id, s);
  return s;
}

export function logout(s: Session): void {
  sessions.delete(s.id);
}

function purge(now: number): void {
  for (const [id, s] of sessions) if (s.expires <= now) sessions.delete(id);
}

/** One cookie's value from the Cookie header, or null. */
export function cookieValue(req: Request, name: string): string | null {
  const header = req.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * The session the request's cookie names, if it exists and has not expired. With `tokens` (the daemon's tokens
 * now in force), a session opened with a token that a reload has since removed is ended too.
 */
export function sessionOf(req: Request, tokens?: readonly string[], now = Date.now()): Session | null {
  const id = cookieValue(req, SESSION_COOKIE);
  if (!id) return null;
  const s = sessions.get(id);
  if (!s) return null;
  if (s.expires <= now || (tokens && !stillValid(s, tokens))) {
    sessions.delete(id);
    return null;
  }
  return s;
}

function stillValid(s: Session, tokens: readonly string[]): boolean {
  if (s.tokenDigest === "") return tokens.length === 0;
  let ok = false;
  for (const t of tokens) if (timingSafeEqual(Buffer.from(digestHex(t)), Buffer.from(s.tokenDigest))) ok = true;
  return ok;
}

/**
 * Whether an unsafe request (POST...) made with the session cookie really comes from one of pp's pages: it carries
 * the session's CSRF token in the X-Pp-Csrf header (fetch) or in the form field `formField` (a plain form post,
 * parsed by the caller).
 */
export function csrfOk(req: Request, s: Session, formField?: string): boolean {
  const given = req.headers.get(CSRF_HEADER) ?? formField;
  return typeof given === "string" && given.length > 0 && same(given, s.csrf);
}

/** Whether the browser reached pp over HTTPS (directly or through a proxy that says so): then cookies are Secure. */
export function isHttps(req: Request): boolean {
  if (req.url.startsWith("https:")) return true;
  return req.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase() === "https";
}

function cookie(name: string, value: string, maxAgeS: number, secure: boolean): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? "; Secure" : ""}`;
}

export function sessionCookie(s: Session, secure: boolean, now = Date.now()): string {
  return cookie(SESSION_COOKIE, s.id, Math.max(0, Math.floor((s.expires - now) / 1000)), secure);
}

export function clearSessionCookie(secure: boolean): string {
  return cookie(SESSION_COOKIE, "", 0, secure);
}

/** A fresh value for the login form's own CSRF check (double submit: cookie and hidden field must agree). */
export function newLoginNonce(): string {
  return randomId();
}

export function loginCookie(nonce: string, secure: boolean): string {
  return cookie(LOGIN_COOKIE, nonce, 3600, secure);
}

export function clearLoginCookie(secure: boolean): string {
  return cookie(LOGIN_COOKIE, "", 0, secure);
}

/** The login form's field matches the cookie its GET set. */
export function loginNonceOk(req: Request, field: string | undefined): boolean {
  const c = cookieValue(req, LOGIN_COOKIE);
  return !!c && typeof field === "string" && field.length > 0 && same(c, field);
}
