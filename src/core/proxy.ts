/**
 * Which proxy, if any, a request goes through. pp decides this itself and hands fetch the answer for every
 * request (a proxy URL, or `false` for a direct connection): left to itself, Bun's fetch reads the proxy
 * variables too, but bypasses localhost only while NO_PROXY is unset, and applies NO_PROXY even to a proxy
 * given explicitly, so a channel's own proxy would be skipped for hosts NO_PROXY names.
 *
 * The rules:
 * - a channel's `proxy` setting, else `[defaults] proxy`: that proxy for every request of the channel, NO_PROXY
 *   or not; "none" connects directly;
 * - otherwise the environment: https_proxy / HTTPS_PROXY for https URLs, http_proxy / HTTP_PROXY for http URLs,
 *   then all_proxy / ALL_PROXY (the lower-case name first, as curl reads them; an empty value counts as unset),
 *   unless NO_PROXY / no_proxy names the host, or the host is localhost or a loopback address (a proxy
 *   elsewhere cannot reach this machine's loopback).
 */

/** The value of the `proxy` setting that means a direct connection, whatever the environment says. */
export const NO_PROXY_SETTING = "none";

/** Where a request goes: straight to the server, or through a proxy (named, with where pp found it). */
export type Route = { proxy: undefined } | { proxy: string; from: string };

/** The schemes Bun's fetch can talk to a proxy with. */
const SCHEMES = new Set(["http:", "https:"]);

/**
 * What is wrong with a `proxy` setting, or undefined. The value is never repeated: it may hold a password.
 */
export function proxyProblem(value: string): string | undefined {
  if (value === NO_PROXY_SETTING) return undefined;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined && /^socks/.test(scheme)) {
    return `${scheme}:// proxies are not supported: the runtime pp is built on (Bun) speaks only to http:// and https:// proxies; use an HTTP proxy (many SOCKS tools also offer one, or put one such as privoxy or gost in front of it), or "none"`;
  }
  if (!URL.canParse(value)) return 'must be a proxy URL such as "http://user:password@host:port", or "none"';
  const u = new URL(value);
  if (!SCHEMES.has(u.protocol)) return `must be an http:// or https:// proxy URL (not ${u.protocol}//), or "none"`;
  if (u.hostname === "") return "must name the proxy's host";
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash) return "must be only scheme, credentials, host and port (no path or query)";
  return undefined;
}

/** A proxy URL as pp shows it: credentials, if any, as ***. */
export function showProxy(url: string): string {
  if (!URL.canParse(url)) return "(invalid proxy URL)";
  const u = new URL(url);
  return `${u.protocol}//${u.username || u.password ? "***@" : ""}${u.host}`;
}

/** The strings of a proxy URL that must never be shown: its credentials in every form, and the URL itself. */
export function proxySecrets(url: string | undefined): string[] {
  if (!url || url === NO_PROXY_SETTING || !URL.canParse(url)) return [];
  const u = new URL(url);
  if (!u.username && !u.password) return [];
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const user = decode(u.username);
  const pass = decode(u.password);
  const basic = (s: string) => Buffer.from(s).toString("base64");
  // A user name that is a plain word ("proxy", "admin") would be hidden in every sentence pp writes about proxies;
  // pp never shows it (showProxy), and the password and the Basic pair are what grant access.
  const names = /^[A-Za-z]{1,15}$/.test(user) ? [] : [u.username, user];
  return [...new Set([url, ...names, u.password, pass, basic(`${user}:${pass}`), basic(`${u.username}:${u.password}`)])].filter((s) => s !== "");
}

/** The secrets of every proxy the environment names: a proxy's answer or an error could carry them too. */
export function environmentProxySecrets(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  // A plain loop: flatMap is compiled on its first use, which every pp send would pay for six unset variables.
  const out: string[] = [];
  for (const name of VARIABLES) if (env[name]) out.push(...proxySecrets(env[name]));
  return out;
}

const VARIABLES = ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

function fromEnv(env: Readonly<Record<string, string | undefined>>, names: string[]): { value: string; name: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { value, name };
  }
  return undefined;
}

/**
 * The route of a request to `url`. `setting` is the channel's effective `proxy` setting (its own, else the
 * [defaults] one): a proxy URL, "none", or undefined to follow the environment.
 */
