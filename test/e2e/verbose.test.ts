/**
 * End-to-end: `pp send -v` shows each request and answer on stderr, redacted as --dry-run is, with timings.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

const SECRET = "feishu-signing-secret-for-verbose";
const HOOK_TOKEN = "hook-token-0123456789abcdef";
const BEARER = "bearer-token-abcdef987654";
let feishu: Fake;
let echo: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  feishu = await startFake("feishu", { secret: SECRET });
  // A relay that echoes what it was sent, credentials included: the answer shown must be redacted too.
  echo = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      const body = await req.text();
      return Response.json({ ok: true, url: req.url, auth: req.headers.get("authorization"), body });
    },
  });
});
afterAll(async () => {
  await feishu.stop();
  echo.stop(true);
});

function workspace(): string {
  const dir = tempDir("pp-verbose-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[log]
path = ${q(join(dir, "pp.db"))}
[channels.fs]
type = "feishu"
webhook = ${q(feishu.webhook)}
secret = "\${PP_TEST_SECRET}"
retries = 2
[channels.relay]
type = "webhook"
url = ${q(`http://127.0.0.1:${echo.port}/hook/${HOOK_TOKEN}`)}
headers = { Authorization = "Bearer ${BEARER}" }
`,
  );
  return dir;
}

test("pp send -v prints each request and answer, with timings, and no secret", async () => {
  const cwd = workspace();
  feishu.reset();
  feishu.fault({ kind: "status", status: 503, body: "busy" }, 1);
  const r = await pp(["send", "-v", "--ch", "fs,relay", "verbose check"], { cwd, env: { PP_TEST_SECRET: SECRET } });
  expect(r.stderr).not.toContain("internal error");
  expect(r.code).toBe(0);
  const err = r.stderr;

  // Requests: method and redacted URL, headers, body.
  expect(err).toMatch(/^> POST http:\/\/127\.0\.0\.1:\d+\/open-apis\/bot\/v2\/hook\/\*\*\*$/m);
  expect(err).toMatch(/^> POST http:\/\/127\.0\.0\.1:\d+\/\*\*\*$/m);
  expect(err).toMatch(/^> Content-Type: application\/json/im);
  expect(err).toContain('"sign":"***"');
  expect(err).toMatch(/^> .*verbose check/m);
  // Answers: the status, the time, the body; the retry after the 503 shows as a second try.
  expect(err).toMatch(/^\* \+\d+\.\d{3}s fs try 1: HTTP 503 in \d+ms/m);
  expect(err).toMatch(/^\* \+\d+\.\d{3}s fs try 2: HTTP 200 in \d+ms$/m);
  expect(err).toMatch(/^< busy$/m);
  expect(err).toMatch(/^\* \+\d+\.\d{3}s relay try 1: HTTP 200 in \d+ms$/m);
  expect(err).toMatch(/^< .*"ok":true/m);

  // What went out really held the secrets: the redaction hid them.
  const sent = feishu.accepted()[0]!;
  expect(sent.json.sign.length).toBeGreaterThan(8);
  for (const secret of [SECRET, feishu.token, HOOK_TOKEN, BEARER, sent.json.sign]) {
    expect(err).not.toContain(secret);
    expect(r.stdout).not.toContain(secret);
  }
  expect(err).toMatch(/^> Authorization: \*\*\*$/m);
});

test("without -v, requests and answers are not printed", async () => {
  const cwd = workspace();
  const r = await pp(["send", "--ch", "relay", "quiet check"], { cwd, env: { PP_TEST_SECRET: SECRET } });
  expect(r.code).toBe(0);
  expect(r.stderr).not.toMatch(/^[<>] /m);
});
