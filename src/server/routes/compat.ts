import { paramsFields, readBytes, readFields, utf8, type Fields } from "../body.ts";
import { acceptedAnswer, badRequest, json } from "../errors.ts";
import { authorize, draftFrom, submit, targetsOf, type Call } from "../submit.ts";

/**
 * MsgFlow's and pushplus's routes. Each turns its request into the same draft as POST /api/text and answers the
 * one shape both kinds of client read: `{code: <HTTP status>, msg, message, data: <id>, id}`.
 */

/** The query's fields, with the body's (JSON or form) over them. */
async function queryAndBody(call: Call): Promise<Fields> {
  const body = await readFields(call.req, call.ctx.settings().maxBodyBytes);
  return Object.assign(paramsFields(call.url.searchParams), body);
}

/**
 * pushplus's rule for third-party webhooks: with template=json in the URL of a POST, the whole body is the
 * content, whatever it is; the other fields come from the query. Not for PUT, nor for a route whose path holds
 * the text (MsgFlow's /{token}/{body}): there the body is read as fields, as always.
 */
const wholeBody = (call: Call, pathText: boolean) => call.req.method === "POST" && !pathText && call.url.searchParams.get("template") === "json";

/** GET, and HEAD, which is answered as GET without a body. */
const safe = (call: Call) => call.req.method === "GET" || call.req.method === "HEAD";

async function send(call: Call, o: { pathToken?: string; text?: string; title?: string }): Promise<Response> {
  let whole: string | undefined;
  const read = async (): Promise<Fields> => {
    if (safe(call)) return paramsFields(call.url.searchParams);
    if (wholeBody(call, o.text !== undefined)) {
      whole = utf8(await readBytes(call.req, call.ctx.settings().maxBodyBytes));
      return paramsFields(call.url.searchParams);
    }
    return queryAndBody(call);
  };
  const { caller, fields } = await authorize(call, { pathToken: o.pathToken, read });
  const draft = draftFrom(call, fields, { text: o.text, title: o.title, ...(whole !== undefined && whole.trim() !== "" ? { whole } : {}) });
  // HEAD asks what GET would answer and must not push: everything is checked, nothing is queued.
  if (call.req.method === "HEAD") {
    targetsOf(call, draft.names);
    return json(200, {});
  }
  const r = await submit(call, caller, draft);
  if (r.kind === "nothing") throw new Error("a new message was refused as if it were a replay");
  return acceptedAnswer("compat", r.id, r.requestId);
}

/** Query parameters that make GET /send a push rather than the send page. */
const PUSH_PARAMS = ["token", "content", "msg", "text", "body", "title"];

export function isPush(url: URL): boolean {
  return PUSH_PARAMS.some((p) => url.searchParams.has(p));
}

/** GET /send?token=&content= and POST /send (JSON or form). */
export const sendRoute = (call: Call) => send(call, {});

/** GET|POST|PUT /send/{token}. */
export const sendTokenRoute = (call: Call, params: Map<string, string>) => send(call, { pathToken: segment(params.get("token")!, "token") });

/** GET|POST /{token}/{body} and /{token}/{title}/{body} (MsgFlow), with ?ch=a&ch=b. */
export function tokenRoute(call: Call, params: Map<string, string>): Promise<Response> {
  const title = params.get("title");
  return send(call, {
    pathToken: segment(params.get("token")!, "token"),
    text: segment(params.get("body")!, "body"),
    ...(title === undefined ? {} : { title: segment(title, "title") }),
  });
}

/** A path segment, %-decoded; one that does not decode to UTF-8 is a 400 (never repeating a token's value). */
function segment(raw: string, name: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest(`the ${name} in the path is not valid %-encoded UTF-8`);
  }
}

