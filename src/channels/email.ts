import * as v from "valibot";
import { firstLine } from "./_title.ts";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import type { MailAnswer, MailRequest } from "../core/smtp.ts";
import { markdown, byteLength, checkWith, commonFields, errorText, parseJson, rateKeyOf } from "./_common.ts";

// SMTP through nodemailer, performed by the core's SMTP transport (src/core/smtp.ts); this module stays pure.
// Ports and TLS: https://nodemailer.com/smtp/ ; reply codes: https://www.rfc-editor.org/rfc/rfc5321#section-4.2
const DOCS = "https://nodemailer.com/smtp/";
/** A subject longer than this is folded by mail clients; the full text is in the body anyway. */
const SUBJECT_MAX = 120;
const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/** "ops@example.com" or "Ops <ops@example.com>", on one line. */
const ADDRESS = /^(?:[^\r\n<>@]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/;
const address = v.pipe(v.string(), v.check((s) => ADDRESS.test(s.trim()), 'must be an e-mail address such as "ops@example.com" or "Ops <ops@example.com>"'));
const addresses = v.union([address, v.array(address)], "must be an e-mail address or a list of them");

const fields = v.strictObject({
  type: v.literal("email"),
  host: v.pipe(v.string(), v.check((s) => /^[A-Za-z0-9.-]+$|^\[?[0-9A-Fa-f:.]+\]?$/.test(s), "must be a host name or IP address, without scheme or port")),
  port: v.optional(v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(1, "must be a port number"), v.maxValue(65535, "must be a port number"))),
  /** Implicit TLS (port 465); otherwise STARTTLS on 587. */
  secure: v.optional(v.boolean()),
  /** With secure = false: require the STARTTLS upgrade (default), or allow plain SMTP to a local relay. */
  starttls: v.optional(v.boolean()),
  user: v.optional(v.string()),
  password: v.optional(v.string()),
  from: address,
  to: addresses,
  cc: v.optional(addresses),
  bcc: v.optional(addresses),
  ...commonFields,
});

const schema = v.pipe(
  fields,
  checkWith((o: v.InferOutput<typeof fields>) => {
    if (o.user !== undefined && !o.password) return "password: is required with user";
    if (o.password !== undefined && !o.user) return "user: is required with password";
    const { tls } = connection(o);
    if (tls === "none" && o.password && !LOOPBACK.has(o.host)) {
      return "starttls = false would send the password in clear to a remote server: use STARTTLS (the default) or secure = true";
    }
    return undefined;
  }),
);
export type EmailOptions = v.InferOutput<typeof schema>;

/** Port and TLS mode, with nodemailer's defaults: 465 means implicit TLS, otherwise 587 with STARTTLS. */
function connection(o: Pick<EmailOptions, "port" | "secure" | "starttls">): { port: number; tls: MailRequest["tls"] } {
  const secure = o.secure ?? o.port === 465;
  const port = o.port ?? (secure ? 465 : 587);
  return { port, tls: secure ? "implicit" : o.starttls === false ? "none" : "starttls" };
}

const list = (a: string | string[] | undefined): string[] => (a === undefined ? [] : typeof a === "string" ? [a] : a);

function origin(o: EmailOptions): string {
  const { port, tls } = connection(o);
  return `${tls === "implicit" ? "smtps" : "smtp"}://${o.host}:${port}`;
}

function build(part: string, ctx: PartContext, o: EmailOptions): HttpRequest {
  const md = ctx.format === "markdown" ? markdown() : undefined;
  const text = md ? md.toPlain(part) : part;
  const subject = ctx.title ?? firstLine(text, SUBJECT_MAX);
  const mail: MailRequest = {
    from: o.from,
    to: list(o.to),
    cc: list(o.cc),
    bcc: list(o.bcc),
    subject: subject === "" ? "(no subject)" : subject,
    text,
    ...(md ? { html: md.toEmailHtml(part) } : {}),
    ...(o.user ? { auth: { user: o.user, pass: o.password ?? "" } } : {}),
    tls: connection(o).tls,
  };
  return { method: "SMTP", url: origin(o), headers: {}, body: JSON.stringify(mail), transport: "smtp" };
}

/** SMTP reply codes that mean the login was refused (RFC 4954). */
const AUTH_FAILED = new Set([530, 534, 535, 538]);

function classify(res: HttpResponse): Outcome {
  const answer = (parseJson(res.body) ?? {}) as MailAnswer;
  const reply = errorText(answer.response ?? "");
  const code = res.status;
  if (code >= 200 && code < 300) {
    const rejected = answer.rejected ?? [];
    if (rejected.length === 0) return { kind: "ok" };
    // The others have it: sending again would give them a second copy.
    return { kind: "permanent", code, error: `the server refused ${rejected.join(", ")} (the other recipients have the message); check the address` };
  }
  // The core puts the code in front of the error already.
  const said = reply.replace(/^\d{3}(?:[ -]\d\.\d{1,3}\.\d{1,3})?[ -]?/, "") || `SMTP ${code}`;
  if (AUTH_FAILED.has(code)) return { kind: "permanent", code, error: `login refused: ${said} (check user and password; some providers want an app password)` };
  if (code === 454) return { kind: "retryable", code, error: said };
  if (code >= 400 && code < 500) return { kind: "retryable", code, error: said };
  return { kind: "permanent", code, error: said };
}

const email: ChannelDef<EmailOptions> = {
  type: "email",
  label: "E-mail (SMTP)",
  schema,
  rate: [],
  docs: DOCS,
  // A mail server's own limit is tens of megabytes, far beyond any message pp is given: never split.
  limit: () => ({ max: Infinity, unit: "bytes", scope: "body" }),
  measure: (req) => byteLength(req.body ?? ""),
  // The source goes on as written: build() makes both the HTML part and its plain-text alternative from it.
  render: (text) => text,
  build,
  classify,
  secrets(o) {
    if (!o.password) return [];
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const user = o.user ?? "";
    // The password, and the password as AUTH LOGIN and AUTH PLAIN carry it (the redactor adds its JSON and URL forms).
    return [o.password, b64(o.password), b64(`\u0000${user}\u0000${o.password}`)];
  },
  target(o) {
    const to = list(o.to);
    return `${origin(o)} to ${to[0]}${to.length > 1 ? ` (+${to.length - 1})` : ""}`;
  },
  rateKey: (o) => rateKeyOf("email", `${origin(o)}\n${o.user ?? ""}\n${o.from}`),
};

export default email;
