import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseConfig, type Config } from "../../src/config/load.ts";
import type { DispatchResult } from "../../src/core/dispatch.ts";
import {
  ALERT_SOURCE, ALERT_WINDOW_MS, alertContent, alertOrigin, alertPrefix, EXCERPT_MAX, fallbackNames, fallbackTargets, isAlertFamily,
  planAlerts, sendAlerts,
} from "../../src/core/fallback.ts";
import { newId } from "../../src/core/id.ts";
import { PpError } from "../../src/core/errors.ts";
import { secretsOf } from "../../src/core/redact.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const hook = (n: string, extra = "") => `[channels.${n}]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook/${n}-0123456789"\n${extra}\n`;

function config(text: string): Config {
  return parseConfig(text, "/tmp/pp.toml");
}

function configError(text: string): string {
  try {
    config(text);
  } catch (e) {
    expect(e).toBeInstanceOf(PpError);
    return (e as PpError).message;
  }
  throw new Error("the config was accepted");
}

describe("fallback settings", () => {
  test("a channel's own list wins over [defaults]; an empty list turns the default off", () => {
    const cfg = config(`[defaults]\nfallback = "ops"\n${hook("a", 'fallback = ["b"]')}${hook("b", "fallback = []")}${hook("c")}${hook("d")}[groups]\nops = ["c", "d"]\n`);
    expect(fallbackNames(cfg, "a")).toEqual(["b"]);
    expect(fallbackNames(cfg, "b")).toEqual([]);
    expect(fallbackNames(cfg, "c")).toEqual(["ops"]);
    // A channel no longer configured (a queued delivery after a reload) falls back through the defaults.
    expect(fallbackNames(cfg, "gone")).toEqual(["ops"]);
  });

  test("names are checked at load like groups: unknown names with a did-you-mean, and never the channel itself", () => {
    expect(configError(`${hook("alpha", 'fallback = ["bravo", "chalie"]')}${hook("bravo")}${hook("charlie")}`))
      .toBe('/tmp/pp.toml: channels.alpha.fallback[1]: "chalie" is not a configured channel or group; did you mean "charlie"?');
    expect(configError(`${hook("alpha", 'fallback = "nobody"')}`)).toStartWith('/tmp/pp.toml: channels.alpha.fallback: "nobody" is not a configured channel or group');
    expect(configError(`${hook("alpha", 'fallback = ["alpha"]')}`)).toContain("channels.alpha.fallback[0]: \"alpha\" is this channel itself");
    expect(configError(`[defaults]\nfallback = ["opps"]\n${hook("a")}[groups]\nops = ["a"]\n`))
      .toBe('/tmp/pp.toml: defaults.fallback[0]: "opps" is not a configured channel or group; did you mean "ops"?');
    expect(configError(`${hook("a", "fallback = 3")}`)).toContain("channels.a.fallback: must be a channel or group name or a list of them");
  });

  test("the alert goes to the fallback channels, groups expanded, without the channel itself or the message's other failures", () => {
    const cfg = config(`${hook("a", 'fallback = ["team", "e"]')}${hook("b")}${hook("c")}${hook("d")}${hook("e")}[groups]\nteam = ["a", "b", "c", "d"]\n`);
    expect(fallbackTargets(cfg, "a", new Set()).map((t) => t.name)).toEqual(["b", "c", "d", "e"]);
    expect(fallbackTargets(cfg, "a", new Set(["a", "c"])).map((t) => t.name)).toEqual(["b", "d", "e"]);
    expect(fallbackTargets(cfg, "b", new Set())).toEqual([]);
  });

  test("two channels that differ only in their fallback are one destination", () => {
    const cfg = config(`${hook("a", 'fallback = ["c"]')}[channels.a2]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook/a-0123456789"\n${hook("b", 'fallback = ["a", "a2"]')}${hook("c")}`);
    expect(fallbackTargets(cfg, "b", new Set()).map((t) => t.name)).toEqual(["a"]);
  });
});

