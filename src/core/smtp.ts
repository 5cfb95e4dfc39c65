/**
 * The SMTP transport: performs a request whose `transport` is "smtp" (built by src/channels/email.ts: the URL
 * smtp(s)://host:port, the body a MailRequest) with nodemailer, and hands the server's reply back as an answer for the channel to classify, the way fetch's
 * answers are. Loaded (with nodemailer) only when an e-mail channel sends: every other send never pays for it.
 * https://nodemailer.com/smtp/
 */
import type { Exchange } from "./http.ts";
import { networkError } from "./http.ts";
import type { HttpRequest } from "./types.ts";

/** The body of an SMTP request, as JSON. */
export interface MailRequest {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  text: string;
  html?: string;
  /** The login, if any. Shown redacted with the rest of the request (--dry-run, --verbose) like any secret. */
  auth?: { user: string; pass: string };
  /** implicit: TLS from the first byte (smtps); starttls: the upgrade is required; none: plain (a local relay). */
  tls: "implicit" | "starttls" | "none";
}

/** What the channel gets to classify: the SMTP reply code stands where an HTTP status would. */
export interface MailAnswer {
  response?: string;
  accepted?: string[];
  rejected?: string[];
  /** nodemailer's error code (EAUTH, EENVELOPE, EMESSAGE...) when the server refused. */
  error?: string;
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
  errno?: string;
  reason?: string;
  cause?: unknown;
}

/** nodemailer's own codes for a connection that never carried the message, besides the socket's. */
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "ETIMEOUT"]);

export async function exchangeSmtp(req: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<Exchange> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  let mail: MailRequest;
  try {
    url = new URL(req.url);
    mail = JSON.parse(req.body ?? "") as MailRequest;
  } catch {
    return { ok: false, kind: "network", error: "the e-mail request is malformed", permanent: true, latencyMs: elapsed() };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const where = url.port ? `${host}:${url.port}` : host;
  const nodemailer = require("nodemailer") as typeof import("nodemailer");
  const transport = nodemailer.createTransport({
    host,
    port: Number(url.port),
    secure: mail.tls === "implicit",
    requireTLS: mail.tls === "starttls",
    ignoreTLS: mail.tls === "none",
    ...(mail.auth ? { auth: { user: mail.auth.user, pass: mail.auth.pass } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // The message is pp's own text: nothing in it may make nodemailer read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  });
  const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
  const all = signal ? AbortSignal.any([timeout, signal]) : timeout;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    if (all.aborted) onAbort();
    else all.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const sent = transport.sendMail({
      from: mail.from,
      to: mail.to,
      ...(mail.cc.length ? { cc: mail.cc } : {}),
      ...(mail.bcc.length ? { bcc: mail.bcc } : {}),
      subject: mail.subject,
      text: mail.text,
      ...(mail.html === undefined ? {} : { html: mail.html }),
      headers: { "X-Mailer": "pp" },
    });
    const info = await Promise.race([sent, aborted]);
    if (info === "aborted") {
      sent.catch(() => {});
      return timeout.aborted
        ? { ok: false, kind: "timeout", error: `no answer from ${where} within ${timeoutMs} ms`, permanent: false, latencyMs: elapsed() }
        : { ok: false, kind: "aborted", error: "deadline reached during the request", permanent: false, latencyMs: elapsed() };
    }
    const answer: MailAnswer = {
      response: String(info.response ?? ""),
      accepted: (info.accepted ?? []).map(String),
      rejected: (info.rejected ?? []).map(String),
    };
    return { ok: true, response: { status: replyCode(answer.response) ?? 250, headers: new Headers(), body: JSON.stringify(answer) }, latencyMs: elapsed() };
  } catch (e) {
    const err = (e ?? {}) as SmtpError;
    if (typeof err.responseCode === "number" && err.code !== "ETLS") {
      // The server answered and refused: that is the channel's to classify, like an HTTP error status.
      const answer: MailAnswer = { response: String(err.response ?? ""), ...(err.code ? { error: err.code } : {}) };
      return { ok: true, response: { status: err.responseCode, headers: new Headers(), body: JSON.stringify(answer) }, latencyMs: elapsed() };
    }
    return { ...failure(err, where, timeoutMs), latencyMs: elapsed() };
  } finally {
    if (onAbort) all.removeEventListener("abort", onAbort);
    transport.close();
  }
}

/** "250 2.0.0 OK" -> 250. */
function replyCode(response: string | undefined): number | undefined {
  const m = /^([2-5]\d\d)\b/.exec(response ?? "");
  return m ? Number(m[1]) : undefined;
}

/** A failure with no reply from the server, in the words fetch's failures get. Never the server's raw text: it may quote the command. */
function failure(err: SmtpError, where: string, timeoutMs: number): Omit<Extract<Exchange, { ok: false }>, "latencyMs"> {
  const message = String(err.message ?? "");
  const socket = (/\b(E[A-Z]{3,}|(?:[A-Z]+_){1,6}[A-Z]+)\b/.exec(message) ?? [])[1];
  const code = [err.errno, socket, err.code].find((c) => typeof c === "string" && c !== "ESOCKET" && c !== "ECONNECTION") ?? err.code;
  if (code && TIMEOUT_CODES.has(code)) {
    return { ok: false, kind: "timeout", error: `${where} did not answer within ${timeoutMs} ms`, permanent: false };
  }
  if (err.code === "ETLS" || /STARTTLS/i.test(message)) {
    return { ok: false, kind: "tls", error: `${where} does not offer STARTTLS, and pp will not send the password or message in clear (use secure = true on port 465, or starttls = false for a local relay)`, permanent: true };
  }
  if (/certificate|self[- ]signed/i.test(message) && !(code && /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME/.test(code))) {
    return { ok: false, kind: "tls", error: `the TLS certificate of ${where} was not accepted; if the server uses a private CA, point NODE_EXTRA_CA_CERTS at its certificate in PEM`, permanent: true };
  }
  if (/wrong[ _]version[ _]number|packet[ _]length[ _]too[ _]long|unknown[ _]protocol/i.test(`${message} ${code ?? ""}`)) {
    return { ok: false, kind: "tls", error: `the TLS handshake with ${where} failed: the port may expect plain SMTP with STARTTLS (secure = false) rather than implicit TLS`, permanent: true };
  }
  if (err.code === "EENVELOPE") return { ok: false, kind: "network", error: "no valid recipient address", permanent: true };
  const n = networkError({ code }, where);
  // Those sentences speak of URLs; an e-mail channel has a host.
  return { ok: false, kind: n.tls ? "tls" : "network", error: n.text.replace(" in the URL", ""), permanent: n.permanent };
}
