/**
 * Which proxy a request goes through (the environment's variables, NO_PROXY, "none", a channel's own setting over
 * [defaults]), and what pp says when a proxy fails, against real local proxies.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { exchange } from "../../src/core/http.ts";
import { bypassed, describeRoute, proxyProblem, proxySecrets, route, showProxy } from "../../src/core/proxy.ts";
import { redactor, secretsOf } from "../../src/core/redact.ts";
import { startProxy, type TestProxy } from "../fakes/proxy.ts";
import { selfSignedCert } from "../fakes/tls.ts";
import { tempDir } from "../helpers.ts";

const proxies: TestProxy[] = [];
const servers: { stop(): unknown }[] = [];
afterAll(() => {
  for (const p of proxies) p.stop();
  for (const s of servers) s.stop();
});

function proxy(o: Parameters<typeof startProxy>[0] = {}): TestProxy {
  const p = startProxy(o);
  proxies.push(p);
  return p;
}

/** A server that counts what reaches it directly. */
function target(): { port: number; hits: string[] } {
  const hits: string[] = [];
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", development: false, fetch: (r) => (hits.push(new URL(r.url).pathname), Response.json({ ok: true })) });
  servers.push({ stop: () => s.stop(true) });
  return { port: s.port!, hits };
}

const VARS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"];
const saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
afterEach(() => {
  for (const k of VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});
/** Sets exactly these proxy variables in this process (the others unset) for the test. */
function useEnv(env: Record<string, string>): void {
  for (const k of VARS) delete process.env[k];
  Object.assign(process.env, env);
}

const via = (url: string, setting: string | undefined, env: Record<string, string>) => route(url, setting, env).proxy;

describe("route: the environment", () => {
  const P = "http://proxy.corp:3128";
  test.each([
    ["https URL, HTTPS_PROXY", "https://api.telegram.org/x", { HTTPS_PROXY: P }, P],
    ["https URL, lower-case https_proxy", "https://api.telegram.org/x", { https_proxy: P }, P],
    ["lower-case wins over upper-case", "https://api.telegram.org/x", { https_proxy: P, HTTPS_PROXY: "http://other:1" }, P],
    ["an empty lower-case value counts as unset", "https://api.telegram.org/x", { https_proxy: "", HTTPS_PROXY: P }, P],
    ["https URL ignores HTTP_PROXY", "https://api.telegram.org/x", { HTTP_PROXY: P }, undefined],
    ["http URL, HTTP_PROXY", "http://relay.corp/hook", { HTTP_PROXY: P }, P],
    ["http URL, http_proxy", "http://relay.corp/hook", { http_proxy: P }, P],
    ["http URL ignores HTTPS_PROXY", "http://relay.corp/hook", { HTTPS_PROXY: P }, undefined],
    ["ALL_PROXY for either", "https://api.telegram.org/x", { ALL_PROXY: P }, P],
    ["all_proxy for either", "http://relay.corp/hook", { all_proxy: P }, P],
    ["no variables: direct", "https://api.telegram.org/x", {}, undefined],
    ["a value without scheme means http", "https://api.telegram.org/x", { HTTPS_PROXY: "proxy.corp:3128" }, P],
    ["localhost is never proxied", "http://localhost:8080/hook", { HTTP_PROXY: P, NO_PROXY: "example.com" }, undefined],
    ["127.x is never proxied", "http://127.0.0.2:8080/hook", { HTTP_PROXY: P }, undefined],
    ["::1 is never proxied", "http://[::1]:8080/hook", { HTTP_PROXY: P }, undefined],
    ["a name under .localhost is not loopback by name", "http://hooks.localhost:8080/hook", { HTTP_PROXY: P }, P],
  ] as const)("%s", (_name, url, env, want) => {
    expect(via(url, undefined, env)).toBe(want);
  });

  test("the route names the variable it came from, and hides the login", () => {
    const r = route("https://api.telegram.org/x", undefined, { HTTPS_PROXY: "http://alice:s3cret-pw@proxy.corp:3128" });
    expect(r).toEqual({ proxy: "http://alice:s3cret-pw@proxy.corp:3128", from: "HTTPS_PROXY" });
    expect(describeRoute(r)).toBe("via proxy http://***@proxy.corp:3128 (HTTPS_PROXY)");
    expect(describeRoute(route("https://api.telegram.org/x", undefined, {}))).toBeUndefined();
  });
});

describe("route: NO_PROXY", () => {
  const P = { HTTPS_PROXY: "http://proxy.corp:3128", HTTP_PROXY: "http://proxy.corp:3128" };
  test.each([
    ["exact host", "https://api.telegram.org/x", "api.telegram.org", true],
    ["the domain covers its subdomains", "https://api.telegram.org/x", "telegram.org", true],
    ["a leading dot", "https://api.telegram.org/x", ".telegram.org", true],
    ["a leading dot covers the domain itself", "https://telegram.org/x", ".telegram.org", true],
    ["*.domain", "https://api.telegram.org/x", "*.telegram.org", true],
    ["not a suffix of a longer name", "https://notelegram.org/x", "telegram.org", false],
    ["another host", "https://api.telegram.org/x", "qyapi.weixin.qq.com", false],
    ["*", "https://api.telegram.org/x", "*", true],
    ["a list with spaces and commas", "https://api.telegram.org/x", "example.com, telegram.org", true],
    ["case does not matter", "https://API.Telegram.org/x", "telegram.ORG", true],
    ["the host with the right port", "https://api.telegram.org/x", "api.telegram.org:443", true],
    ["the host with another port", "https://api.telegram.org/x", "api.telegram.org:8443", false],
    ["a port on an explicit URL port", "http://relay.corp:8080/x", "relay.corp:8080", true],
    ["an IPv4 address", "http://10.1.2.3/x", "10.1.2.3", true],
    ["an IPv4 CIDR block", "http://10.1.2.3/x", "10.0.0.0/8", true],
    ["outside the CIDR block", "http://11.1.2.3/x", "10.0.0.0/8", false],
    ["a /0 block", "http://11.1.2.3/x", "0.0.0.0/0", true],
    ["an IPv6 address", "http://[fd00::5]/x", "fd00::5", true],
    ["an IPv6 CIDR block", "http://[fd00::5]/x", "fd00::/8", true],
    ["outside the IPv6 block", "http://[fe80::5]/x", "fd00::/8", false],
    ["a bracketed IPv6 with port", "http://[fd00::5]:8080/x", "[fd00::5]:8080", true],
    ["CIDR does not match names", "http://relay.corp/x", "10.0.0.0/8", false],
    ["no_proxy lower-case", "https://api.telegram.org/x", undefined, true],
  ] as const)("%s", (_name, url, list, bypass) => {
    const env = list === undefined ? { ...P, no_proxy: "telegram.org" } : { ...P, NO_PROXY: list };
    expect(via(url, undefined, env)).toBe(bypass ? undefined : "http://proxy.corp:3128");
  });

  test("bypassed() takes the host as written in a URL", () => {
    expect(bypassed("[::ffff:10.0.0.1]", 80, "::ffff:0:0/96")).toBe(true);
    expect(bypassed("example.com.", 443, "example.com")).toBe(true);
  });
});

describe("route: the channel's setting", () => {
  const env = { HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: "api.telegram.org" };
  test('"none" goes direct whatever the environment says', () => {
    expect(via("https://api.day.app/x", "none", env)).toBeUndefined();
  });
  test("a configured proxy applies to every request of the channel, NO_PROXY and loopback included", () => {
    expect(route("https://api.telegram.org/x", "http://u:p@own:8080", env)).toEqual({ proxy: "http://u:p@own:8080", from: "config" });
    expect(via("http://127.0.0.1:9/x", "http://own:8080", env)).toBe("http://own:8080");
  });
});

describe("config", () => {
  const load = (text: string) => parseConfig(text, "/t/pp.toml");
  const opts = (text: string, name: string) => load(text).channels.get(name)!.opts as { proxy?: string };
  const base = `
[channels.a]
type = "bark"
key = "k1"
[channels.b]
type = "bark"
key = "k2"
proxy = "http://own:8080"
[channels.c]
type = "bark"
key = "k3"
proxy = "none"
[channels.mail]
type = "email"
host = "smtp.example.com"
from = "pp@example.com"
to = ["ops@example.com"]
`;
  test("[defaults] proxy fills in channels without their own; a channel's own wins; none stays none", () => {
    const text = `[defaults]\nproxy = "http://dflt:3128"\n${base}`;
    expect(opts(text, "a").proxy).toBe("http://dflt:3128");
    expect(opts(text, "b").proxy).toBe("http://own:8080");
    expect(opts(text, "c").proxy).toBe("none");
  });
  test("without [defaults] proxy, a channel without one follows the environment", () => {
    expect(opts(base, "a").proxy).toBeUndefined();
  });
  test("[defaults] proxy does not apply to e-mail, which speaks SMTP", () => {
    expect(opts(`[defaults]\nproxy = "http://dflt:3128"\n${base}`, "mail").proxy).toBeUndefined();
  });
  test("an e-mail channel with a proxy is refused, saying why", () => {
    expect(() => load(`${base}proxy = "http://u:pw-123456@own:8080"\n`)).toThrow(/channels\.mail\.proxy: an email channel sends over SMTP, which does not go through an HTTP proxy/);
  });
  test.each(["socks5", "socks5h", "socks4", "socks"])("%s:// is refused at load with what to use instead", (scheme) => {
    let message = "";
    try {
      load(`[channels.x]\ntype = "bark"\nkey = "k"\nproxy = "${scheme}://user:pw-secret-1@127.0.0.1:1080"\n`);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`channels.x.proxy: ${scheme}:// proxies are not supported`);
    expect(message).toContain("http://");
    expect(message).not.toContain("pw-secret-1");
    expect(message).not.toContain("\n");
  });
  test.each([
    ["ftp://proxy:21", "must be an http:// or https:// proxy URL"],
    ["proxy.corp:3128", "must be an http:// or https:// proxy URL"],
    ["not a url", "must be a proxy URL"],
    ["http://proxy:3128/path", "no path or query"],
  ])("%s is refused", (value, why) => {
    expect(() => load(`[defaults]\nproxy = "${value}"\n`)).toThrow(why);
  });
  test("https:// proxies are accepted", () => {
    expect(proxyProblem("https://u:p@proxy.corp:8443")).toBeUndefined();
  });
  test("a proxy's login joins the secrets every output is cleaned of", () => {
    const cfg = load(`[defaults]\nproxy = "http://alice:pw%2Fsecret-9@dflt:3128"\n${base}`);
    const redact = redactor(secretsOf(cfg.channels.values()));
    const basic = Buffer.from("alice:pw/secret-9").toString("base64");
    expect(redact(`login pw/secret-9 pw%2Fsecret-9 ${basic}`)).toBe("login *** *** ***");
  });
  test("a user name that is a plain word is not a secret (it would hide that word in every message); others are", () => {
    const redact = redactor(proxySecrets("http://proxy:pw-secret-9@dflt:3128"));
    expect(redact("the proxy refused pw-secret-9")).toBe("the proxy refused ***");
    expect(redactor(proxySecrets("http://svc-relay7:pw-secret-9@dflt:3128"))("user svc-relay7")).toBe("user ***");
  });
  test("the environment's proxy logins are secrets too", () => {
    useEnv({ HTTPS_PROXY: "http://bob:env-pass-77@proxy.corp:3128" });
    expect(redactor(secretsOf([]))("got env-pass-77")).toBe("got ***");
  });
});

describe("shown and secret forms", () => {
  test("showProxy hides the login, keeps scheme, host and port", () => {
    expect(showProxy("http://u:p@proxy.corp:3128")).toBe("http://***@proxy.corp:3128");
    expect(showProxy("https://proxy.corp")).toBe("https://proxy.corp");
  });
  test("proxySecrets: none for a proxy without a login or for none", () => {
    expect(proxySecrets("http://proxy.corp:3128")).toEqual([]);
    expect(proxySecrets("none")).toEqual([]);
    expect(proxySecrets(undefined)).toEqual([]);
  });
});

describe("exchange through a proxy", () => {
  const post = (url: string) => ({ method: "POST", url, headers: { "content-type": "application/json" }, body: "{}" });

  test("a configured proxy carries the request with its login", async () => {
    const p = proxy({ login: "u:pw" });
    const t = target();
    const res = await exchange(post(`http://127.0.0.1:${t.port}/hook`), 5000, undefined, p.url("u:pw"));
    expect(res.ok).toBe(true);
    expect(p.seen).toEqual([{ method: "POST", url: `http://127.0.0.1:${t.port}/hook`, login: "u:pw" }]);
    expect(t.hits).toEqual(["/hook"]);
  });

  test("a configured proxy is used even for a host NO_PROXY names (fetch alone would skip it)", async () => {
    const p = proxy();
    const t = target();
    useEnv({ NO_PROXY: "127.0.0.1" });
    const res = await exchange(post(`http://127.0.0.1:${t.port}/hook`), 5000, undefined, p.url());
    expect(res.ok).toBe(true);
    expect(p.seen.length).toBe(1);
  });

  test("HTTP_PROXY is not used for loopback even when NO_PROXY is set (fetch alone would use it)", async () => {
    const p = proxy();
    const t = target();
    useEnv({ HTTP_PROXY: p.url(), NO_PROXY: "example.com" });
    const res = await exchange(post(`http://127.0.0.1:${t.port}/hook`), 5000);
    expect(res.ok).toBe(true);
    expect(p.seen.length).toBe(0);
    expect(t.hits).toEqual(["/hook"]);
  });

  test("HTTP_PROXY carries a request to a name that is not loopback by name", async () => {
    const p = proxy();
    const t = target();
    useEnv({ HTTP_PROXY: p.url() });
    const res = await exchange(post(`http://hooks.localhost:${t.port}/hook`), 5000);
    expect(res.ok).toBe(true);
    expect(p.seen.map((s) => s.url)).toEqual([`http://hooks.localhost:${t.port}/hook`]);
  });

  test('"none" connects directly though HTTP_PROXY is set', async () => {
    const p = proxy();
    const t = target();
    useEnv({ HTTP_PROXY: p.url() });
    const res = await exchange(post(`http://hooks.localhost:${t.port}/hook`), 5000, undefined, "none");
    expect(res.ok).toBe(true);
    expect(p.seen.length).toBe(0);
    expect(t.hits).toEqual(["/hook"]);
  });

  test("NO_PROXY makes a request go direct", async () => {
    const p = proxy();
    const t = target();
    useEnv({ HTTP_PROXY: p.url(), NO_PROXY: ".localhost" });
    const res = await exchange(post(`http://hooks.localhost:${t.port}/hook`), 5000);
    expect(res.ok).toBe(true);
    expect(p.seen.length).toBe(0);
  });

  test("407 for an http URL: a permanent error naming the proxy, without the password", async () => {
    const p = proxy({ login: "u:right" });
    const res = await exchange(post("http://platform.invalid/hook"), 5000, undefined, p.url("u:wrong-pass-1"));
    if (res.ok) throw new Error("expected a failure");
    expect(res).toMatchObject({ kind: "proxy", permanent: true, status: 407 });
    expect(res.error).toBe(`the proxy http://***@127.0.0.1:${p.port} refused pp's credentials (HTTP 407 Proxy Authentication Required): check the user and password in the proxy URL`);
  });

  test("407 to CONNECT for an https URL: the same permanent error", async () => {
    const p = proxy({ login: "u:right" });
    const res = await exchange(post("https://platform.invalid/hook"), 5000, undefined, p.url("u:wrong-pass-1"));
    if (res.ok) throw new Error("expected a failure");
    expect(res).toMatchObject({ kind: "proxy", permanent: true, status: 407 });
    expect(res.error).toContain(`the proxy http://***@127.0.0.1:${p.port} refused pp's credentials`);
    expect(res.error).not.toContain("wrong-pass-1");
  });

  test("407 without a login says to give one; the variable it came from is named", async () => {
    const p = proxy({ login: "u:right" });
    useEnv({ HTTPS_PROXY: p.url() });
    const res = await exchange(post("https://platform.invalid/hook"), 5000);
    if (res.ok) throw new Error("expected a failure");
    expect(res.error).toBe(`the proxy http://127.0.0.1:${p.port} (from HTTPS_PROXY) requires a login (HTTP 407 Proxy Authentication Required): give it as http://user:password@host:port`);
  });

  test("a CONNECT the proxy refuses with 403 is permanent; with 502 it is retried", async () => {
    const forbidden = proxy({ connect: 403 });
    const a = await exchange(post("https://platform.invalid/hook"), 5000, undefined, forbidden.url());
    expect(a).toMatchObject({ ok: false, kind: "proxy", permanent: true, status: 403 });
    if (!a.ok) expect(a.error).toContain("refused to connect to platform.invalid (HTTP 403 from the proxy)");
    const down = proxy({ connect: 502 });
    const b = await exchange(post("https://platform.invalid/hook"), 5000, undefined, down.url());
    expect(b).toMatchObject({ ok: false, kind: "proxy", permanent: false, status: 502 });
    if (!b.ok) expect(b.error).toContain("could not reach platform.invalid (HTTP 502 from the proxy)");
  });

  test("a proxy that refuses connections is named, not the platform", async () => {
    const p = proxy();
    const port = p.port;
    p.stop();
    const res = await exchange(post("https://platform.example/hook"), 5000, undefined, `http://u:pw-x-123@127.0.0.1:${port}`);
    if (res.ok) throw new Error("expected a failure");
    expect(res.kind).toBe("proxy");
    expect(res.error).toBe(`connection refused by proxy http://***@127.0.0.1:${port}: nothing accepts connections there (is the server up, and the port right?)`);
    expect(res.permanent).toBe(false);
  });

  test("an https:// proxy is spoken to over TLS: an untrusted certificate of its own is named as the proxy's", async () => {
    const p = proxy({ tls: selfSignedCert(tempDir("pp-proxy-cert-")) });
    const res = await exchange(post("http://platform.invalid/hook"), 5000, undefined, p.url("u:pw-t-123"));
    if (res.ok) throw new Error("expected a failure");
    expect(res).toMatchObject({ kind: "proxy", permanent: true });
    expect(res.error).toStartWith(`the TLS certificate of proxy https://***@127.0.0.1:${p.port} is self-signed and not trusted`);
    expect(p.seen.length).toBe(0);
  });

  test("a SOCKS proxy from the environment fails permanently, saying why", async () => {
    useEnv({ ALL_PROXY: "socks5://user:pw-s-123@127.0.0.1:1080" });
    const res = await exchange(post("https://platform.example/hook"), 5000);
    if (res.ok) throw new Error("expected a failure");
    expect(res).toMatchObject({ kind: "proxy", permanent: true });
    expect(res.error).toBe('the proxy socks5://***@127.0.0.1:1080 (from ALL_PROXY) is not usable: pp can only use http:// and https:// proxies; point ALL_PROXY at an http:// proxy, or set proxy = "none" on the channel');
  });

  test("a proxy variable that is not a URL fails permanently, naming the variable", async () => {
    useEnv({ HTTPS_PROXY: "http://[::bad" });
    const res = await exchange(post("https://platform.example/hook"), 5000);
    if (res.ok) throw new Error("expected a failure");
    expect(res).toMatchObject({ kind: "proxy", permanent: true });
    expect(res.error).toBe('the proxy in HTTPS_PROXY is not a valid proxy URL; point HTTPS_PROXY at an http:// proxy, or set proxy = "none" on the channel');
  });
});
