import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dispatch, type Target } from "../../src/core/dispatch.ts";
import { newId } from "../../src/core/id.ts";
import { clip, ERROR_MAX, redactor, RESPONSE_MAX, secretsOf } from "../../src/core/redact.ts";
import { parseConfig, type Config } from "../../src/config/load.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { q, tempDir } from "../helpers.ts";

describe("redactor", () => {
  test.each([
    ["as written", "key=hunter-secret!", "key=***!"],
    ["URL-encoded", "to=hunter%20secret%2Fx", "to=***"],
    ["inside a JSON string", '{"u":"a\\"hunter secret/x"}', '{"u":"a\\"***"}'],
    ["with / escaped as PHP does", '{"u":"hunter secret\\/x"}', '{"u":"***"}'],
  ])("hides a secret %s", (_name, text, expected) => {
    const redact = redactor(["hunter secret/x", "hunter-secret"]);
    expect(redact(text)).toBe(expected);
  });

  test("overlapping and touching secrets leave no piece behind", () => {
    const redact = redactor(["abcdEFGH", "EFGHijkl", "mnop"]);
    expect(redact("<abcdEFGHijkl>")).toBe("<***>");
    expect(redact("abcdEFGHmnop.")).toBe("***.");
    expect(redact("EFGHijklEFGHijkl")).toBe("***");
  });

  test("a short letters-only secret is hidden as a word, not inside longer words", () => {
    // A generic webhook at https://host/redir: its path is a secret, but pp's own "redirects" must stay readable.
    const redact = redactor(["redir", "ab12cd"]);
    expect(redact("the webhook URL redirects to host")).toBe("the webhook URL redirects to host");
    expect(redact("POST /redir failed; redir.")).toBe("POST /*** failed; ***.");
    expect(redact("xxab12cdyy")).toBe("xx***yy");
    expect(redactor(["redir", "ectsX1"])("redirectsX1")).toBe("***");
  });

  test("very short strings are not treated as secrets; no secrets is the identity", () => {
    expect(redactor(["abc", ""])("abc abc")).toBe("abc abc");
    expect(redactor([])("anything")).toBe("anything");
  });

  test("clip never splits a surrogate pair and keeps within the limit", () => {
    expect(clip("abc", 3)).toBe("abc");
    expect(clip("abcdef", 4)).toBe("abc…");
    const cut = clip("aa😀😀", 4);
    expect(cut).toBe("aa…");
    expect(cut.length).toBeLessThanOrEqual(4);
  });
});

// ---------------------------------------------------------------------------
// The core: every secret of the config is removed from what it stores and returns, before the cut.

const PATH_SECRET = "hunter-secret-value";
const OTHER_KEY = "other-channels-key";

let server: ReturnType<typeof Bun.serve> | undefined;
let store: Store | undefined;
afterEach(() => {
  server?.stop(true);
  server = undefined;
  store?.close();
  store = undefined;
});

/** A local server that fails every request with `body`. */
function hostile(body: string): string {
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(body, { status: 400 }) });
  return `http://127.0.0.1:${server.port}`;
}

function config(base: string): Config {
  return parseConfig(
    `[channels.hook]
type = "webhook"
url = ${q(`${base}/webhook/${PATH_SECRET}`)}
retries = 0
[channels.other]
type = "wecom"
webhook = ${q(`http://127.0.0.1:9/cgi-bin/webhook/send?key=${OTHER_KEY}`)}
`,
    "t.toml",
  );
}

async function send(cfg: Config, targets: Target[]) {
  store = openStore(join(tempDir(), "pp.db"));
  const now = Date.now();
  const id = newId(now);
  const r = await dispatch(
    { id, createdAt: now, text: "hi", format: "text", source: "cli", targets: targets.map((t) => t.name) },
    targets,
    { recorder: store.log, limiter: store.limiter, deadline: now + 20_000, secrets: secretsOf(cfg.channels.values()) },
  );
  const logged = store.log.get(id)!;
  const attempts = logged.deliveries.flatMap((d) => d.attempts_log);
  return { result: r, logged, attempts, all: JSON.stringify([r, logged]) };
}

describe("dispatch redacts, then cuts", () => {
  // "400 HTTP 400: " comes before the body in the error: the first offset puts the secret across the core's
  // cut, the second across where the channel used to cut the body on its own.
  test.each([ERROR_MAX - 14 - 8, ERROR_MAX - 8])("a secret across a cut leaves no piece behind (offset %d)", async (offset) => {
    const head = `${"x".repeat(offset)}${PATH_SECRET} `;
    // The second lies across the stored answer's cut.
    const body = `${head}${"y".repeat(RESPONSE_MAX - 8 - head.length)}${PATH_SECRET} tail`;
    const cfg = config(hostile(body));
    const { result, attempts, all } = await send(cfg, [cfg.channels.get("hook")!]);
    const error = result.deliveries[0]!.error!;
    expect(result.deliveries[0]!.status).toBe("failed");
    expect(error.length).toBeLessThanOrEqual(ERROR_MAX);
    expect(attempts[0]!.error!.length).toBeLessThanOrEqual(ERROR_MAX);
    expect(attempts[0]!.response!.length).toBeLessThanOrEqual(RESPONSE_MAX);
    expect(attempts[0]!.response).toEndWith("y*** tail");
    for (const piece of ["hunter-s", "hunter", "-value"]) expect(all).not.toContain(piece);
  });

  test("another channel's key echoed in an answer is removed too", async () => {
    const cfg = config(hostile(`forwarded to key=${OTHER_KEY} and it refused`));
    const { result, attempts, all } = await send(cfg, [cfg.channels.get("hook")!]);
    expect(result.deliveries[0]!.error).toContain("key=***");
    expect(attempts[0]!.response).toContain("key=***");
    expect(all).not.toContain(OTHER_KEY);
  });

  test("the push log's target of a generic webhook shows scheme, host and port only", async () => {
    const base = hostile("no");
    const cfg = config(base);
    const { logged } = await send(cfg, [cfg.channels.get("hook")!]);
    expect(logged.deliveries[0]!.target).toBe(`${base}/***`);
  });
});
