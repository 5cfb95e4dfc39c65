import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { PpError } from "../../src/core/errors.ts";
import { parseListen, parseSize, serveSettings, type ServeFlags } from "../../src/server/settings.ts";

const FILE = "/etc/pp/config.toml";
const channels = `[channels.ops]
type = "slack"
webhook = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
[channels.dev]
type = "discord"
webhook = "https://discord.com/api/webhooks/123/abcdefghijklmnop"
[groups]
all = ["ops", "dev"]
`;

const settings = (serve: string, flags: ServeFlags = {}, env: Record<string, string> = {}, extra = "") =>
  serveSettings(parseConfig(`${channels}${extra}[serve]\n${serve}\n`, FILE), flags, env);

function error(fn: () => unknown): PpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    return e as PpError;
  }
  throw new Error("expected an error");
}

describe("[serve] settings", () => {
  test("defaults", () => {
    expect(settings("allow_anonymous = true")).toEqual({
      listen: "127.0.0.1:39270",
      tokens: [],
      allowAnonymous: true,
      channels: ["ops", "dev"],
      idempotencyWindowMs: 120_000,
      maxBodyBytes: 1024 * 1024,
      rate: { count: 600, windowMs: 60_000 },
      queueMax: 100_000,
      workers: 16,
      graceMs: 10_000,
      deadlineMs: 86_400_000,
      user: "pp",
      metricsAuth: false,
    });
  });

  test("every key, as written in the issue's example and the extras", () => {
    process.env.PP_SETTINGS_TEST_TOKEN = "tok-from-env-123";
    const s = settings(
      `listen = "0.0.0.0:8080"
tokens = ["\${PP_SETTINGS_TEST_TOKEN}", "second-token-456"]
channels = ["all"]
idempotency_window = "5m"
max_body = "256KiB"
rate = "10/s"
queue_max = 500
workers = 4
allow_anonymous = false
user = "nobody"
grace = "30s"
deadline = "2h"
metrics_auth = true`,
    );
    expect(s).toEqual({
      listen: "0.0.0.0:8080",
      tokens: ["tok-from-env-123", "second-token-456"],
      allowAnonymous: false,
      channels: ["all"],
      idempotencyWindowMs: 300_000,
      maxBodyBytes: 256 * 1024,
      rate: { count: 10, windowMs: 1000 },
      queueMax: 500,
      workers: 4,
      graceMs: 30_000,
      deadlineMs: 7_200_000,
      user: "nobody",
      metricsAuth: true,
    });
  });

  test("token = \"...\" is accepted for a single one", () => {
    expect(settings(`token = "just-one-token"`).tokens).toEqual(["just-one-token"]);
  });

  test("channels: [serve] channels, else defaults.channels, else every channel", () => {
    expect(settings(`allow_anonymous = true\nchannels = "dev"`).channels).toEqual(["dev"]);
    expect(settings("allow_anonymous = true", {}, {}, `[defaults]\nchannels = ["ops"]\n`).channels).toEqual(["ops"]);
    expect(settings("allow_anonymous = true").channels).toEqual(["ops", "dev"]);
  });

  test("a grace of 0 stops at once", () => {
    expect(settings(`token = "abcdef"\ngrace = "0s"`).graceMs).toBe(0);
  });

  test("flags win over the environment, which wins over the file", () => {
    const file = `listen = "127.0.0.1:1000"\ntoken = "file-token-1"`;
    expect(settings(file)).toMatchObject({ listen: "127.0.0.1:1000", tokens: ["file-token-1"] });
    expect(settings(file, {}, { PP_LISTEN: "127.0.0.1:2000", PP_TOKEN: "env-token-2" })).toMatchObject({ listen: "127.0.0.1:2000", tokens: ["env-token-2"] });
    expect(settings(file, { listen: "[::1]:3000", token: "flag-token-3" }, { PP_LISTEN: "127.0.0.1:2000", PP_TOKEN: "env-token-2" })).toMatchObject({
      listen: "[::1]:3000",
      tokens: ["flag-token-3"],
    });
    // An empty environment variable counts as unset.
    expect(settings(file, {}, { PP_LISTEN: "", PP_TOKEN: "" })).toMatchObject({ listen: "127.0.0.1:1000", tokens: ["file-token-1"] });
  });

  test("without a [serve] section, PP_TOKEN alone is enough", () => {
    const cfg = parseConfig(channels, FILE);
    expect(serveSettings(cfg, {}, { PP_TOKEN: "env-only-token" }).tokens).toEqual(["env-only-token"]);
  });
});

