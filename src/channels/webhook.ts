import * as v from "valibot";
import type { RawCheckIssue } from "valibot";
import type { ChannelDef, HttpRequest, HttpResponse, Mentions, Outcome, PartContext } from "../core/types.ts";
import {
  checkWith,
  classifyHttp,
  commonFields,
  destinationSecrets,
  errorText,
  httpUrl,
  jsonValue,
  parseJson,
  parseTags,
  rateKeyOf,
  renderTemplate,
  showUrl,
  unexpected,
  type TemplateVars,
} from "./_common.ts";

// Generic webhook: a user-templated request to any HTTP endpoint. There is no platform doc; the template
// language and its JSON-safe filters are described in the README ("Webhook templates"), and a JSON body
// must be valid JSON as the RFC defines it.
const DOCS = "https://www.rfc-editor.org/rfc/rfc8259";
const DEFAULT_CONTENT_TYPE = "application/json; charset=utf-8";

const isJsonType = (contentType: string) => /[/+]json\b/i.test(contentType);

/** Values chosen to break a template that puts raw text inside JSON. */
const SAMPLES: TemplateVars[] = [
  {
    text: 'line "one" \\ end\nline\ttwo \u2028',
    title: 'A "title"',
    format: "markdown",
    timestamp: "2025-01-01T00:00:00.000Z",
    at: "all,13800001111,alice",
  },
  {
    text: "plain",
    title: undefined,
    format: "text",
    timestamp: "2025-01-01T00:00:00.000Z",
    at: "",
  },
];

/** The problem with a body template (unknown variable or filter, or not JSON for a JSON content type), if any. */
export function validateTemplate(body: string, contentType = DEFAULT_CONTENT_TYPE): string | undefined {
  const tags = parseTags(body);
  if (typeof tags === "string") return tags;
  if (!isJsonType(contentType)) return undefined;
  for (const sample of SAMPLES) {
    const rendered = renderTemplate(body, sample);
    try {
      JSON.parse(rendered);
    } catch (e) {
      const why = `body does not render to valid JSON for a sample message (${(e as Error).message})`;
      const raw = tags.find(
        (t) => (t.name === "text" || t.name === "title" || t.name === "at") && !t.filters.some((f) => f.startsWith("json")),
      );
      if (raw) {
        return `${why}: {{ ${raw.name} }} inserts raw text; write {{ ${raw.name} | json }} for a whole JSON value or "{{ ${raw.name} | json_escape }}" inside quotes`;
      }
      // The rendered body is not echoed: a template may hold a literal credential.
      return why;
    }
  }
  return undefined;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const fields = v.strictObject({
  type: v.literal("webhook"),
  url: v.pipe(
    httpUrl,
    checkWith((u: string) => {
      const t = parseTags(u);
      return typeof t === "string" ? t : undefined;
    }),
  ),
  method: v.optional(v.picklist(["GET", "POST", "PUT", "PATCH"]), "POST"),
  headers: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(HEADER_NAME, "header names may contain only letters, digits and !#$%&'*+.^_`|~-")),
      v.pipe(
        v.string(),
        v.check((s) => !/[\r\n]/.test(s), "header values must not contain line breaks"),
      ),
    ),
    {},
  ),
  body: v.optional(v.string()),
  content_type: v.optional(
    v.pipe(
      v.string(),
      v.check((s) => !/[\r\n]/.test(s), "must not contain line breaks"),
    ),
    DEFAULT_CONTENT_TYPE,
  ),
  /** An HTTP 2xx counts only when the JSON answer has `equals` at `path` (e.g. errcode = 0). */
  success: v.optional(
    v.strictObject({
      path: v.pipe(v.string(), v.minLength(1, "must not be empty")),
      equals: v.union([v.string(), v.number(), v.boolean()]),
    }),
  ),
  ...commonFields,
});
type Fields = v.InferOutput<typeof fields>;

const schema = v.pipe(
  fields,
  v.forward<Fields, RawCheckIssue<Fields>, ["body"]>(
    checkWith<Fields>((o) => (o.body === undefined ? undefined : validateTemplate(o.body, o.content_type))),
    ["body"],
  ),
  v.forward<Fields, RawCheckIssue<Fields>, ["method"]>(
    checkWith<Fields>((o) =>
      o.body !== undefined && o.method === "GET"
        ? "a GET request has no body; remove `body` or use another method"
        : undefined,
    ),
    ["method"],
  ),
);
export type WebhookOptions = v.InferOutput<typeof schema>;

