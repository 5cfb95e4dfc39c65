/**
 * A forward HTTP proxy on 127.0.0.1 for tests: it takes absolute-form requests (http:// targets) and passes them
 * on, and answers CONNECT (https:// targets) with a refusal, since the tests need only its refusals there. With
 * `login`, it requires `Proxy-Authorization: Basic` for that "user:password" and answers 407 otherwise. Every
 * request is recorded, refused or not.
 */
import type { Cert } from "./tls.ts";

export interface ProxySeen { method: string; url: string; login: string | null }

export interface TestProxy {
  port: number;
  /** The proxy's URL, with `login` ("user:password") in it when given. */
  url(login?: string): string;
  seen: ProxySeen[];
  stop(): void;
}

/** `tls`: an https:// proxy with that certificate (test/fakes/tls.ts). `connect`: the status CONNECT gets (502). */
export function startProxy(o: { login?: string; connect?: number; tls?: Cert } = {}): TestProxy {
  const seen: ProxySeen[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    development: false,
    ...(o.tls ? { tls: { cert: Bun.file(o.tls.cert), key: Bun.file(o.tls.key) } } : {}),
    async fetch(req) {
      const auth = req.headers.get("proxy-authorization");
      const login = auth?.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString() : null;
      // Over TLS the server names an absolute-form target https:, whatever it was; the request said http.
      const target = o.tls && req.method !== "CONNECT" ? req.url.replace(/^https:/, "http:") : req.url;
      seen.push({ method: req.method, url: target, login });
      if (o.login !== undefined && login !== o.login) {
        return new Response("proxy login required", { status: 407, headers: { "Proxy-Authenticate": 'Basic realm="test proxy"' } });
      }
      if (req.method === "CONNECT") return new Response(null, { status: o.connect ?? 502 });
      const headers = new Headers(req.headers);
      headers.delete("proxy-authorization");
      headers.delete("host");
      try {
        const res = await fetch(target, {
          method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer(),
          proxy: false, redirect: "manual",
        });
        const out = new Headers(res.headers);
        out.delete("content-encoding");
        out.delete("content-length");
        return new Response(await res.arrayBuffer(), { status: res.status, headers: out });
      } catch {
        return new Response("proxy could not reach the server", { status: 502 });
      }
    },
  });
  const port = server.port!;
  return {
    port,
    url: (login) => `${o.tls ? "https" : "http"}://${login ? `${login}@` : ""}127.0.0.1:${port}`,
    seen,
    stop: () => void server.stop(true),
  };
}