describe("who may connect", () => {
  test("a non-loopback address without a token is refused, saying how to set one", () => {
    for (const listen of ["0.0.0.0:39270", "[::]:39270", "10.1.2.3:80", "example.internal:80"]) {
      const e = error(() => settings(`listen = "${listen}"\nallow_anonymous = true`));
      expect(e.exitCode).toBe(2);
      expect(e.message).toStartWith("refusing to listen on");
      expect(e.message).toContain("without a token");
      expect(e.message).toContain(`tokens = ["\${PP_TOKEN}"] in the [serve] section of ${FILE}`);
      expect(e.message).toContain("--token");
    }
    // --listen moves it to every interface: the same refusal.
    expect(error(() => settings("allow_anonymous = true", { listen: "0.0.0.0:1" })).message).toStartWith("refusing to listen on 0.0.0.0:1 without a token");
  });

  test("a loopback or unix listener without a token needs allow_anonymous = true", () => {
    for (const listen of ["127.0.0.1:39270", "127.0.0.2:1", "localhost:1", "[::1]:1", "[::ffff:127.0.0.1]:1", "unix:/run/pp/pp.sock"]) {
      const e = error(() => settings(`listen = "${listen}"`));
      expect(e.message).toStartWith("no token is set for");
      expect(e.message).toContain("allow_anonymous = true");
      expect(settings(`listen = "${listen}"\nallow_anonymous = true`).tokens).toEqual([]);
    }
  });

  test("with a token, any address", () => {
    expect(settings(`listen = "0.0.0.0:39270"\ntoken = "a-real-token-1"`).listen).toBe("0.0.0.0:39270");
    expect(settings(`listen = "0.0.0.0:39270"`, {}, { PP_TOKEN: "from-env-1" }).tokens).toEqual(["from-env-1"]);
    expect(settings(`listen = "0.0.0.0:39270"`, { token: "from-flag-1" }).tokens).toEqual(["from-flag-1"]);
  });

  test("an empty or unusable token is refused, without showing it", () => {
    expect(error(() => settings(`listen = "0.0.0.0:1"`, { token: "" })).message).toStartWith("--token must not be empty");
    expect(error(() => settings(`listen = "0.0.0.0:1"`, {}, { PP_TOKEN: "has space" })).message).toBe("PP_TOKEN must not contain spaces or control characters");
  });
});

