/**
 * The HTTP error catalogue: each kind of failure with its stable `code` (PostPoint's names) and HTTP status.
 * Routes throw ApiError; app.ts renders it once, in the answer shape of the route that failed.
 */
export const CATALOGUE = {
  invalid_argument: { code: "invalid_argument", status: 400 },
  unauthenticated: { code: "unauthenticated", status: 401 },
  not_found: { code: "not_found", status: 404 },
  method_not_allowed: { code: "method_not_allowed", status: 405 },
  payload_too_large: { code: "payload_too_large", status: 413 },
  /** An idempotency key used again for another request: PostPoint's code, with 422 as the status. */
  conflict: { code: "invalid_argument", status: 422 },
  unsupported_media_type: { code: "unsupported_media_type", status: 415 },
  resource_exhausted: { code: "resource_exhausted", status: 429 },
  internal: { code: "internal", status: 500 },
  unavailable: { code: "unavailable", status: 503 },
} as const satisfies Record<string, { code: string; status: number }>;

export type ApiErrorKind = keyof typeof CATALOGUE;

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly headers: Record<string, string>;
  /** For the log line only (the store's error behind a 503, say); never in the answer. */
  readonly detail?: string;
  constructor(kind: ApiErrorKind, message: string, headers: Record<string, string> = {}, detail?: string) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.headers = headers;
    this.detail = detail;
  }
  get code(): string {
    return CATALOGUE[this.kind].code;
  }
  get status(): number {
    return CATALOGUE[this.kind].status;
  }
}

export const badRequest = (message: string) => new ApiError("invalid_argument", message);

/** Retry-After in whole seconds, at least 1. */
export function retryAfter(ms: number): Record<string, string> {
  return { "Retry-After": String(Math.max(1, Math.ceil(ms / 1000))) };
}

/** How a route answers: pp's and PostPoint's `{code, msg, id}`, or MsgFlow's and pushplus's `{code: <status>, msg, message, data, id}`. */
export type Shape = "native" | "compat";

const HEADERS = { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" };
/** Copied by each Response that takes it, which costs less than building the headers from an object. */
const JSON_HEADERS = new Headers(HEADERS);

export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return jsonText(status, JSON.stringify(body), headers);
}

function jsonText(status: number, text: string, headers?: Record<string, string>): Response {
  let extra = false;
  for (const _ in headers) {
    extra = true;
    break;
  }
  return new Response(text, { status, headers: extra ? { ...HEADERS, ...headers } : JSON_HEADERS });
}

/**
 * The one place an error becomes an answer; `requestId` goes in `id`, for support. `clean` hides secrets in the
 * message (a client may have put its token where a channel name belongs, and messages repeat what was wrong).
 */
export function errorAnswer(e: ApiError, shape: Shape, requestId: string, clean: (s: string) => string = (s) => s): Response {
  const msg = clean(e.message);
  const body = shape === "native"
    ? { code: e.code, msg, id: requestId }
    : { code: e.status, msg, message: msg, data: null, id: requestId };
  // A 503 always says when to come back, so that clients retry rather than give up or hammer.
  const headers = e.kind === "unavailable" && !Object.keys(e.headers).some((h) => h.toLowerCase() === "retry-after") ? { ...e.headers, ...retryAfter(5000) } : e.headers;
  return json(e.status, body, headers);
}

/** A message accepted (or a repeat of one), in the route's shape; `requestId` is the client's idempotency key. */
export function acceptedAnswer(shape: Shape, id: string, requestId?: string): Response {
  // Written out rather than serialised: the answer every accepted message gets, so its cost is paid most.
  const tail = requestId === undefined ? "}" : `,"request_id":${JSON.stringify(requestId)}}`;
  const head = shape === "native" ? '{"code":"ok","msg":"success","id":' : '{"code":200,"msg":"success","message":"success","data":';
  const ids = JSON.stringify(id);
  return jsonText(200, shape === "native" ? `${head}${ids}${tail}` : `${head}${ids},"id":${ids}${tail}`);
}
