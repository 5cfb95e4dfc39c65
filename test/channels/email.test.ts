/**
 * The e-mail channel against a real SMTP server on 127.0.0.1 (smtp-server): it checks the login, and the test
 * reads the message it received (headers, the HTML part and its plain-text alternative, the envelope).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import email from "../../src/channels/email.ts";
import { shownRequest } from "../../src/core/dispatch.ts";
import { redactor } from "../../src/core/redact.ts";
import { ROOT } from "../e2e/_run.ts";
import { parts, smtp, SMTP_PASSWORD as PASSWORD, SMTP_USER as USER, type SmtpServer } from "../fakes/smtp.ts";
import { selfSignedCert } from "../fakes/tls.ts";
import { q, tempDir } from "../helpers.ts";
import { deliver, target } from "./_deliver.ts";
import { opts, problems, res } from "./_fixtures.ts";

const servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(o: Parameters<typeof smtp>[0] = {}): Promise<SmtpServer> {
  const s = await smtp(o);
  servers.push(s);
  return s;
}

const section = (port: number, extra = "") =>
  `type = "email"\nhost = "127.0.0.1"\nport = ${port}\nstarttls = false\nuser = ${q(USER)}\npassword = ${q(PASSWORD)}\nfrom = "pp <alerts@example.com>"\nto = ["ops@example.com", "dev@example.com"]\n${extra}`;

describe("email config", () => {
  const ok = { type: "email", host: "smtp.example.com", user: USER, password: PASSWORD, from: USER, to: ["ops@example.com"] };

  test("the keys of the table, with lists or single addresses", () => {
    expect(problems(email, ok)).toEqual([]);
    expect(problems(email, { ...ok, to: "ops@example.com", cc: ["a@b.c"], bcc: "Boss <boss@example.com>", port: 465, secure: true })).toEqual([]);
    expect(problems(email, { ...ok, to: ["not an address"] })[0]).toStartWith("to");
    expect(problems(email, { ...ok, from: "x@y.z\r\nBcc: evil@x.com" })[0]).toStartWith("from: must be an e-mail address");
    expect(problems(email, { ...ok, host: "smtp://smtp.example.com" })).toEqual(["host: must be a host name or IP address, without scheme or port"]);
    expect(problems(email, { ...ok, port: 70000 })).toEqual(["port: must be a port number"]);
  });

  test("user and password go together, and the password never travels in clear to another machine", () => {
    const { password: _p, ...noPassword } = ok;
    expect(problems(email, noPassword).join()).toContain("password: is required with user");
    expect(problems(email, { ...ok, starttls: false }).join()).toContain("would send the password in clear");
    expect(problems(email, { ...ok, host: "127.0.0.1", starttls: false })).toEqual([]);
  });

  test("config errors do not repeat the password", () => {
    expect(problems(email, { ...ok, starttls: false, to: PASSWORD }).join("\n")).not.toContain(PASSWORD);
  });

  test("secrets cover the password in every form it travels in; the destination shows none", () => {
    const o = opts(email, ok);
    const secrets = email.secrets(o);
    expect(secrets).toContain(PASSWORD);
    expect(secrets).toContain(Buffer.from(PASSWORD).toString("base64"));
    expect(secrets).toContain(Buffer.from(`\0${USER}\0${PASSWORD}`).toString("base64"));
    expect(email.target(o)).toBe("smtp://smtp.example.com:587 to ops@example.com");
    expect(email.target(opts(email, { ...ok, port: 465, to: ["a@b.c", "d@e.f"] }))).toBe("smtps://smtp.example.com:465 to a@b.c (+1)");
  });

  test("a password with quotes and backslashes is masked in the request pp shows (--dry-run, --verbose)", () => {
    const tricky = 'zq"x\\y\u00e9w';
    const t = target(`type = "email"\nhost = "smtp.example.com"\nuser = ${q(USER)}\npassword = ${q(tricky)}\nfrom = ${q(USER)}\nto = "ops@example.com"`);
    const req = t.def.build("x", { format: "text", index: 0, total: 1, now: 0 }, t.opts);
    expect(req.body).toContain(JSON.stringify(tricky).slice(1, -1));
    const shown = shownRequest(t, req, redactor(t.def.secrets(t.opts)));
    expect(shown.url).toBe("smtp://smtp.example.com:587 to ops@example.com");
    expect(JSON.parse(shown.body!).auth).toEqual({ user: USER, pass: "***" });
    expect(JSON.stringify(shown)).not.toContain("zq");
  });

  test("port 465 means implicit TLS; otherwise STARTTLS is required unless turned off", () => {
    const body = (o: Record<string, unknown>) => JSON.parse(email.build("x", { format: "text", index: 0, total: 1, now: 0 }, opts(email, { ...ok, ...o })).body!);
    expect(body({}).tls).toBe("starttls");
    expect(body({ port: 465 }).tls).toBe("implicit");
    expect(body({ secure: true }).tls).toBe("implicit");
    expect(body({ host: "localhost", starttls: false }).tls).toBe("none");
  });
});

describe("email answers", () => {
  const o = opts(email, { type: "email", host: "h", from: "a@b.c", to: "d@e.f" });
  test.each([
    [250, { response: "250 OK", rejected: [] }, "ok"],
    [535, { response: "535 Invalid login", error: "EAUTH" }, "permanent"],
    [421, { response: "421 Try later" }, "retryable"],
    [451, { response: "451 Local error" }, "retryable"],
    [550, { response: "550 No such user" }, "permanent"],
    [552, { response: "552 Message too big" }, "permanent"],
  ] as const)("SMTP %d is %s", (code, body, kind) => {
    expect(email.classify(res(code, body), o).kind).toBe(kind);
  });
});

describe("email through a real SMTP server", () => {
  test("Markdown: an HTML part and a plain-text alternative; bcc in the envelope only", async () => {
    const s = await start();
    const t = target(section(s.port, 'cc = "lead@example.com"\nbcc = ["audit@example.com"]'));
    const md = "## Deploy\n**api v1.4.2** is live, see [the log](https://ci.example.com/42)\n\n- one\n- two <script>alert(1)</script>";
    const { result, store } = await deliver(t, md, { title: "Deploy report", format: "markdown" });
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "delivered", attempts: 1 });
    expect(s.got).toHaveLength(1);
    const g = s.got[0]!;
    expect(g.user).toBe(USER);
    expect(g.from).toBe("alerts@example.com");
    expect(g.to.sort()).toEqual(["audit@example.com", "dev@example.com", "lead@example.com", "ops@example.com"]);
    const m = parts(g.raw);
    expect(m.headers.get("subject")).toBe("Deploy report");
    expect(m.headers.get("to")).toBe("ops@example.com, dev@example.com");
    expect(m.headers.get("cc")).toBe("lead@example.com");
    expect(m.headers.has("bcc")).toBe(false);
    expect(g.raw).not.toContain("audit@example.com");
    expect(m.headers.get("content-type")).toStartWith("multipart/alternative");
    expect(m.text).toBe("Deploy\n\napi v1.4.2 is live, see the log (https://ci.example.com/42)\n\n- one\n- two <script>alert(1)</script>");
    expect(m.html).toContain("<b>api v1.4.2</b>");
    expect(m.html).toContain('<a href="https://ci.example.com/42">the log</a>');
    expect(m.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(m.html).not.toContain("<script>");
  });

  test("plain text: one text part; without a title the first line is the subject", async () => {
    const s = await start();
    const { result, store } = await deliver(target(section(s.port)), "db-1 disk at 95%\ncleanup started");
    store.close();
    expect(result.deliveries[0]!.status).toBe("delivered");
    const m = parts(s.got[0]!.raw);
    expect(m.headers.get("subject")).toBe("db-1 disk at 95%");
    expect(m.headers.get("content-type")).toStartWith("text/plain");
    expect(m.text).toBe("db-1 disk at 95%\ncleanup started");
    expect(m.html).toBeUndefined();
  });

  test("a refused login fails at once, with a clear error that never holds the password", async () => {
    const s = await start();
    const wrong = section(s.port, "retries = 3").replace(q(PASSWORD), q(`${PASSWORD}-old`));
    const t = target(wrong);
    const { result, store, logText } = await deliver(t, "x");
    const log = logText();
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(result.deliveries[0]!.error).toBe("535 login refused: Invalid login (check user and password; some providers want an app password)");
    expect(s.logins).toEqual([USER]);
    expect(s.got).toHaveLength(0);
    for (const secret of t.def.secrets(t.opts)) expect(JSON.stringify(result) + log).not.toContain(secret);
  });

  test("a server that quotes the password in its refusal: the password is masked in the error and the push log", async () => {
    const s = await start({ echoPassword: true });
    const old = `${PASSWORD}-old`;
    const { result, store, logText } = await deliver(target(section(s.port).replace(q(PASSWORD), q(old))), "x");
    const log = logText();
    store.close();
    expect(result.deliveries[0]!.error).toStartWith(`535 login refused: Invalid login ${USER}/***`);
    expect(log).toContain(`Invalid login ${USER}/***`);
    expect(JSON.stringify(result) + log).not.toContain("S3cret");
  });

  test("a recipient the server refuses: the others get it, and the failure names the address", async () => {
    const s = await start({ rejectRcpt: "dev@example.com" });
    const { result, store } = await deliver(target(section(s.port, "retries = 2")), "x");
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(result.deliveries[0]!.error).toContain("refused dev@example.com (the other recipients have the message)");
    expect(s.got.map((g) => g.to)).toEqual([["ops@example.com"]]);
  });

  test("a temporary refusal (451) is retried and then delivered", async () => {
    const s = await start({ failData: [451] });
    const { result, store } = await deliver(target(section(s.port, "retries = 2")), "x");
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "delivered", attempts: 2 });
    expect(s.got).toHaveLength(1);
  });

  test("a server without STARTTLS gets neither the password nor the message when TLS is required (the default)", async () => {
    const s = await start();
    const t = target(section(s.port, "retries = 2").replace("starttls = false\n", ""));
    const { result, store } = await deliver(t, "x");
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(result.deliveries[0]!.error).toContain("does not offer STARTTLS");
    expect(s.logins).toEqual([]);
    expect(s.got).toHaveLength(0);
  });

  test("STARTTLS to a certificate pp does not trust fails at once, saying how to trust it", async () => {
    const c = selfSignedCert(tempDir("pp-smtp-"));
    const s = await start({ key: readFileSync(c.key), cert: readFileSync(c.cert) });
    const t = target(section(s.port, "retries = 2").replace("starttls = false\n", ""));
    const { result, store } = await deliver(t, "x");
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(result.deliveries[0]!.error).toContain("TLS certificate of 127.0.0.1");
    expect(result.deliveries[0]!.error).toContain("NODE_EXTRA_CA_CERTS");
    expect(s.logins).toEqual([]);
  });

  test("a server that never greets: the channel's timeout ends the attempt", async () => {
    const held: Socket[] = [];
    const silent = createServer((sock) => held.push(sock));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const { result, store } = await deliver(target(section(port, 'retries = 0\ntimeout = "700ms"')), "x");
      store.close();
      expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
      expect(result.deliveries[0]!.error).toMatch(/within 700 ms/);
    } finally {
      for (const sock of held) sock.destroy();
      silent.close();
    }
  });

  test("nothing listening: a retryable connection error", async () => {
    const s = await start();
    await s.close();
    servers.length = 0;
    const { result, store } = await deliver(target(section(s.port, "retries = 1")), "x");
    store.close();
    expect(result.deliveries[0]).toMatchObject({ status: "failed", attempts: 2 });
    expect(result.deliveries[0]!.error).toContain("connection refused by 127.0.0.1");
  });
});

test("nodemailer is loaded only when an e-mail is sent, not with the registry or the HTTP core", () => {
  const script = `
    const { channels } = await import(${q(`${ROOT}/src/channels/index.ts`)});
    const { exchange } = await import(${q(`${ROOT}/src/core/http.ts`)});
    void channels.email; void channels.slack;
    const loaded = () => Object.keys(require.cache).some((k) => k.includes("nodemailer"));
    const before = loaded();
    await exchange({ method: "SMTP", url: "smtp://127.0.0.1:1", headers: {}, body: JSON.stringify({ from: "a@b.c", to: ["d@e.f"], cc: [], bcc: [], subject: "s", text: "t", tls: "none" }), transport: "smtp" }, 2000);
    console.log(JSON.stringify([before, loaded()]));`;
  const r = Bun.spawnSync(["bun", "-e", script], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(r.stdout.toString().trim()).toBe("[false,true]");
});
