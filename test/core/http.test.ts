/**
 * The one place pp talks to the network, against real local servers: whole answers are classified, huge ones
 * are not read past the cap, redirects are not followed, and every transport failure is told in pp's words.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { channels } from "../../src/channels/index.ts";
import { exchange, MAX_ANSWER_BYTES, networkError } from "../../src/core/http.ts";
import { MAX_PLATFORM_WAIT_MS, settle } from "../../src/core/wait.ts";
import { selfSignedCert, serveTls } from "../fakes/tls.ts";
import { tempDir } from "../helpers.ts";

const servers: { stop(): unknown }[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

function serve(handler: (req: Request) => Response | Promise<Response>) {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", development: false, fetch: handler });
  servers.push({ stop: () => s.stop(true) });
  return `http://127.0.0.1:${s.port}`;
}

/** A raw TCP server, for answers no HTTP server would give. */
async function rawServer(onSocket: (s: Socket) => void): Promise<string> {
  const srv: NetServer = createServer(onSocket);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  servers.push({ stop: () => new Promise((r) => srv.close(r)) });
  return `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
}

const post = (url: string) => ({ method: "POST", url, headers: { "content-type": "application/json" }, body: "{}" });
const RAW_TEXT = /fetch\(|verbose|ECONNRESET:|socket connection/;

describe("answers", () => {
  test("a success answer of 200 KiB is read whole and classified as success", async () => {
    const big = JSON.stringify({ errcode: 0, errmsg: "ok", pad: "x".repeat(200 * 1024) });
    const url = serve(() => new Response(big, { headers: { "content-type": "application/json" } }));
    const res = await exchange(post(`${url}/cgi-bin/webhook/send?key=k`), 5000);
    if (!res.ok) throw new Error(res.error);
    expect(res.response.body.length).toBe(big.length);
    const wecom = channels.wecom;
    expect(wecom.classify(res.response, {} as never).kind).toBe("ok");
  });

  test("an endless answer is not read past the cap and is never taken as complete", async () => {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const url = serve(() => new Response(new ReadableStream({ pull(c) { sent += chunk.length; c.enqueue(chunk); } })));
    const res = await exchange(post(url), 10_000);
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.kind).toBe("too_large");
    // A 2xx whose verdict could not be read may have been accepted: no blind retry.
    expect(res.permanent).toBe(true);
    expect(res.error).toContain("larger than 1 MiB");
    // The server produced on demand; pp stopped asking soon after the cap.
    expect(sent).toBeLessThan(MAX_ANSWER_BYTES * 8);
  });

  test("a declared length over the cap is refused before reading; a 503 stays retryable", async () => {
    const url = serve(() => new Response("y".repeat(MAX_ANSWER_BYTES + 1), { status: 503 }));
    const res = await exchange(post(url), 5000);
    expect(res).toMatchObject({ ok: false, kind: "too_large", permanent: false, status: 503 });
  });
});

describe("redirects", () => {
  test("a 307 is not followed and is a permanent error naming only the new host", async () => {
    const hits: string[] = [];
    const url = serve((req) => {
      hits.push(req.method);
      return new Response("moved", { status: 307, headers: { location: "https://hooks.example.net:8443/new/SECRET-TOKEN?key=hunter2" } });
    });
    const res = await exchange(post(`${url}/old`), 5000);
    expect(res).toMatchObject({ ok: false, kind: "redirect", permanent: true, status: 307 });
    if (res.ok) return;
    expect(res.error).toBe("the webhook URL redirects to hooks.example.net:8443 (HTTP 307); use the new URL");
    expect(hits).toEqual(["POST"]);
  });

  test("a redirect loop costs one request", async () => {
    let hits = 0;
    const url = serve((req) => {
      hits++;
      return new Response(null, { status: 302, headers: { location: new URL(req.url).pathname } });
    });
    const res = await exchange(post(`${url}/loop`), 5000);
    expect(res).toMatchObject({ ok: false, kind: "redirect", permanent: true });
    if (!res.ok) expect(res.error).toContain("redirects to 127.0.0.1:");
    expect(hits).toBe(1);
  });
});

describe("transport failures are told in pp's words", () => {
  test("a connection closed before an answer", async () => {
    const url = await rawServer((s) => s.once("data", () => s.end()));
    const res = await exchange(post(`${url}/hooks/tok3n`), 5000);
    expect(res).toMatchObject({ ok: false, kind: "network", permanent: false });
    if (res.ok) return;
    expect(res.error).toMatch(/^the connection to 127\.0\.0\.1:\d+ was reset or closed before a complete answer$/);
    expect(res.error).not.toMatch(RAW_TEXT);
  });

  test("a reset in the middle of the body", async () => {
    const url = await rawServer((s) =>
      s.once("data", () => {
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"errcode\":0");
        setTimeout(() => s.resetAndDestroy(), 20);
      }),
    );
    const res = await exchange(post(url), 5000);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error).not.toMatch(RAW_TEXT);
  });

  test("a refused connection", async () => {
    const res = await exchange(post("http://127.0.0.1:9/x"), 5000);
    expect(res).toMatchObject({ ok: false, kind: "network", permanent: false });
    if (!res.ok) expect(res.error).toStartWith("connection refused by 127.0.0.1:9");
  });

  test("plain HTTP on the other end of an https URL", async () => {
    const url = serve(() => new Response("ok"));
    const res = await exchange(post(url.replace("http:", "https:")), 5000);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error).toContain("TLS handshake");
  });

  test("an untrusted certificate is permanent and says how to trust a private CA", async () => {
    let hits = 0;
    const s = serveTls(selfSignedCert(tempDir()), () => (hits++, new Response("ok")));
    servers.push({ stop: () => s.stop(true) });
    const res = await exchange(post(`https://127.0.0.1:${s.port}/hooks/tok3n`), 5000);
    expect(res).toMatchObject({ ok: false, kind: "tls", permanent: true });
    if (res.ok) return;
    expect(res.error).toBe(`the TLS certificate of 127.0.0.1:${s.port} is self-signed and not trusted; if the server uses a private or corporate CA, point NODE_EXTRA_CA_CERTS (or SSL_CERT_FILE) at its certificate in PEM`);
    expect(hits).toBe(0);
  });

  test.each([
    ["ERR_TLS_CERT_ALTNAME_INVALID", 'ERR_TLS_CERT_ALTNAME_INVALID fetching "https://h/secret". For more information, pass `verbose: true` in the second argument to fetch()', "is for another host name", true],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "self signed certificate", "is self-signed", true],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate", "unknown CA", true],
    ["SELF_SIGNED_CERT_IN_CHAIN", "self signed certificate in certificate chain", "self-signed CA", true],
    ["CERT_HAS_EXPIRED", "certificate has expired", "has expired", true],
    ["ECONNRESET", "ECONNRESET: The socket connection was closed unexpectedly. For more information, pass `verbose: true` in the second argument to fetch()", "reset or closed", false],
    ["ENOTFOUND", "getaddrinfo ENOTFOUND h", "not found (DNS)", false],
    ["SOME_NEW_CODE", "pass `verbose: true` to fetch() https://h/secret", "network error talking to h:1 (SOME_NEW_CODE)", false],
    ["CERT_SOMETHING_NEW", "fetch() https://h/secret", "(CERT_SOMETHING_NEW)", true],
  ])("%s", (code, message, words, permanent) => {
    const e = Object.assign(new TypeError(message), { code });
    const n = networkError(e, "h:1");
    expect(n.text).toContain(words);
    expect(n.permanent).toBe(permanent);
    expect(n.text).not.toMatch(RAW_TEXT);
    expect(n.text).not.toContain("secret");
    if (permanent) expect(n.text).toContain("NODE_EXTRA_CA_CERTS");
  });

  test("a header HTTP does not allow is permanent and named, its value never shown", async () => {
    const res = await exchange({ method: "POST", url: "http://127.0.0.1:9/x", headers: { "x-token": "s3cr3t\nvalue" }, body: "{}" }, 5000);
    expect(res).toMatchObject({ ok: false, permanent: true });
    if (res.ok) return;
    expect(res.error).toStartWith("the request header x-token is not valid HTTP");
    expect(res.error).not.toContain("s3cr3t");
  });

  test("an error without a code never repeats the runtime's message", () => {
    expect(networkError(new TypeError("fetch() failed for https://h/tok, pass `verbose: true`"), "h").text).toBe("network error talking to h");
    expect(networkError({ code: "A\u001b]0;x\u0007" }, "h").text).toBe("network error talking to h");
  });
});

