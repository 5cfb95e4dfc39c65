import { ApiError, badRequest } from "./errors.ts";

/** A request's fields by name (null prototype: the names are the client's). Form fields given twice are lists. */
export type Fields = Record<string, unknown>;

export const noFields = (): Fields => Object.create(null);

/**
 * The body's bytes, at most `max`: a declared Content-Length over it is refused before anything is read, and
 * a stream that grows past it is cancelled at the first chunk too many.
 */
export async function readBytes(req: Request, max: number): Promise<Uint8Array> {
  const tooLarge = () => new ApiError("payload_too_large", `the body is larger than max_body (${max} bytes)`);
  const declared = req.headers.get("content-length");
  const length = declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared) : undefined;
  if (length !== undefined && length > max) throw tooLarge();
  // With a declared length the body is read at once, without looking at req.body (which would make it a stream).
  if (length !== undefined) {
    // The server reads no more than the declared length: one read, without the stream's chunk by chunk.
    let all: Uint8Array;
    try {
      all = new Uint8Array(await req.arrayBuffer());
    } catch {
      throw badRequest("the body could not be read to its end");
    }
    if (all.byteLength > max) throw tooLarge();
    return all;
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      size += next.value.byteLength;
      if (size > max) throw tooLarge();
      chunks.push(next.value);
    }
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw badRequest("the body could not be read to its end");
  } finally {
    reader.cancel().catch(() => {});
  }
  if (chunks.length === 1) return chunks[0]!;
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

/** One for every body: a decode without `stream` keeps no state from one call to the next, a failed one included. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function utf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw badRequest("the body is not valid UTF-8");
  }
}

/** The media type without parameters, lower case ("" when there is none), and whether its charset is UTF-8. */
function mediaType(req: Request): { type: string; utf8: boolean } {
  const header = req.headers.get("content-type") ?? "";
  // What nearly every client sends, without taking the header apart.
  if (header === "application/json" || header === FORM) return { type: header, utf8: true };
  const [type = "", ...params] = header.split(";");
  const charset = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith("charset="))?.slice(8).replace(/^"|"$/g, "");
  return { type: type.trim().toLowerCase(), utf8: charset === undefined || charset === "utf-8" || charset === "utf8" };
}

const isJson = (type: string) => type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
const FORM = "application/x-www-form-urlencoded";

/**
 * The fields of a JSON object or form body. An empty body has no fields, whatever its type; anything else that
 * is neither JSON nor a form is refused with 415.
 */
export async function readFields(req: Request, max: number): Promise<Fields> {
  const bytes = await readBytes(req, max);
  if (bytes.byteLength === 0) return noFields();
  const { type, utf8: isUtf8 } = mediaType(req);
  if (!isJson(type) && type !== FORM) {
    throw new ApiError("unsupported_media_type", `the body must be JSON (Content-Type: application/json) or a form (${FORM})${type ? `, not ${type.slice(0, 80)}` : "; no Content-Type was given"}`);
  }
  if (!isUtf8) throw new ApiError("unsupported_media_type", "the body must be UTF-8; send charset=utf-8");
  const text = utf8(bytes);
  return isJson(type) ? jsonFields(text) : formFields(text);
}

export function jsonFields(text: string): Fields {
  const value = parseJson(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw badRequest("the JSON body must be an object");
  // Copied onto a null prototype, so that "__proto__" or "constructor" stay plain field names.
  return Object.assign(noFields(), value);
}

/** Parsed JSON, or 400 with the parser's complaint (deep nesting included). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const why = e instanceof SyntaxError ? e.message.slice(0, 120) : "nested too deeply";
    throw badRequest(`the body is not valid JSON: ${why}`);
  }
}

export function formFields(text: string): Fields {
  // URLSearchParams replaces bad escapes instead of refusing them; a %-sequence that is not UTF-8 is an error here.
  for (const m of text.matchAll(/(?:%[0-9A-Fa-f]{2})+/g)) {
    try {
      decodeURIComponent(m[0]);
    } catch {
      throw badRequest("the form is not valid UTF-8 (a %-escape does not decode)");
    }
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(text)) throw badRequest("the form has a malformed %-escape");
  return paramsFields(new URLSearchParams(text));
}

export function paramsFields(params: URLSearchParams): Fields {
  const out = noFields();
  for (const [k, v] of params) {
    const had = out[k];
    // Pushed in place: a form that repeats one field a hundred thousand times must not copy the list each time.
    if (had === undefined) out[k] = v;
    else if (Array.isArray(had)) had.push(v);
    else out[k] = [had, v];
  }
  return out;
}

const typeOf = (x: unknown) => (Array.isArray(x) ? "a list" : x === null ? "null" : `a ${typeof x}`);
const has = (f: Fields, name: string) => Object.hasOwn(f, name) && f[name] !== null && f[name] !== undefined;

/** A string field (null counts as absent); anything else is a 400 naming the field. */
export function str(f: Fields, name: string): string | undefined {
  if (!has(f, name)) return undefined;
  const x = f[name];
  if (typeof x !== "string") throw badRequest(`field "${name}" must be a string, not ${typeOf(x)}`);
  return x;
}

/** The first of several names that is present, as a string, with the name it came by. */
export function firstStr(f: Fields, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = str(f, name);
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

/** A list of strings: a JSON array, a repeated form field or one string (comma lists split). */
export function names(f: Fields, name: string): string[] | undefined {
  if (!has(f, name)) return undefined;
  const x = f[name];
  const list = typeof x === "string" ? [x] : Array.isArray(x) ? x : undefined;
  if (!list || !list.every((s) => typeof s === "string")) throw badRequest(`field "${name}" must be a list of names or a comma-separated string, not ${typeOf(x)}`);
  return (list as string[]).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
}

/** Epoch milliseconds, as a JSON number or a string of digits. */
export function epochMs(f: Fields, name: string): number | undefined {
  if (!has(f, name)) return undefined;
  const x = f[name];
  const n = typeof x === "number" ? x : typeof x === "string" && /^\s*\d{1,16}\s*$/.test(x) ? Number(x) : NaN;
  if (typeof x !== "number" && typeof x !== "string") throw badRequest(`field "${name}" must be epoch milliseconds (a number), not ${typeOf(x)}`);
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`field "${name}" must be epoch milliseconds (a whole number)`);
  // Seconds would be read as a date in 1970 and expire the message at once.
  if (n < 1e11) throw badRequest(`field "${name}" must be epoch milliseconds; ${n} looks like seconds (multiply by 1000)`);
  return n;
}

export function bool(f: Fields, name: string): boolean | undefined {
  if (!has(f, name)) return undefined;
  const x = f[name];
  if (typeof x === "boolean") return x;
  if (x === "true" || x === "1") return true;
  if (x === "false" || x === "0" || x === "") return false;
  throw badRequest(`field "${name}" must be true or false, not ${typeOf(x)}`);
}