/** The mentions as the user gave them, for the receiver to map: "all", then phone numbers, then user ids. */
function atList(at: Mentions | undefined): string[] {
  return at ? [...(at.all ? ["all"] : []), ...at.phones, ...at.users] : [];
}

function build(part: string, ctx: PartContext, o: WebhookOptions): HttpRequest {
  const at = atList(ctx.at);
  const vars: TemplateVars = {
    text: part,
    title: ctx.title,
    format: ctx.format,
    timestamp: new Date(ctx.now).toISOString(),
    at: at.join(","),
  };
  const headers: Record<string, string> = { "User-Agent": "pp" };
  if (o.method !== "GET") headers["Content-Type"] = o.content_type;
  for (const [name, value] of Object.entries(o.headers)) {
    for (const existing of Object.keys(headers))
      if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    headers[name] = value;
  }
  const req: HttpRequest = {
    method: o.method,
    url: renderTemplate(o.url, vars, true),
    headers,
  };
  if (o.method === "GET") return req;
  if (o.body !== undefined) req.body = renderTemplate(o.body, vars);
  else if (isJsonType(o.content_type)) {
    req.body = `{"title":${jsonValue(vars.title)},"text":${jsonValue(vars.text)},"format":${jsonValue(vars.format)},"timestamp":${jsonValue(vars.timestamp)}${at.length ? `,"at":${JSON.stringify(at)}` : ""}}`;
  } else req.body = part;
  return req;
}

function valueAt(json: unknown, path: string): unknown {
  let cur = json;
  for (const key of path.split("."))
    cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined;
  return cur;
}

function classify(res: HttpResponse, o?: WebhookOptions): Outcome {
  const http = classifyHttp(res);
  if (http.kind !== "ok" || !o?.success) return http;
  const json = parseJson(res.body);
  if (json === undefined) return unexpected(res);
  const actual = valueAt(json, o.success.path);
  if (actual === o.success.equals) return http;
  const code = typeof actual === "string" || typeof actual === "number" ? actual : undefined;
  const error = `${o.success.path} is ${JSON.stringify(actual) ?? "missing"}, expected ${JSON.stringify(o.success.equals)}: ${errorText(res.body)}`;
  return code === undefined ? { kind: "permanent", error } : { kind: "permanent", error, code };
}

/** Header values are secrets unless plainly descriptive: a wrong guess the other way would leak a token. */
const PUBLIC_HEADERS = new Set(["content-type", "accept", "user-agent"]);

/** A header value and the parts a receiver may echo alone: the token of "Bearer <token>", the user and password of Basic. */
function headerSecrets(value: string): string[] {
  const out = [value];
  const last = value.trim().split(/\s+/).at(-1)!;
  if (last !== value) out.push(last);
  if (/^basic\s/i.test(value.trim())) {
    const decoded = Buffer.from(last, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon !== -1) out.push(decoded, decoded.slice(0, colon), decoded.slice(colon + 1));
  }
  return out;
}

const webhook: ChannelDef<WebhookOptions> = {
  type: "webhook",
  label: "Generic webhook",
  schema,
  rate: [],
  docs: DOCS,
  limit: () => ({ max: Infinity, unit: "chars", scope: "body" }),
  measure: (req) => req.body?.length ?? 0,
  render: (text) => text,
  verbatim: true,
  build,
  // The default JSON body carries them as "at"; a template of the user's, only where it says {{ at }}.
  mentions: (_at, _format, o) => {
    if (o.body === undefined && o.method !== "GET" && isJsonType(o.content_type)) return undefined;
    const usesAt = (template: string) => {
      const tags = parseTags(template);
      return typeof tags !== "string" && tags.some((t) => t.name === "at");
    };
    return usesAt(o.url) || (o.method !== "GET" && usesAt(o.body ?? "")) ? undefined : "its url and body templates have no {{ at }}";
  },
  classify,
  secrets: (o) => [
    ...destinationSecrets(o.url),
    ...Object.entries(o.headers).flatMap(([name, value]) =>
      PUBLIC_HEADERS.has(name.toLowerCase()) || value.trim() === "" ? [] : headerSecrets(value),
    ),
  ],
  // The URL may be a template whose every part is the user's: only scheme, host and port show.
  target: (o, url = o.url) => showUrl(url),
  rateKey: (o) => rateKeyOf("webhook", o.url),
};

export default webhook;