describe("a platform's wait", () => {
  const response = (status: number, body: string, headers: Record<string, string> = {}) =>
    ({ ok: true as const, latencyMs: 1, response: { status, body, headers: new Headers(headers) } });

  test("Retry-After: 100000 is capped and its cause named", () => {
    const o = settle(channels.slack, {}, response(429, "rate_limited", { "retry-after": "100000" }), false);
    expect(o.kind).toBe("rate_limited");
    expect(o.retryAfterMs).toBe(MAX_PLATFORM_WAIT_MS);
    expect(o.wait).toEqual({ ms: MAX_PLATFORM_WAIT_MS, cause: "Slack asked to wait 100000s (Retry-After), capped at 15m" });
    expect(o.error).toContain("Slack asked to wait 100000s");
  });

  test("a wait too long to be a number is capped too", () => {
    const o = settle(channels.slack, {}, response(429, "rate_limited", { "retry-after": "9".repeat(400) }), false);
    expect(o.wait).toEqual({ ms: MAX_PLATFORM_WAIT_MS, cause: "Slack asked to wait longer than 30 years (Retry-After), capped at 15m" });
  });

  test("DingTalk's 10-minute block is honoured whole and explained", () => {
    const o = settle(channels.dingtalk, {}, response(200, '{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}'), false);
    expect(o.wait).toEqual({ ms: 600_000, cause: "DingTalk blocks a robot for 10 minutes after too many messages (errcode 130101)" });
    expect(MAX_PLATFORM_WAIT_MS).toBeGreaterThanOrEqual(600_000);
  });

  test("a short wait is kept as asked", () => {
    const o = settle(channels.discord, {}, response(429, '{"message":"You are being rate limited.","retry_after":1.5}'), false);
    expect(o.wait).toEqual({ ms: 1500, cause: "Discord asked to wait 1.5s" });
  });

  test("a failed exchange carries whether a retry can help", () => {
    const failed = { ok: false as const, latencyMs: 1, error: "x", status: 307 };
    expect(settle(channels.slack, {}, { ...failed, kind: "redirect", permanent: true }, false).kind).toBe("permanent");
    expect(settle(channels.slack, {}, { ...failed, kind: "network", permanent: false }, false).kind).toBe("retryable");
  });
});
