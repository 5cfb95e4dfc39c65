/**
 * End-to-end: PushPlus, ServerChan, Pushover and e-mail through the compiled binary. The HTTP platforms are the
 * local fakes; e-mail goes to a real SMTP server on 127.0.0.1 that wants STARTTLS (or implicit TLS) with a
 * self-signed certificate, trusted through NODE_EXTRA_CA_CERTS as a user with a private CA would, and a login.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { parts, smtp, SMTP_PASSWORD, SMTP_USER, type SmtpServer } from "../fakes/smtp.ts";
import { selfSignedCert, type Cert } from "../fakes/tls.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

const PUSHPLUS_TOKEN = "e2e0pushplus0token0000000000abcd";
const SENDKEY = "SCT424242TsendkeyE2Esecret0000";
const PUSHOVER_TOKEN = "ae2etoken0000000000000000000x1";
const PUSHOVER_USER = "ue2euser00000000000000000000y2";

let pushplus: Fake;
let serverchan: Fake;
let pushover: Fake;
let cert: Cert;
let starttls: SmtpServer;
let implicit: SmtpServer;

beforeAll(async () => {
  pushplus = await startFake("pushplus", { token: PUSHPLUS_TOKEN, rate: false });
  serverchan = await startFake("serverchan", { token: SENDKEY, rate: false });
  pushover = await startFake("pushover", { token: PUSHOVER_TOKEN, user: PUSHOVER_USER });
  cert = selfSignedCert(tempDir("pp-e2e-cert-"));
  const tls = { key: readFileSync(cert.key), cert: readFileSync(cert.cert) };
  starttls = await smtp(tls);
  implicit = await smtp({ ...tls, secure: true });
});
afterAll(async () => {
  await Promise.all([pushplus.stop(), serverchan.stop(), pushover.stop(), starttls.close(), implicit.close()]);
});

const origin = (f: Fake) => new URL(f.webhook).origin;

function workspace(): string {
  const dir = tempDir("pp-e2e-b-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]
channels = ["all"]
deadline = "20s"
[log]
path = ${q(join(dir, "pp.db"))}
[channels.pushplus]
type = "pushplus"
token = "\${PUSHPLUS_TOKEN}"
api = ${q(origin(pushplus))}
[channels.serverchan]
type = "serverchan"
sendkey = "\${SERVERCHAN_KEY}"
api = ${q(origin(serverchan))}
[channels.pushover]
type = "pushover"
token = "\${PUSHOVER_TOKEN}"
user = "\${PUSHOVER_USER}"
api = ${q(origin(pushover))}
[channels.mail]
type = "email"
host = "127.0.0.1"
port = ${starttls.port}
user = ${q(SMTP_USER)}
password = "\${SMTP_PASSWORD}"
from = "pp <alerts@example.com>"
to = ["ops@example.com"]
bcc = "audit@example.com"
[channels.mail465]
type = "email"
host = "127.0.0.1"
port = ${implicit.port}
secure = true
user = ${q(SMTP_USER)}
password = "\${SMTP_PASSWORD}"
from = "alerts@example.com"
to = "ops@example.com"
[channels.badlogin]
type = "email"
host = "127.0.0.1"
port = ${starttls.port}
user = ${q(SMTP_USER)}
password = "\${SMTP_WRONG}"
from = "alerts@example.com"
to = "ops@example.com"
retries = 2
[groups]
all = ["pushplus", "serverchan", "pushover", "mail"]
`,
  );
  return dir;
}

const WRONG = "not-the-password-0042";
const env = () => ({
  PUSHPLUS_TOKEN,
  SERVERCHAN_KEY: SENDKEY,
  PUSHOVER_TOKEN,
  PUSHOVER_USER,
  SMTP_PASSWORD,
  SMTP_WRONG: WRONG,
  NODE_EXTRA_CA_CERTS: cert.cert,
});
const SECRETS = [PUSHPLUS_TOKEN, SENDKEY, PUSHOVER_TOKEN, PUSHOVER_USER, SMTP_PASSWORD, WRONG, JSON.stringify(SMTP_PASSWORD).slice(1, -1)];

describe("the four channel types through the binary", () => {
  test("one Markdown send reaches PushPlus, ServerChan, Pushover and a mailbox over STARTTLS", async () => {
    const cwd = workspace();
    const r = await pp(["send", "-f", "markdown", "-t", "Deploy", "**api v1.4.2** is live"], { cwd, env: env() });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("mail") });
    expect(pushplus.accepted().at(-1)!.json).toEqual({ token: PUSHPLUS_TOKEN, title: "Deploy", content: "**api v1.4.2** is live", template: "markdown" });
    expect(serverchan.accepted().at(-1)!.json).toEqual({ title: "Deploy", desp: "**api v1.4.2** is live" });
    expect(pushover.accepted().at(-1)!.json).toEqual({ token: PUSHOVER_TOKEN, user: PUSHOVER_USER, title: "Deploy", message: "<b>api v1.4.2</b> is live", html: 1 });

    const mail = starttls.got.at(-1)!;
    expect(mail.secure).toBe(true);
    expect(mail.user).toBe(SMTP_USER);
    expect(mail.to.sort()).toEqual(["audit@example.com", "ops@example.com"]);
    const m = parts(mail.raw);
    expect(m.headers.get("subject")).toBe("Deploy");
    expect(m.headers.has("bcc")).toBe(false);
    expect(m.html).toContain("<b>api v1.4.2</b> is live");
    expect(m.text).toBe("api v1.4.2 is live");

    const log = JSON.parse((await pp(["log", "--json"], { cwd, env: env() })).stdout) as { channel: string; status: string; target: string }[];
    expect(log.map((d) => [d.channel, d.status]).sort()).toEqual([["mail", "delivered"], ["pushover", "delivered"], ["pushplus", "delivered"], ["serverchan", "delivered"]]);
    expect(JSON.stringify(log) + r.stdout + r.stderr).not.toMatch(new RegExp(SECRETS.map((s) => s.replace(/[$.*+?^()[\]{}|\\]/g, "\\$&")).join("|")));
  });

  test("implicit TLS on its own port (secure = true)", async () => {
    const cwd = workspace();
    const r = await pp(["send", "--ch", "mail465", "plain text over smtps"], { cwd, env: env() });
    expect(r.code).toBe(0);
    const mail = implicit.got.at(-1)!;
    expect(mail.secure).toBe(true);
    expect(parts(mail.raw)).toMatchObject({ text: "plain text over smtps" });
  });

  test("pp test reaches every one of them", async () => {
    const cwd = workspace();
    const before = implicit.got.length;
    const r = await pp(["test", "pushplus", "serverchan", "pushover", "mail465"], { cwd, env: env() });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(implicit.got.length).toBe(before + 1);
    for (const s of SECRETS) expect(r.stdout + r.stderr).not.toContain(s);
  });

  test("a refused login: exit 1 at the first try, a clear reason, no password anywhere", async () => {
    const cwd = workspace();
    const before = starttls.logins.length;
    const r = await pp(["send", "--ch", "badlogin", "x"], { cwd, env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("login refused");
    expect(starttls.logins.length).toBe(before + 1);
    const log = (await pp(["log", "--failed", "--json"], { cwd, env: env() })).stdout;
    expect(JSON.parse(log)[0]).toMatchObject({ channel: "badlogin", status: "failed", attempts: 1 });
    for (const s of [...SECRETS, Buffer.from(WRONG).toString("base64"), Buffer.from(`\0${SMTP_USER}\0${WRONG}`).toString("base64")]) {
      expect(r.stdout + r.stderr + log).not.toContain(s);
    }
  });

  test("without the CA trusted, STARTTLS fails at once and says how to trust it", async () => {
    const cwd = workspace();
    const { NODE_EXTRA_CA_CERTS: _ca, ...untrusted } = env();
    const before = starttls.logins.length;
    const r = await pp(["send", "--ch", "mail", "x"], { cwd, env: untrusted });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("NODE_EXTRA_CA_CERTS");
    expect(starttls.logins.length).toBe(before);
  });

  test("--dry-run shows each request with every credential masked and sends nothing", async () => {
    const cwd = workspace();
    const counts = [pushplus.requests.length, serverchan.requests.length, pushover.requests.length, starttls.got.length];
    const r = await pp(["send", "--dry-run", "-t", "T", "hello"], { cwd, env: env() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${origin(serverchan)}/***.send`);
    expect(r.stdout).toContain(`smtp://127.0.0.1:${starttls.port}`);
    expect(r.stdout).toContain('"to":["ops@example.com"]');
    expect(r.stdout).toContain(`"auth":{"user":"${SMTP_USER}","pass":"***"}`);
    for (const s of SECRETS) expect(r.stdout + r.stderr).not.toContain(s);
    expect([pushplus.requests.length, serverchan.requests.length, pushover.requests.length, starttls.got.length]).toEqual(counts);
  });

  test("a platform that echoes the token in its refusal: the token is masked in stderr and the push log", async () => {
    const cwd = workspace();
    pushplus.fault({ kind: "code", code: 903, msg: `无效的用户token ${PUSHPLUS_TOKEN}` });
    const r = await pp(["send", "--ch", "pushplus", "x"], { cwd, env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the token is invalid");
    const shown = (await pp(["log", "--failed", "--json"], { cwd, env: env() })).stdout;
    expect(r.stderr + shown).not.toContain(PUSHPLUS_TOKEN);
  });
});
