import { describe, expect, test } from "bun:test";
import teams from "../../src/channels/teams.ts";
import { parseConfig } from "../../src/config/load.ts";
import { plan } from "../../src/core/dispatch.ts";
import { NOW, opts, problems, res, send } from "./_fixtures.ts";

const SIG = "Xq3vB7nT0kRmZ1sPdW9yLcA5hF2jGuE8oIiKxNbVtYw";
const WEBHOOK = `https://prod-12.westeurope.logic.azure.com:443/workflows/0f1e2d3c4b5a69788796a5b4c3d2e1f0/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`;
const base = opts(teams, { type: "teams", webhook: WEBHOOK });

const cardBody = (json: any) => json.attachments[0].content.body;

describe("teams payloads", () => {
  test("an Adaptive Card in a message envelope, posted to the workflow URL", () => {
    const { req, json } = send(teams, base, "disk full", { title: "DB alert" });
    expect(req.url).toBe(WEBHOOK);
    expect(json.type).toBe("message");
    expect(json.attachments).toHaveLength(1);
    expect(json.attachments[0]).toMatchObject({ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null });
    expect(json.attachments[0].content).toMatchObject({ type: "AdaptiveCard", version: "1.4", $schema: "http://adaptivecards.io/schemas/adaptive-card.json" });
    expect(cardBody(json)).toEqual([
      { type: "RichTextBlock", inlines: [{ type: "TextRun", text: "DB alert", weight: "Bolder", size: "Medium" }] },
      { type: "RichTextBlock", inlines: [{ type: "TextRun", text: "disk full" }] },
    ]);
  });

  test("plain text goes in a TextRun, as written: a TextBlock would read * and _ as Markdown", () => {
    expect(cardBody(send(teams, base, "*not italic* _x_ [y](z)").json)).toEqual([{ type: "RichTextBlock", inlines: [{ type: "TextRun", text: "*not italic* _x_ [y](z)" }] }]);
  });

  test("Markdown goes in a TextBlock, in the subset cards render", () => {
    const body = cardBody(send(teams, base, "# Head\n\n**b** ~~s~~ `c` [l](https://x.example)\n\n```\ncode\n```", { format: "markdown" }).json);
    expect(body).toEqual([{ type: "TextBlock", text: "**Head**\n\n**b** s c [l](https://x.example)\n\ncode", wrap: true }]);
  });

  test("config: the webhook must be an http(s) URL and is never echoed", () => {
    const bad = problems(teams, { type: "teams", webhook: `sig=${SIG}` });
    expect(bad).toEqual(["webhook: must be an http(s) URL"]);
  });
});

describe("teams limits", () => {
  test("28 KB of request body, 4 requests a second", () => {
    expect(teams.limit(base, { format: "text", hasTitle: false })).toEqual({ max: 28_000, unit: "bytes", scope: "body" });
    expect(teams.rate).toEqual(["4/s"]);
    const t = parseConfig(`[channels.t]\ntype = "teams"\nwebhook = "${WEBHOOK}"`, "t.toml").channels.get("t")!;
    const text = Array.from({ length: 2000 }, (_, i) => `line ${i} "quoted" 数据库`).join("\n");
    const p = plan(t, "Report", text, "text", NOW);
    expect(p.parts.length).toBeGreaterThan(1);
    p.parts.forEach((part, i) => {
      const req = teams.build(part, { title: p.titles[i], format: "text", index: i, total: p.parts.length, now: NOW }, t.opts);
      expect(Buffer.byteLength(req.body!)).toBeLessThanOrEqual(28_000);
    });
  });
});

describe("teams answers", () => {
  test("202 (and a connector's 200 \"1\") is ok; a connector's failure text inside a 200 is not", () => {
    expect(teams.classify(res(202, ""), base)).toEqual({ kind: "ok" });
    expect(teams.classify(res(200, "1"), base)).toEqual({ kind: "ok" });
    expect(teams.classify(res(200, "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413"), base).kind).toBe("permanent");
  });

  test.each([
    [401, "DirectApiInvalidAuthorizationSignature", "permanent", "sig included"],
    [404, "WorkflowNotFound", "permanent", "deleted or turned off"],
    [400, "InvalidRequestContent", "permanent", "InvalidRequestContent"],
    [502, "BadGateway", "retryable", "BadGateway"],
  ] as const)("%d %s -> %s", (status, code, kind, hint) => {
    const out = teams.classify(res(status, { error: { code, message: "something" } }), base);
    expect(out).toMatchObject({ kind, code });
    expect(out.error).toContain(hint);
  });

  test("429 waits Retry-After", () => {
    expect(teams.classify(res(429, { error: { code: "WorkflowRequestsThrottled", message: "slow" } }, { "Retry-After": "2" }), base)).toMatchObject({
      kind: "rate_limited",
      retryAfterMs: 2000,
    });
  });
});

describe("teams secrets", () => {
  test("sig is a secret; the target masks every query value and the workflow id", () => {
    expect(teams.secrets(base)).toContain(SIG);
    const shown = teams.target(base);
    expect(shown).not.toContain(SIG);
    expect(shown).toBe("https://prod-12.westeurope.logic.azure.com/workflows/***/triggers/manual/paths/invoke?api-version=***&sp=***&sv=***&sig=***");
  });

  test("an error quoting the URL does not carry sig", () => {
    const out = teams.classify(res(400, { error: { code: "InvalidRequestContent", message: `bad request to ${WEBHOOK}` } }), base);
    expect(out.error).not.toContain(SIG);
  });
});
