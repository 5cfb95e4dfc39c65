import { describe, expect, test } from "bun:test";
import { PpError } from "../../src/core/errors.ts";
import { createLogger, parseLogFormat, parseLogLevel, type LogFormat, type LogLevel } from "../../src/server/log.ts";

function capture(level: LogLevel, format: LogFormat) {
  const lines: string[] = [];
  const log = createLogger({ level, format, write: (l) => lines.push(l) });
  return { log, lines };
}

const request = { method: "POST", route: "/:token/:body", status: 200, latencyMs: 1.25, requestId: "01JREQUESTID0000000000000" };

describe("the daemon's log", () => {
  test("one text line per request: method, route template, status, latency, request id", () => {
    const { log, lines } = capture("info", "text");
    log.request(request);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  POST \/:token\/:body 200 1\.3ms request_id=01JREQUESTID0000000000000\n$/);
  });

  test("--log-format json: one JSON object per line with the same fields", () => {
    const { log, lines } = capture("info", "json");
    log.request({ ...request, error: "the store is busy" } as typeof request);
    log.warn("pp serve: something", { file: "/etc/pp/config.toml" });
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.endsWith("\n") && !l.slice(0, -1).includes("\n")).toBe(true);
    const [req, warn] = lines.map((l) => JSON.parse(l));
    expect(req).toMatchObject({ level: "info", method: "POST", route: "/:token/:body", status: 200, latency_ms: 1.25, request_id: request.requestId, error: "the store is busy" });
    expect(Date.parse(req.time)).toBeGreaterThan(0);
    expect(warn).toMatchObject({ level: "warn", msg: "pp serve: something", file: "/etc/pp/config.toml" });
  });

  test("levels: below the level nothing is written; silent writes nothing, not even the start line", () => {
    const warn = capture("warn", "text");
    warn.log.request(request);
    warn.log.info("no");
    warn.log.debug("no");
    warn.log.warn("yes");
    warn.log.notice("pp serve: listening on http://127.0.0.1:1");
    expect(warn.lines.map((l) => l.replace(/^\S+ /, ""))).toEqual(["WARN  yes\n", "INFO  pp serve: listening on http://127.0.0.1:1\n"]);
    const silent = capture("silent", "json");
    silent.log.error("no");
    silent.log.notice("no");
    expect(silent.lines).toEqual([]);
    const debug = capture("debug", "text");
    debug.log.debug("shown");
    expect(debug.lines).toHaveLength(1);
  });

  test("the same line many times is written every time (consola would fold repeats)", () => {
    const { log, lines } = capture("info", "text");
    for (let i = 0; i < 20; i++) log.request(request);
    expect(lines).toHaveLength(20);
  });

  test("secrets in force are hidden in every line and format, and replaced on reload", () => {
    for (const format of ["text", "json"] as const) {
      const { log, lines } = capture("info", format);
      log.secrets(["old-token-1234", "hook-key-5678"]);
      log.error("failed with old-token-1234 and hook-key-5678", { detail: "x old-token-1234" });
      log.secrets(["new-token-9999"]);
      log.info("new-token-9999 old-token-1234");
      const all = lines.join("");
      expect(all).not.toContain("hook-key-5678");
      expect(all).not.toContain("new-token-9999");
      expect(lines[0]).not.toContain("old-token-1234");
      // No longer a secret in force after the reload.
      expect(lines[1]).toContain("old-token-1234");
      if (format === "json") for (const l of lines) JSON.parse(l);
    }
  });

  test("a message cannot forge a second line or send terminal escapes", () => {
    const { log, lines } = capture("info", "text");
    log.error("bad name \"x\nINFO  POST /api/text 200\" \x1b[31mred");
    expect(lines).toHaveLength(1);
    expect(lines[0]!.slice(0, -1)).not.toContain("\n");
    expect(lines[0]).not.toContain("\x1b");
    expect(lines[0]).toContain("\\u001b[31mred");
  });

  test("levels and formats are checked, with a suggestion", () => {
    expect(parseLogLevel("DEBUG", "--log-level")).toBe("debug");
    expect(parseLogFormat("json", "--log-format")).toBe("json");
    expect(() => parseLogLevel("wran", "--log-level")).toThrow('--log-level "wran" is not a log level; did you mean "warn"?');
    expect(() => parseLogLevel("loud", "PP_LOG_LEVEL")).toThrow('PP_LOG_LEVEL "loud" is not a log level; use one of silent, error, warn, info, debug, trace');
    expect(() => parseLogFormat("jsn", "--log-format")).toThrow('--log-format "jsn" is not a log format; did you mean "json"?');
    try {
      parseLogFormat("xml", "--log-format");
    } catch (e) {
      expect(e).toBeInstanceOf(PpError);
      expect((e as PpError).exitCode).toBe(2);
    }
  });
});