describe("the alert", () => {
  const original = { id: newId(), title: "Disk full", text: "db1 has 2% left" };

  test("names the channel, its error and the original message; its first line links it to the original", () => {
    const { title, text } = alertContent(original, { channel: "wecom", type: "wecom", error: "93000 invalid webhook url" }, []);
    expect(title).toBe("pp: delivery to wecom failed");
    expect(text).toBe([
      `pp could not deliver message ${original.id} to channel wecom (wecom).`,
      "Error: 93000 invalid webhook url",
      "Title: Disk full",
      "Text:",
      "db1 has 2% left",
    ].join("\n"));
    expect(text.startsWith(alertPrefix(original.id))).toBe(true);
    expect(alertOrigin({ source: ALERT_SOURCE, text })).toBe(original.id);
    // Only an alert has an origin: a user's own text that looks like one is not a link.
    expect(alertOrigin({ source: "cli", text })).toBeUndefined();
  });

  test("quotes a bounded excerpt of a long text", () => {
    const long = `${"x".repeat(10_000)}TAIL`;
    const { text } = alertContent({ ...original, text: long }, { channel: "a", type: "webhook", error: null }, []);
    expect(text).not.toContain("TAIL");
    expect(text).toContain(`${"x".repeat(EXCERPT_MAX - 1)}…`);
    expect(text.length).toBeLessThan(EXCERPT_MAX + 300);
  });

  test("holds no configured secret, in the error, the title or the text, even one cut at the excerpt's end", () => {
    const secret = "s3cr3t-key-0123456789";
    const text = `${"y".repeat(EXCERPT_MAX - 5)}${secret}`;
    const a = alertContent({ id: original.id, title: `key ${secret}`, text }, { channel: "a", type: "webhook", error: `HTTP 403 for key=${secret}` }, [secret]);
    for (const s of [a.title, a.text]) {
      expect(s).not.toContain(secret);
      expect(s).not.toContain(secret.slice(0, 4));
    }
    expect(a.text).toContain("HTTP 403 for key=***");
  });

  test("one alert per failed channel with fallbacks left; none about an alert", () => {
    const cfg = config(`[defaults]\nfallback = ["c"]\n${hook("a")}${hook("b", 'fallback = ["a"]')}${hook("c", 'fallback = ["b"]')}`);
    const failures = [{ channel: "a", type: "webhook", error: "boom" }, { channel: "b", type: "webhook", error: "bang" }];
    const alerts = planAlerts(cfg, original, failures, { isAlert: false, failed: ["a", "b"], secrets: [] });
    // b's only fallback is a, which failed for this message too: b raises no alert.
    expect(alerts.map((x) => [x.failure.channel, x.targets.map((t) => t.name), x.message.targets])).toEqual([["a", ["c"], ["c"]]]);
    expect(alerts[0]!.message).toMatchObject({ source: "fallback", format: "text", title: "pp: delivery to a failed" });
    expect(planAlerts(cfg, original, failures, { isAlert: true, failed: ["a", "b"], secrets: [] })).toEqual([]);
  });

  test("a replay of an alert is an alert's family; a replay of an ordinary message is not", () => {
    const sources = new Map([["A", "fallback"], ["M", "cli"]]);
    const sourceOf = (id: string) => sources.get(id);
    expect(isAlertFamily({ source: "fallback" }, sourceOf)).toBe(true);
    expect(isAlertFamily({ source: "replay", replayOf: "A" }, sourceOf)).toBe(true);
    expect(isAlertFamily({ source: "replay", replayOf: "M" }, sourceOf)).toBe(false);
    expect(isAlertFamily({ source: "api", replayOf: null }, sourceOf)).toBe(false);
  });
});