export function route(url: string, setting: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): Route {
  if (setting === NO_PROXY_SETTING) return { proxy: undefined };
  if (setting !== undefined) return { proxy: setting, from: "config" };
  if (!URL.canParse(url)) return { proxy: undefined };
  const u = new URL(url);
  const https = u.protocol === "https:";
  if (!https && u.protocol !== "http:") return { proxy: undefined };
  const found = fromEnv(env, https ? ["https_proxy", "HTTPS_PROXY"] : ["http_proxy", "HTTP_PROXY"]) ?? fromEnv(env, ["all_proxy", "ALL_PROXY"]);
  if (!found) return { proxy: undefined };
  const host = bare(u.hostname);
  const port = Number(u.port || (https ? 443 : 80));
  if (isLoopback(host)) return { proxy: undefined };
  const list = fromEnv(env, ["no_proxy", "NO_PROXY"]);
  if (list && bypassed(host, port, list.value)) return { proxy: undefined };
  // A proxy URL without a scheme ("proxy:3128") is common in these variables and means http.
  const value = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(found.value) ? found.value : `http://${found.value}`;
  return { proxy: value, from: found.name };
}

/**
 * The route as fetch's `proxy` option: always explicit, since left undefined fetch applies the environment by its
 * own rules, and given a proxy it still skips it for the hosts NO_PROXY names unless told not to.
 */
export function fetchProxy(r: Route): false | { url: string; respectNoProxy: false } {
  return r.proxy === undefined ? false : { url: r.proxy, respectNoProxy: false };
}

/** The route in words, for --verbose: "via proxy http://***@host:3128 (HTTPS_PROXY)", or undefined when direct. */
export function describeRoute(r: Route): string | undefined {
  if (r.proxy === undefined) return undefined;
  return `via proxy ${showProxy(r.proxy)}${r.from === "config" ? "" : ` (${r.from})`}`;
}

function bare(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "").toLowerCase();
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  const v4 = ipv4(host);
  if (v4 !== undefined) return v4 >>> 24 === 127;
  const v6 = ipv6(host);
  return v6 === 1n;
}

/**
 * Whether NO_PROXY names the host. Entries are separated by commas or spaces: `*` (every host), a host name
 * (itself and its subdomains; a leading "." or "*." changes nothing), an IP address, a CIDR block such as
 * 10.0.0.0/8 or fd00::/8 (for hosts written as addresses), each optionally with ":port".
 */
export function bypassed(host: string, port: number, noProxy: string): boolean {
  const h = bare(host);
  const hostV4 = ipv4(h);
  const hostV6 = hostV4 === undefined ? ipv6(h) : undefined;
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    let name = entry;
    let wantPort: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      name = bracketed[1]!;
      wantPort = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
    } else if ((entry.match(/:/g) ?? []).length === 1) {
      const [n, p] = entry.split(":");
      if (!/^\d+$/.test(p!)) continue;
      name = n!;
      wantPort = Number(p);
    }
    if (wantPort !== undefined && wantPort !== port) continue;
    const slash = name.indexOf("/");
    if (slash !== -1) {
      const bits = Number(name.slice(slash + 1));
      const net = name.slice(0, slash);
      if (!/^\d{1,3}$/.test(name.slice(slash + 1))) continue;
      const netV4 = ipv4(net);
      if (netV4 !== undefined && hostV4 !== undefined && bits <= 32) {
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        if (((netV4 & mask) >>> 0) === ((hostV4 & mask) >>> 0)) return true;
        continue;
      }
      const netV6 = ipv6(net);
      if (netV6 !== undefined && hostV6 !== undefined && bits <= 128) {
        const shift = BigInt(128 - bits);
        if (netV6 >> shift === hostV6 >> shift) return true;
      }
      continue;
    }
    const entryV6 = ipv6(name);
    if (entryV6 !== undefined) {
      if (hostV6 === entryV6) return true;
      continue;
    }
    const domain = name.replace(/^\*?\./, "").replace(/\.$/, "");
    if (domain !== "" && (h === domain || h.endsWith(`.${domain}`))) return true;
  }
  return false;
}

function ipv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function ipv6(s: string): bigint | undefined {
  if (!s.includes(":") || !/^[0-9a-f:.]+$/.test(s)) return undefined;
  let text = s;
  // An IPv4 tail (::ffff:10.0.0.1) is two groups.
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const v4 = ipv4(tail[2]!);
    if (v4 === undefined) return undefined;
    text = `${tail[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (x: string) => (x === "" ? [] : x.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return undefined;
  const all = [...head, ...Array<string>(fill).fill("0"), ...rest];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}
