/**
 * A real SMTP server on 127.0.0.1 (the smtp-server package) standing in for a mail provider: it wants
 * SMTP_USER / SMTP_PASSWORD (535 otherwise), records every login attempt and every message it accepts with its
 * envelope, and can refuse a recipient (550) or the data (a queued 4xx/5xx). With `key`/`cert` it offers
 * STARTTLS (or, with `secure`, implicit TLS); without, it offers no STARTTLS at all. `parts` reads a received
 * message: its headers, its text/plain and text/html parts.
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";

export const SMTP_USER = "alerts@example.com";
export const SMTP_PASSWORD = "S3cret:pa$$ word@x";
const USER = SMTP_USER;
const PASSWORD = SMTP_PASSWORD;

export interface Got { raw: string; from: string; to: string[]; user: string | undefined; secure: boolean }
export interface SmtpServer { port: number; got: Got[]; logins: string[]; close(): Promise<void> }

/** An SMTP server that wants USER / PASSWORD, records each login attempt and each message it accepts. */
export async function smtp(
  o: Partial<SMTPServerOptions> & { rejectRcpt?: string; failData?: number[]; echoPassword?: boolean } = {},
): Promise<SmtpServer> {
  const got: Got[] = [];
  const logins: string[] = [];
  const failData = [...(o.failData ?? [])];
  const { rejectRcpt, failData: _f, echoPassword: _e, ...options } = o;
  const srv = new SMTPServer({
    disabledCommands: o.secure || o.key ? [] : ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _s, cb) {
      logins.push(auth.username ?? "");
      if (auth.username === USER && auth.password === PASSWORD) cb(null, { user: auth.username });
      // A careless server may quote what it was given; pp must not pass that on.
      else cb(Object.assign(new Error(o.echoPassword ? `Invalid login ${auth.username}/${auth.password}` : "Invalid login"), { responseCode: 535 }));
    },
    onRcptTo(a, _s, cb) {
      if (a.address === rejectRcpt) cb(Object.assign(new Error("No such user"), { responseCode: 550 }));
      else cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      let raw = "";
      stream.on("data", (c: Buffer) => (raw += c.toString("utf8")));
      stream.on("end", () => {
        const code = failData.shift();
        if (code) return cb(Object.assign(new Error("Try again later"), { responseCode: code }));
        const env = session.envelope;
        got.push({ raw, from: env.mailFrom ? env.mailFrom.address : "", to: env.rcptTo.map((r) => r.address), user: session.user as string | undefined, secure: session.secure });
        cb();
      });
    },
    ...options,
  });
  // A client that gives up on TLS makes the server emit an error; that is the test's point, not a crash.
  srv.on("error", () => {});
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.server.address() as { port: number }).port;
  const s: SmtpServer = { port, got, logins, close: () => new Promise<void>((r) => srv.close(() => r())) };
  return s;
}

/** Headers (names lower-cased, folded lines joined) and body of a message or a MIME part. */
function split(raw: string): { headers: Map<string, string>; body: string } {
  const at = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, at).replace(/\r\n[ \t]+/g, " ");
  const headers = new Map<string, string>();
  for (const line of head.split("\r\n")) {
    const i = line.indexOf(":");
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  return { headers, body: raw.slice(at + 4) };
}

function decode(part: { headers: Map<string, string>; body: string }): string {
  const enc = (part.headers.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  if (enc === "base64") return Buffer.from(part.body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (enc === "quoted-printable") {
    const bytes = part.body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  return part.body;
}

/** The text/plain and text/html parts of a message (a single-part message has only its own). */
export function parts(raw: string): { headers: Map<string, string>; text?: string; html?: string } {
  const msg = split(raw);
  const type = msg.headers.get("content-type") ?? "";
  const out: { headers: Map<string, string>; text?: string; html?: string } = { headers: msg.headers };
  const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1];
  const list = boundary ? msg.body.split(`--${boundary}`).slice(1, -1).map((p) => split(p.replace(/^\r\n/, ""))) : [msg];
  for (const p of list) {
    const ct = p.headers.get("content-type") ?? "text/plain";
    if (ct.startsWith("text/plain")) out.text = decode(p).replace(/\r\n/g, "\n").trimEnd();
    if (ct.startsWith("text/html")) out.html = decode(p).replace(/\r\n/g, "\n");
  }
  return out;
}