describe("sendAlerts and the push log's link", () => {
  async function setup(): Promise<{ cfg: Config; store: Store; y: Fake }> {
    const y = await startFake("webhook", { rate: false });
    cleanup.push(() => y.stop());
    const dir = tempDir("pp-fallback-");
    const cfg = parseConfig(
      `[log]\npath = ${q(join(dir, "pp.db"))}\n${hook("x", 'fallback = ["y"]')}[channels.y]\ntype = "webhook"\nurl = ${q(y.webhook)}\n`,
      join(dir, "pp.toml"),
    );
    const store = openStore(cfg.dbPath);
    cleanup.push(() => store.close());
    return { cfg, store, y };
  }

  const failedResult = (id: string, extra: Partial<DispatchResult> = {}): DispatchResult => ({
    id, ...extra,
    deliveries: [
      { channel: "x", type: "webhook", status: "failed", attempts: 1, parts: 1, latencyMs: 3, error: "HTTP 400 bad request", recorded: true, sent: true },
      { channel: "z", type: "webhook", status: "uncertain", attempts: 1, parts: 1, latencyMs: 3, error: "cut off", recorded: true, sent: true },
    ],
  });

  test("sends one recorded alert per failed delivery; the original finds it through the push log", async () => {
    const { cfg, store, y } = await setup();
    const now = Date.now();
    const id = newId(now);
    store.log.begin({ id, createdAt: now, text: "deploy failed", format: "text", source: "cli", targets: ["x"] }, [], { leaseUntil: now + 60_000 });
    const outcomes = await sendAlerts(cfg, { id, text: "deploy failed" }, failedResult(id), {
      recorder: store.log, limiter: store.limiter, deadlineMs: 10_000, secrets: secretsOf(cfg.channels.values()), isAlert: false,
    });
    expect(outcomes).toHaveLength(1);
    const alertId = outcomes[0]!.result!.id;
    expect(outcomes[0]!.about).toBe("x");
    expect(outcomes[0]!.result!.deliveries.map((d) => [d.channel, d.status])).toEqual([["y", "delivered"]]);
    const got = y.accepted().map((r) => r.raw).join("\n");
    expect(got).toContain(`pp could not deliver message ${id} to channel x`);
    expect(got).toContain("HTTP 400 bad request");
    expect(got).toContain("deploy failed");

    const alert = store.log.get(alertId)!;
    expect(alert.message.source).toBe("fallback");
    expect(alertOrigin(alert.message)).toBe(id);
    expect(store.log.startingWith(ALERT_SOURCE, alertPrefix(id), now, now + ALERT_WINDOW_MS)).toEqual([alertId]);
    // Another message's prefix does not match it.
    expect(store.log.startingWith(ALERT_SOURCE, alertPrefix(newId()), now, now + ALERT_WINDOW_MS)).toEqual([]);
  });

  test("nothing is sent about an alert, after an interrupt, or when the push log was lost", async () => {
    const { cfg, store, y } = await setup();
    const id = newId();
    const o = { recorder: store.log, limiter: store.limiter, deadlineMs: 10_000, secrets: [], isAlert: false };
    expect(await sendAlerts(cfg, { id, text: "t" }, failedResult(id), { ...o, isAlert: true })).toEqual([]);
    expect(await sendAlerts(cfg, { id, text: "t" }, failedResult(id, { interrupted: "interrupted by SIGINT" }), o)).toEqual([]);
    expect(await sendAlerts(cfg, { id, text: "t" }, failedResult(id, { unrecorded: new Error("disk full") }), o)).toEqual([]);
    const stopped = new AbortController();
    stopped.abort("interrupted by SIGTERM");
    expect(await sendAlerts(cfg, { id, text: "t" }, failedResult(id), { ...o, interrupt: stopped.signal })).toEqual([]);
    expect(y.requests).toHaveLength(0);
  });

  test("an alert that cannot be recorded is reported, not thrown", async () => {
    const { cfg, store, y } = await setup();
    const id = newId();
    const refusing = { ...store.log, begin: () => { throw new Error("database is locked"); }, sending: () => 0, answered: () => {}, finish: () => {} };
    const outcomes = await sendAlerts(cfg, { id, text: "t" }, failedResult(id), {
      recorder: refusing, limiter: store.limiter, deadlineMs: 10_000, secrets: [], isAlert: false,
    });
    expect(outcomes).toEqual([{ about: "x", error: "the alert could not be recorded: database is locked" }]);
    expect(y.requests).toHaveLength(0);
  });
});