describe("listen addresses", () => {
  test.each([
    ["127.0.0.1:39270", { kind: "tcp", host: "127.0.0.1", port: 39270, loopback: true }],
    ["127.0.0.1:0", { kind: "tcp", host: "127.0.0.1", port: 0, loopback: true }],
    ["0.0.0.0:39270", { kind: "tcp", host: "0.0.0.0", port: 39270, loopback: false }],
    ["[::1]:39270", { kind: "tcp", host: "::1", port: 39270, loopback: true }],
    ["[0:0:0:0:0:0:0:1]:1", { kind: "tcp", host: "::1", port: 1, loopback: true }],
    ["[::]:39270", { kind: "tcp", host: "::", port: 39270, loopback: false }],
    ["localhost:8080", { kind: "tcp", host: "localhost", port: 8080, loopback: true }],
    ["unix:/run/pp/pp.sock", { kind: "unix", path: "/run/pp/pp.sock" }],
    ["unix:///run/pp/pp.sock", { kind: "unix", path: "/run/pp/pp.sock" }],
  ])("%p", (text, expected) => {
    expect(parseListen(text)).toEqual(expected as never);
  });

  test.each([
    ["39270", /give the address too, "127\.0\.0\.1:39270" for this machine only or "0\.0\.0\.0:39270" for every interface/],
    [":39270", /give the address too, "127\.0\.0\.1:39270"/],
    ["127.0.0.1", /expected HOST:PORT such as "127\.0\.0\.1:39270", "0\.0\.0\.0:39270", "\[::1\]:39270", or "unix:\/run\/pp\/pp\.sock"/],
    ["127.0.0.1:70000", /the port must be 0 to 65535/],
    ["::1:39270", /expected HOST:PORT/],
    ["[::1:39270", /expected HOST:PORT/],
    ["[zz::1]:80", /"zz::1" is not a valid IPv6 address/],
    ["1.2.3.999:80", /"1\.2\.3\.999" is not a valid host name or IPv4 address/],
    ["ho st:80", /is not a host name or IPv4 address/],
    ["unix:", /give the socket's path after "unix:"/],
    [`unix:/${"x".repeat(200)}`, /the unix socket path .* is 201 bytes; the system allows at most 10\d, so choose a shorter one/],
  ])("%p is refused", (text, expected) => {
    expect(() => parseListen(text)).toThrow(expected);
  });

  test("a bad address in the file, the environment or a flag names where it came from", () => {
    const file = error(() => settings(`listen = "nope"`));
    expect(file.message).toBe(`${FILE}: serve.listen: invalid listen address "nope": expected HOST:PORT such as "127.0.0.1:39270", "0.0.0.0:39270", "[::1]:39270", or "unix:/run/pp/pp.sock"`);
    expect(error(() => settings(`token = "abcdef"`, {}, { PP_LISTEN: "nope" })).message).toStartWith(`PP_LISTEN: invalid listen address "nope"`);
    const flag = error(() => settings(`token = "abcdef"`, { listen: "nope" }));
    expect(flag.message).toStartWith(`--listen: invalid listen address "nope"`);
    expect(flag.code).toBe("usage");
  });
});

describe("sizes", () => {
  test.each([
    ["1MiB", 1_048_576],
    ["1 MiB", 1_048_576],
    ["512KiB", 524_288],
    ["64kb", 64_000],
    ["2MB", 2_000_000],
    ["1m", 1_048_576],
    ["100", 100],
    [4096, 4096],
    ["1GiB", 1024 ** 3],
  ])("%p", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
  test.each([
    ["1 TB", /invalid size "1 TB"/],
    ["lots", /invalid size "lots"/],
    ["0", /must be at least 1 byte/],
    [0, /must be at least 1 byte/],
    ["2GiB", /too large: at most 1GiB/],
  ])("%p is refused", (text, expected) => {
    expect(() => parseSize(text)).toThrow(expected);
  });
});

describe("[serve] errors are one line naming the file, the key and the fix", () => {
  const fail = (serve: string, extra = "") => {
    try {
      parseConfig(`${channels}${extra}[serve]\n${serve}\n`, FILE);
    } catch (e) {
      expect(e).toBeInstanceOf(PpError);
      expect((e as PpError).exitCode).toBe(2);
      return (e as Error).message;
    }
    throw new Error("expected a config error");
  };
  test.each([
    [`lisen = "127.0.0.1:1"`, `${FILE}: serve.lisen: unknown setting "lisen"; did you mean "listen"?`],
    [`tokns = ["secret-value-1"]`, `${FILE}: serve.tokns: unknown setting "tokns"; did you mean "tokens"?`],
    [`allow_anonymus = true`, `${FILE}: serve.allow_anonymus: unknown setting "allow_anonymus"; did you mean "allow_anonymous"?`],
    [`max_bdy = "1MiB"`, `${FILE}: serve.max_bdy: unknown setting "max_bdy"; did you mean "max_body"?`],
    [`metricsauth = true`, `${FILE}: serve.metricsauth: unknown setting "metricsauth"; did you mean "metrics_auth"?`],
    [`token = "aaaa1111"\ntokens = ["bbbb2222"]`, `${FILE}: serve.token: give either token or tokens, not both; tokens = [...] takes several`],
    [`tokens = []`, `${FILE}: serve.tokens: is empty; list at least one token, or remove it and set allow_anonymous = true for a loopback or unix listener`],
    [`token = ""`, `${FILE}: serve.token: must not be empty (is the environment variable it names set to an empty value?)`],
    [`tokens = ["has space 1"]`, `${FILE}: serve.tokens.0: must not contain spaces or control characters`],
    [`token = 12345678`, `${FILE}: serve.token: must be string, not a number`],
    [`max_body = "huge"`, `${FILE}: serve.max_body: invalid size "huge": expected a number of bytes or a size such as "512KiB", "1MiB" or "2MB"`],
    [`max_body = true`, `${FILE}: serve.max_body: must be a size such as "1MiB" or a number of bytes`],
    [`rate = "lots"`, /serve\.rate: invalid rate "lots": expected COUNT\/WINDOW such as "20\/min"/],
    [`idempotency_window = "soon"`, /serve\.idempotency_window: invalid duration "soon"/],
    [`grace = "-1s"`, /serve\.grace: invalid duration "-1s"/],
    [`deadline = "3d"`, `${FILE}: serve.deadline: "3d" is too long: at most 24h`],
    [`queue_max = 0`, `${FILE}: serve.queue_max: must be 1 or more`],
    [`workers = 2.5`, `${FILE}: serve.workers: must be a whole number`],
    [`workers = 5000`, `${FILE}: serve.workers: must be 1024 or less`],
    [`allow_anonymous = "yes"`, `${FILE}: serve.allow_anonymous: must be boolean, not a string`],
    [`metrics_auth = 1`, `${FILE}: serve.metrics_auth: must be boolean, not a number`],
    [`user = ""`, `${FILE}: serve.user: must not be empty; write user = "root" to keep running as root`],
    [`channels = ["opps"]`, `${FILE}: serve.channels[0]: "opps" is not a configured channel or group; did you mean "ops"?`],
    [`listen = "0.0.0.0"`, /serve\.listen: invalid listen address "0\.0\.0\.0": expected HOST:PORT/],
  ])("%p", (serve, expected) => {
    const msg = fail(serve);
    if (typeof expected === "string") expect(msg).toBe(expected);
    else expect(msg).toMatch(expected);
    expect(msg).not.toContain("\n");
    // Values that may be tokens are never repeated.
    for (const secret of ["secret-value-1", "aaaa1111", "bbbb2222", "12345678", "has space 1"]) expect(msg).not.toContain(secret);
  });

  test("a misspelt section says [serve]", () => {
    expect(() => parseConfig(`${channels}[serv]\nlisten = "x"\n`, FILE)).toThrow(`${FILE}: serv: unknown section [serv]; did you mean [serve]?`);
  });
});
