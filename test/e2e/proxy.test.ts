/**
 * End-to-end: proxies with the compiled binary. A local forward proxy that requires a login and records every
 * request stands between pp and a platform fake; the environment's variables, NO_PROXY, "none", [defaults] and a
 * channel's own proxy decide whether it is used, and its refusals come back as pp's own words, without the password.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { startProxy, type TestProxy } from "../fakes/proxy.ts";
import { selfSignedCert } from "../fakes/tls.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

const LOGIN = "alice:pr0xy-Pa55word";
const PASSWORD = "pr0xy-Pa55word";

let hook: Fake;
let app: Fake;
let locked: TestProxy;
let open: TestProxy;
beforeAll(async () => {
  hook = await startFake("webhook", { rate: false });
  app = await startFake("wecom_app", { rate: false });
  locked = startProxy({ login: LOGIN });
  open = startProxy();
});
afterAll(async () => {
  locked.stop();
  open.stop();
  await Promise.all([hook.stop(), app.stop()]);
});
beforeEach(() => {
  hook.reset();
  app.reset();
  locked.seen.length = 0;
  open.seen.length = 0;
});

/**
 * The fake's URL with a host name that is not loopback by name ("hooks.localhost" still reaches 127.0.0.1), so the
 * environment's proxy applies to it as it would to a platform.
 */
const named = (url: string) => url.replace("//127.0.0.1:", "//hooks.localhost:");

function workspace(channel: string, head = ""): string {
  const dir = tempDir("pp-e2e-proxy-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]
deadline = "20s"
${head}
[log]
path = ${q(join(dir, "pp.db"))}
[channels.hook]
type = "webhook"
${channel}
`,
  );
  return dir;
}

const send = (dir: string, env: Record<string, string> = {}, extra: string[] = []) => pp(["send", "-c", "hook", ...extra, "hello through the proxy"], { cwd: dir, env });

describe("a configured proxy", () => {
  test("carries the message with its login; NO_PROXY does not skip a proxy the channel names", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}\nproxy = ${q(locked.url(LOGIN))}`);
    const r = await send(dir, { NO_PROXY: "127.0.0.1" });
    expect(r.code).toBe(0);
    expect(locked.seen).toEqual([{ method: "POST", url: hook.webhook, login: LOGIN }]);
    expect(hook.accepted().length).toBe(1);
  });

  test("[defaults] proxy applies to a channel without its own", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}`, `proxy = ${q(locked.url(LOGIN))}`);
    const r = await send(dir);
    expect(r.code).toBe(0);
    expect(locked.seen.length).toBe(1);
  });

  test("a channel's own proxy wins over [defaults]", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}\nproxy = ${q(open.url())}`, `proxy = ${q(locked.url(LOGIN))}`);
    const r = await send(dir);
    expect(r.code).toBe(0);
    expect(open.seen.length).toBe(1);
    expect(locked.seen.length).toBe(0);
  });

  test("wrong credentials: 407 is a permanent, one-line error naming the proxy, never the password", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}\nproxy = ${q(locked.url("alice:wrong-Pa55"))}\nretries = 3`);
    const r = await send(dir, {}, ["--json"]);
    expect(r.code).toBe(1);
    // Permanent: asked once, not retried.
    expect(locked.seen.length).toBe(1);
    expect(hook.requests.length).toBe(0);
    const out = JSON.parse(r.stdout) as { deliveries: { status: string; attempts: number; error: string }[] };
    expect(out.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(out.deliveries[0]!.error).toBe(`the proxy http://***@127.0.0.1:${locked.port} refused pp's credentials (HTTP 407 Proxy Authentication Required): check the user and password in the proxy URL`);
    const log = await pp(["log", "--json"], { cwd: dir });
    for (const text of [r.stdout, r.stderr, log.stdout, log.stderr]) {
      expect(text).not.toContain("wrong-Pa55");
      expect(text).not.toContain(Buffer.from("alice:wrong-Pa55").toString("base64"));
    }
    expect(log.stdout).toContain("HTTP 407");
  });

  test("an https:// proxy carries the message once its certificate is trusted", async () => {
    const certs = tempDir("pp-e2e-proxy-cert-");
    const cert = selfSignedCert(certs);
    const tls = startProxy({ login: LOGIN, tls: cert });
    try {
      const dir = workspace(`url = ${q(hook.webhook)}\nproxy = ${q(tls.url(LOGIN))}`);
      const r = await send(dir, { NODE_EXTRA_CA_CERTS: cert.cert });
      expect(r.code).toBe(0);
      expect(tls.seen).toEqual([{ method: "POST", url: hook.webhook, login: LOGIN }]);
      expect(hook.accepted().length).toBe(1);
    } finally {
      tls.stop();
    }
  });

  test("a proxy that is down is named in the error, not the platform", async () => {
    const gone = startProxy();
    gone.stop();
    const dir = workspace(`url = ${q(hook.webhook)}\nproxy = ${q(gone.url(LOGIN))}\nretries = 0`);
    const r = await send(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`connection refused by proxy http://***@127.0.0.1:${gone.port}`);
    expect(r.stderr).not.toContain(PASSWORD);
  });

  test("pp send -v shows the proxy a request goes through, redacted", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}\nproxy = ${q(locked.url(LOGIN))}`);
    const r = await send(dir, {}, ["-v"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`* via proxy http://***@127.0.0.1:${locked.port}\n`);
    expect(r.stderr).not.toContain(PASSWORD);
    const dry = await send(dir, {}, ["--dry-run"]);
    expect(dry.stdout).toContain(`via proxy http://***@127.0.0.1:${locked.port}`);
    expect(dry.stdout + dry.stderr).not.toContain(PASSWORD);
  });

  test("the access token of a wecom_app channel is fetched through the channel's proxy too", async () => {
    const dir = tempDir("pp-e2e-proxy-");
    writeFileSync(
      join(dir, "pp.toml"),
      `[log]
path = ${q(join(dir, "pp.db"))}
[channels.app]
type = "wecom_app"
api = ${q(new URL(app.webhook).origin)}
corp_id = ${q(app.app!.corpId)}
agent_id = ${app.app!.agentId}
secret = ${q(app.app!.secret)}
proxy = ${q(locked.url(LOGIN))}
`,
    );
    const r = await pp(["send", "-c", "app", "hello"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(locked.seen.map((s) => new URL(s.url).pathname)).toEqual(["/cgi-bin/gettoken", "/cgi-bin/message/send"]);
  });
});

