import * as v from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Outcome, PartContext } from "../core/types.ts";
import { markdown, byteLength, classifyHttp, commonFields, errorText, httpUrl, parseJson, postJson, webhookIdentity } from "./_common.ts";

// Workflows ("Send webhook alerts to a channel"), which replace Office 365 connectors:
// https://devblogs.microsoft.com/microsoft365dev/retirement-of-office-365-connectors-within-microsoft-teams/
// Message size and rate: https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
// Card text: https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features
const DOCS = "https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook";
/** "The message size limit is 28 KB"; counted on the whole request, which is a little more than Teams posts. */
const MAX_BYTES = 28_000;
/** "If more than four requests are made in a second, the client connection is throttled." */
const RATE = ["4/s"];

const schema = v.strictObject({
  type: v.literal("teams"),
  /** The URL of a Workflows (Power Automate) webhook trigger; its `sig` parameter is the credential. */
  webhook: httpUrl,
  ...commonFields,
});
export type TeamsOptions = v.InferOutput<typeof schema>;

/**
 * The title and plain text go in TextRuns, which show text as written: a TextBlock would read "*" and "_"
 * as Markdown. Markdown goes in a TextBlock, in the subset cards render.
 */
function build(part: string, ctx: PartContext, o: TeamsOptions): HttpRequest {
  const body: unknown[] = [];
  if (ctx.title !== undefined) {
    body.push({ type: "RichTextBlock", inlines: [{ type: "TextRun", text: ctx.title, weight: "Bolder", size: "Medium" }] });
  }
  if (part !== "" || ctx.title === undefined) {
    body.push(
      ctx.format === "markdown"
        ? { type: "TextBlock", text: part, wrap: true }
        : { type: "RichTextBlock", inlines: [{ type: "TextRun", text: part }] },
    );
  }
  return postJson(o.webhook, {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: { $schema: "http://adaptivecards.io/schemas/adaptive-card.json", type: "AdaptiveCard", version: "1.4", body },
      },
    ],
  });
}

/**
 * Workflows answer 202 and post later, so a card the flow cannot post shows only in its run history. Errors
 * before that are {"error":{"code":"…","message":"…"}}. A retired connector URL answers 200 with a text such
 * as "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413".
 */
function classify(res: HttpResponse): Outcome {
  if (res.status >= 200 && res.status < 300) {
    if (/delivery failed|returned HTTP error/i.test(res.body)) return { kind: "permanent", error: errorText(res.body), code: res.status };
    return { kind: "ok" };
  }
  const http = classifyHttp(res);
  const json = parseJson(res.body) as { error?: { code?: unknown; message?: unknown } } | undefined;
  const e = json?.error;
  if (typeof e?.message !== "string") return http;
  const code = typeof e.code === "string" ? e.code : res.status;
  const hint = res.status === 401 || res.status === 403 ? " (copy the workflow's URL again, sig included)" : res.status === 404 ? " (the workflow was deleted or turned off)" : "";
  return { ...http, code, error: errorText(`${String(e.code ?? "")}: ${e.message}`.replace(/^: /, "")) + hint };
}

const teams: ChannelDef<TeamsOptions> = {
  type: "teams",
  label: "Microsoft Teams (Workflows webhook)",
  schema,
  rate: RATE,
  docs: DOCS,
  limit: () => ({ max: MAX_BYTES, unit: "bytes", scope: "body" }),
  measure: (req) => byteLength(req.body ?? ""),
  render: (text, format) => (format === "markdown" ? markdown().toTeams(text) : text),
  build,
  classify,
  ...webhookIdentity<TeamsOptions>([
    "workflows", "triggers", "manual", "paths", "invoke", "powerautomate", "automations", "direct", "apis", "webhookb2", "webhook", "IncomingWebhook",
  ]),
};

export default teams;