describe("the environment", () => {
  test("HTTP_PROXY carries a message (its login hidden in -v)", async () => {
    const dir = workspace(`url = ${q(named(hook.webhook))}`);
    const r = await send(dir, { HTTP_PROXY: locked.url(LOGIN) }, ["-v"]);
    expect(r.code).toBe(0);
    expect(locked.seen.map((s) => s.url)).toEqual([named(hook.webhook)]);
    expect(hook.accepted().length).toBe(1);
    expect(r.stderr).toContain(`* via proxy http://***@127.0.0.1:${locked.port} (HTTP_PROXY)`);
    expect(r.stderr).not.toContain(PASSWORD);
  });

  test('proxy = "none" bypasses HTTP_PROXY', async () => {
    const dir = workspace(`url = ${q(named(hook.webhook))}\nproxy = "none"`);
    const r = await send(dir, { HTTP_PROXY: open.url() });
    expect(r.code).toBe(0);
    expect(open.seen.length).toBe(0);
    expect(hook.accepted().length).toBe(1);
  });

  test('proxy = "none" on a channel overrides [defaults] proxy', async () => {
    const dir = workspace(`url = ${q(hook.webhook)}\nproxy = "none"`, `proxy = ${q(open.url())}`);
    const r = await send(dir);
    expect(r.code).toBe(0);
    expect(open.seen.length).toBe(0);
  });

  test.each([
    ["the host", "hooks.localhost"],
    ["a domain with a leading dot", ".localhost"],
    ["the host and its port", "hooks.localhost:PORT"],
    ["*", "*"],
  ])("NO_PROXY with %s bypasses HTTP_PROXY", async (_what, list) => {
    const dir = workspace(`url = ${q(named(hook.webhook))}`);
    const r = await send(dir, { HTTP_PROXY: open.url(), NO_PROXY: list.replace("PORT", new URL(hook.webhook).port) });
    expect(r.code).toBe(0);
    expect(open.seen.length).toBe(0);
    expect(hook.accepted().length).toBe(1);
  });

  test("NO_PROXY=127.0.0.1 bypasses HTTP_PROXY", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}`);
    const r = await send(dir, { HTTP_PROXY: open.url(), NO_PROXY: "127.0.0.1" });
    expect(r.code).toBe(0);
    expect(open.seen.length).toBe(0);
    expect(hook.accepted().length).toBe(1);
  });

  test("NO_PROXY naming another port does not bypass", async () => {
    const dir = workspace(`url = ${q(named(hook.webhook))}`);
    const r = await send(dir, { HTTP_PROXY: open.url(), NO_PROXY: "hooks.localhost:1" });
    expect(r.code).toBe(0);
    expect(open.seen.length).toBe(1);
  });

  test("loopback by address is not sent to the environment's proxy, NO_PROXY set or not", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}`);
    const r = await send(dir, { HTTP_PROXY: open.url(), NO_PROXY: "example.com" });
    expect(r.code).toBe(0);
    expect(open.seen.length).toBe(0);
  });
});

describe("config", () => {
  test("socks5 is refused at load, saying what to use instead, without the password", async () => {
    const dir = workspace(`url = ${q(hook.webhook)}\nproxy = "socks5://alice:${PASSWORD}@127.0.0.1:1080"`);
    const r = await send(dir);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toStartWith("pp: ");
    expect(lines[0]).toContain("channels.hook.proxy: socks5:// proxies are not supported");
    expect(lines[0]).toContain("use an HTTP proxy");
    expect(r.stderr).not.toContain(PASSWORD);
    expect(hook.requests.length).toBe(0);
  });

  test("an e-mail channel with a proxy is a config error", async () => {
    const dir = tempDir("pp-e2e-proxy-");
    writeFileSync(
      join(dir, "pp.toml"),
      `[channels.mail]
type = "email"
host = "127.0.0.1"
from = "pp@example.com"
to = ["ops@example.com"]
proxy = ${q(open.url())}
`,
    );
    const r = await pp(["send", "-c", "mail", "hi"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("channels.mail.proxy: an email channel sends over SMTP, which does not go through an HTTP proxy");
  });
});
