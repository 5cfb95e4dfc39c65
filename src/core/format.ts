/**
 * The formats a message may be written in, and how the two that no channel speaks (HTML and JSON) become one
 * that every channel does. Channels only know text and Markdown; an HTML message is turned into the Markdown
 * pp renders into each platform's dialect, a JSON document into a readable key/value list. The push log keeps
 * what the user wrote and how: the conversion happens once, when a message is planned for its channels.
 *
 * Both conversions are linear in their input whatever it holds: they run on text from pipes and HTTP requests.
 */
import type { Format } from "./types.ts";

/** How the user wrote the message: a channel format, or one converted to one before planning. */
export type InputFormat = Format | "html" | "json";
export const INPUT_FORMATS: readonly InputFormat[] = ["text", "markdown", "html", "json"];

export function isInputFormat(s: string): s is InputFormat {
  return (INPUT_FORMATS as readonly string[]).includes(s);
}

const converted = new WeakMap<object, { text: string; format: Format }>();

/**
 * The text and channel format a message is planned with. Remembered per message: each of its channels plans it.
 * JSON that does not parse is sent as it is (the CLI refuses it earlier; an API caller's webhook may post text).
 */
export function channelInput(msg: { text: string; format: string }): { text: string; format: Format } {
  if (msg.format === "text" || msg.format === "markdown") return { text: msg.text, format: msg.format };
  let hit = converted.get(msg);
  if (hit) return hit;
  if (msg.format === "html") hit = { text: htmlToMarkdown(msg.text), format: "markdown" };
  else if (msg.format === "json") hit = { text: jsonToList(msg.text) ?? msg.text, format: "text" };
  // A format written by a later version of pp: its text is the safest reading.
  else hit = { text: msg.text, format: "text" };
  converted.set(msg, hit);
  return hit;
}

// ---------------------------------------------------------------------------
// JSON -> key/value list

/** Beyond these a list is not meant for reading: the rest is summed up as "…". */
const MAX_LINES = 10_000;
const MAX_LIST_CHARS = 1024 * 1024;
const MAX_DEPTH = 16;

/**
 * A JSON document as `key: value` lines, nested keys joined with dots and array items as `[i]`; undefined when
 * the text is not JSON. Output is bounded: a long key repeated on every line of a long array cannot multiply.
 */
export function jsonToList(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return listOf(value);
}

export function listOf(value: unknown): string {
  const out: string[] = [];
  let size = 0;
  let full = false;
  const line = (path: string, s: string) => {
    const l = path ? `${path}: ${s}` : s;
    if (out.length >= MAX_LINES || size + l.length > MAX_LIST_CHARS) return void (full = true);
    out.push(l);
    size += l.length + 1;
  };
  const walk = (v: unknown, path: string, depth: number): void => {
    if (full) return;
    if (v === null || typeof v !== "object") return line(path, typeof v === "string" ? v : String(v));
    const array = Array.isArray(v);
    const keys = array ? null : Object.keys(v);
    const count = array ? v.length : keys!.length;
    if (count === 0) return line(path, array ? "[]" : "{}");
    if (depth >= MAX_DEPTH) return line(path, "…");
    for (let i = 0; i < count && !full; i++) {
      if (array) walk(v[i], `${path}[${i}]`, depth + 1);
      else walk((v as Record<string, unknown>)[keys![i]!], path ? `${path}.${keys![i]}` : keys![i]!, depth + 1);
    }
  };
  walk(value, "", 0);
  if (full) out.push("…");
  return out.join("\n");
}

/**
 * Where a text stops being JSON, as "line L, column C: what was expected", or undefined when it is JSON. One pass,
 * no recursion: it runs only after JSON.parse refused the text, to say where (the runtime's message does not).
 */
export function jsonProblem(text: string): string | undefined {
  let i = 0;
  const n = text.length;
  const stack: ("{" | "[")[] = [];
  const ws = () => {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const at = (what: string) => {
    let lineNo = 1;
    let col = 1;
    for (let k = 0; k < i && k < n; k++) {
      if (text[k] === "\n") {
        lineNo++;
        col = 1;
      } else col++;
    }
    const found = i >= n ? "the end of the input" : JSON.stringify(String.fromCodePoint(text.codePointAt(i)!));
    return `line ${lineNo}, column ${col}: expected ${what}, found ${found}`;
  };
  const string = (): string | undefined => {
    i++;
    for (;;) {
      if (i >= n) return at('a closing \'"\'');
      const ch = text.charCodeAt(i);
      if (ch === 0x22) return void i++;
      if (ch < 0x20) return at("no control character inside a string (write \\n, \\t...)");
      if (ch === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return (i += 1), at("four hex digits after \\u");
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return (i += 1), at("an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
      } else i++;
    }
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const scalar = (): string | undefined => {
    const ch = text[i];
    if (ch === '"') return string();
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) return void (i += word.length);
    }
    NUMBER.lastIndex = i;
    if (ch !== undefined && NUMBER.test(text)) return void (i = NUMBER.lastIndex);
    return at("a value (a string, number, object, array, true, false or null)");
  };
  // A loop over what comes next rather than recursion: "[[[[…" a million deep must not overflow the stack.
  let expect: "value" | "key" | "next" = "value";
  for (;;) {
    ws();
    if (expect === "value") {
      const ch = text[i];
      if (ch === "{" || ch === "[") {
        stack.push(ch);
        i++;
        ws();
        if (text[i] === (ch === "{" ? "}" : "]")) {
          stack.pop();
          i++;
          expect = "next";
        } else expect = ch === "{" ? "key" : "value";
        continue;
      }
      const bad = scalar();
      if (bad) return bad;
      expect = "next";
      continue;
    }
    if (expect === "key") {
      if (text[i] !== '"') return at("a property name in double quotes");
      const bad = string();
      if (bad) return bad;
      ws();
      if (text[i] !== ":") return at("':'");
      i++;
      expect = "value";
      continue;
    }
    const top = stack.at(-1);
    if (top === undefined) break;
    const close = top === "{" ? "}" : "]";
    if (text[i] === close) {
      stack.pop();
      i++;
    } else if (text[i] === ",") {
      i++;
      expect = top === "{" ? "key" : "value";
    } else return at(`',' or '${close}'`);
  }
  return i < n ? at("the end of the input (one JSON value only)") : undefined;
}

// ---------------------------------------------------------------------------
// HTML -> Markdown

/** Elements whose content is not text a reader should see. */
const DROPPED = new Set(["script", "style", "template", "title", "noscript", "iframe", "object", "svg", "math", "textarea", "select"]);
const BLOCKS = new Set([
  "p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "figure", "figcaption", "address",
  "details", "summary", "form", "fieldset", "dl", "dt", "dd", "center", "table", "thead", "tbody", "tfoot", "caption",
]);
const MARKS = new Map([
  ["b", "**"], ["strong", "**"], ["i", "*"], ["em", "*"], ["cite", "*"], ["var", "*"], ["dfn", "*"], ["s", "~~"], ["del", "~~"], ["strike", "~~"],
]);
/** Deeper lists and quotes are shown at this depth: their markers would otherwise grow with the square of the input. */
const MAX_NESTING = 16;

const ENTITIES = new Map([
  ["amp", "&"], ["lt", "<"], ["gt", ">"], ["quot", '"'], ["apos", "'"], ["nbsp", "\u00a0"], ["copy", "©"], ["reg", "®"],
  ["trade", "™"], ["hellip", "…"], ["mdash", "—"], ["ndash", "–"], ["lsquo", "‘"], ["rsquo", "’"], ["ldquo", "“"],
  ["rdquo", "”"], ["laquo", "«"], ["raquo", "»"], ["bull", "•"], ["middot", "·"], ["deg", "°"], ["times", "×"],
  ["divide", "÷"], ["euro", "€"], ["pound", "£"], ["yen", "¥"], ["cent", "¢"], ["sect", "§"], ["para", "¶"],
  ["plusmn", "±"], ["larr", "←"], ["rarr", "→"], ["uarr", "↑"], ["darr", "↓"], ["ensp", "\u2002"], ["emsp", "\u2003"],
  ["thinsp", "\u2009"], ["zwj", "\u200d"], ["zwnj", "\u200c"], ["shy", "\u00ad"],
]);

export function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});/g, (whole, e: string) => {
    if (e[0] === "#") {
      const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : "\ufffd";
    }
    return ENTITIES.get(e) ?? ENTITIES.get(e.toLowerCase()) ?? whole;
  });
}

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

/**
 * One word of HTML text, escaped so Markdown shows it as written. Only what would otherwise become markup is
 * escaped: dialects that show Markdown as written (WeCom's) then show few backslashes.
 */
function escapeWord(w: string, lineStart: boolean, inLink: boolean): string {
  let s = w.replace(/[\\`*_~[\]<&]/g, (c, at: number) => {
    switch (c) {
      case "_":
        return isWordChar(w[at - 1]) && isWordChar(w[at + 1]) ? c : "\\_";
      case "]":
        return inLink ? "\\]" : c;
      case "<":
        return /[A-Za-z/!?]/.test(w[at + 1] ?? "") ? "\\<" : c;
      case "&":
        return /^&#?[A-Za-z0-9]+;/.test(w.slice(at, at + 34)) ? "\\&" : c;
      case "\\":
        return /[!-/:-@[-`{-~]/.test(w[at + 1] ?? "") ? "\\\\" : c;
      default:
        return `\\${c}`;
    }
  });
  if (lineStart) {
    if (/^[#>+=-]/.test(s)) s = `\\${s}`;
    else s = s.replace(/^(\d{1,9})([.)])/, "$1\\$2");
  }
  return s;
}

/** Percent-encodes what would end or break a Markdown link destination. */
function linkUrl(href: string): string | undefined {
  const u = decodeEntities(href).trim();
  if (!/^(https?:\/\/|mailto:)/i.test(u)) return undefined;
  return u.replace(/[\s()<>\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

const ATTRIBUTES = new Map<string, RegExp>();
function attribute(tag: string, name: string): string | undefined {
  let re = ATTRIBUTES.get(name);
  if (!re) ATTRIBUTES.set(name, (re = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'=<>\`]+))`, "i")));
  const m = re.exec(tag);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
}

/** The longest run of backticks in `s`, for a code fence that cannot be closed by the code's own. */
function longestTicks(s: string): number {
  let best = 0;
  let run = 0;
  for (let k = 0; k < s.length; k++) {
    if (s.charCodeAt(k) === 0x60) best = Math.max(best, ++run);
    else run = 0;
  }
  return best;
}

const RAW_CLOSE = new Map<string, RegExp>();
/** `</name ...>`; the attributes part stops at the next "<", so a search costs what the text up to it does. */
function rawClose(name: string): RegExp {
  let re = RAW_CLOSE.get(name);
  if (!re) RAW_CLOSE.set(name, (re = new RegExp(`</${name}[^<>]*>`, "gi")));
  return re;
}

interface Open {
  kind: "mark" | "link";
  name: string;
  /** Index in the output of the piece holding the opener, and the opener itself. */
  at: number;
  opener: string;
  closer: string;
}

/**
 * HTML as the Markdown pp renders: headings, bold and italic, links, inline code and preformatted blocks, lists,
 * quotes, line breaks and paragraphs; other tags are dropped and their text kept, scripts and styles dropped
 * whole, entities decoded, and the text escaped so it shows as written. One pass, left to right; every search
 * either moves the position forward or is remembered, so the time is linear in the input whatever it holds.
 */
export function htmlToMarkdown(html: string): string {
  const out: string[] = [];
  let started = false;
  let breaks = 0;
  let space = false;
  let lineStart = true;
  let prefixed = false;
  let quote = 0;
  /** The quote depth of the last line written. */
  let lineQuote = 0;
  let heading: number | undefined;
  let cell = 0;
  let inLink = false;
  /** Nothing has been written since a list item's marker. */
  let afterMarker = false;
  /** Lists and quotes opened beyond MAX_NESTING, shown at that depth. */
  let deeperLists = 0;
  let deeperQuotes = 0;
  const lists: { ordered: boolean; n: number; width: number }[] = [];
  const opens: Open[] = [];
  /** Text of a <pre> or inline <code>, kept as written until it closes. */
  let raw: { kind: "pre" | "code"; parts: string[]; lang?: string } | undefined;

  const push = (s: string) => {
    out.push(s);
    started = true;
    lineQuote = quote;
    afterMarker = false;
  };
  const block = (n: number) => {
    closeAll();
    // `<li><p>text</p></li>`: the paragraph starts on the marker's line, not below an empty item.
    if (!afterMarker) breaks = Math.max(breaks, n);
    space = false;
  };
  /** Writes the line breaks and the space owed before the next content, and a quote's prefix at a line's start. */
  const flush = () => {
    if (breaks > 0 && started) {
      // A blank line inside a quote keeps it open; one before the quote's first line does not start it early.
      const inside = Math.min(quote, lineQuote);
      for (let k = 0; k < breaks; k++) push(k < breaks - 1 && inside > 0 ? `\n${">".repeat(inside)}` : "\n");
      lineStart = true;
      prefixed = false;
    } else if (space && !lineStart) {
      const last = opens.at(-1);
      // A space right after an opener goes before it: "a <b> x</b>" is "a **x**", not "a ** x**".
      if (last && last.at === out.length - 1) {
        const before = out[last.at - 1];
        if (before !== undefined && !/[\n ]$/.test(before) && out[last.at] === last.opener) out[last.at] = ` ${last.opener}`;
      } else push(" ");
    }
    breaks = 0;
    space = false;
    if (lineStart && !prefixed && quote > 0) {
      push("> ".repeat(quote));
      prefixed = true;
    }
  };
  const word = (w: string) => {
    flush();
    push(escapeWord(w, lineStart, inLink));
    lineStart = false;
  };
  const text = (s: string) => {
    if (s === "") return;
    if (raw) return void raw.parts.push(decodeEntities(s));
    const decoded = decodeEntities(s);
    for (const m of decoded.matchAll(/[ \t\n\r\f]+|[^ \t\n\r\f]+/g)) {
      if (/^[ \t\n\r\f]/.test(m[0])) space = true;
      else word(m[0]);
    }
  };
  const open = (kind: Open["kind"], name: string, opener: string, closer: string) => {
    // Deeper emphasis adds nothing a reader sees, and a bounded stack keeps every close a bounded search.
    if (opens.length >= MAX_NESTING) return;
    // The space before an opener is written with it, so that an empty element can take both back.
    const spaced = space && breaks === 0 && !lineStart;
    space = false;
    flush();
    push(spaced ? ` ${opener}` : opener);
    lineStart = false;
    opens.push({ kind, name, at: out.length - 1, opener, closer });
    if (kind === "link") inLink = true;
  };
  /** Closes the innermost open `name` and whatever was opened inside it. */
  const close = (name: string) => {
    const k = opens.findLastIndex((o) => o.name === name);
    if (k < 0) return;
    while (opens.length > k) end(opens.pop()!);
  };
  const end = (o: Open) => {
    if (o.kind === "link") inLink = false;
    if (o.at === out.length - 1) {
      // Nothing inside: the opener goes, and any space moved before it stays owed.
      if (out.pop() !== o.opener) space = true;
      return;
    }
    out.push(o.closer);
  };
  /** Emphasis and links cannot span paragraphs in Markdown: a block boundary closes them. */
  const closeAll = () => {
    while (opens.length) end(opens.pop()!);
  };
  const endRaw = () => {
    const r = raw!;
    raw = undefined;
    const body = r.parts.join("");
    if (r.kind === "code") {
      const code = body.replace(/[ \t\n\r\f]+/g, " ").trim();
      if (code === "") return;
      const fence = "`".repeat(longestTicks(code) + 1);
      const pad = code.startsWith("`") || code.endsWith("`") ? " " : "";
      flush();
      push(`${fence}${pad}${code}${pad}${fence}`);
      lineStart = false;
      return;
    }
    const code = body.replace(/^\r?\n/, "").trimEnd();
    if (code === "") return;
    const fence = "`".repeat(Math.max(3, longestTicks(code) + 1));
    block(2);
    flush();
    const lines = quote > 0 ? code.replaceAll("\n", `\n${"> ".repeat(quote)}`) : code;
    push(`${fence}${r.lang ?? ""}\n${lines}\n${quote > 0 ? "> ".repeat(quote) : ""}${fence}`);
    lineStart = false;
    block(2);
  };

  const tag = (name: string, closing: boolean, body: string) => {
    if (raw) {
      if (closing && name === raw.kind) endRaw();
      else if (name === "br") raw.parts.push(raw.kind === "pre" ? "\n" : " ");
      else if (!closing && name === "code" && raw.kind === "pre" && raw.parts.length === 0) {
        const lang = /\blanguage-([\w+#.-]{1,32})/.exec(attribute(body, "class") ?? "");
        if (lang) raw.lang = lang[1];
      }
      return;
    }
    const mark = MARKS.get(name);
    if (mark !== undefined) return closing ? close(name === "strong" ? "b" : name === "em" ? "i" : name) : open("mark", name === "strong" ? "b" : name === "em" ? "i" : name, mark, mark);
    const level = /^h([1-6])$/.exec(name);
    if (level) {
      block(2);
      if (closing) {
        if (heading !== undefined && out.at(-1) === `${"#".repeat(heading)} `) out.pop();
        heading = undefined;
        return;
      }
      flush();
      heading = Number(level[1]);
      push(`${"#".repeat(heading)} `);
      lineStart = false;
      return;
    }
    switch (name) {
      case "a": {
        if (closing) return close("a");
        const url = linkUrl(attribute(body, "href") ?? "");
        if (url !== undefined && !inLink) open("link", "a", "[", `](${url})`);
        return;
      }
      case "br":
        if (heading !== undefined) space = true;
        else breaks = Math.min(2, breaks + 1);
        return;
      case "hr":
        block(2);
        flush();
        push("---");
        lineStart = false;
        return block(2);
      case "pre":
        if (!closing) {
          block(2);
          raw = { kind: "pre", parts: [] };
        }
        return;
      case "code":
        if (!closing) raw = { kind: "code", parts: [] };
        return;
      case "ul":
      case "ol":
        block(lists.length ? 1 : 2);
        if (!closing) {
          if (lists.length < MAX_NESTING) lists.push({ ordered: name === "ol", n: 0, width: 2 });
          else deeperLists++;
        } else if (deeperLists > 0) deeperLists--;
        else lists.pop();
        return;
      case "li": {
        block(1);
        if (closing) return;
        const list = lists.at(-1);
        // Items follow each other line by line, whatever paragraph the last one ended with (a tight list).
        if (list && list.n > 0) breaks = Math.min(breaks, 1);
        flush();
        if (list) list.n++;
        const marker = list?.ordered ? `${list.n}. ` : "- ";
        if (list) list.width = marker.length;
        const indent = lists.slice(0, -1).map((l) => " ".repeat(l.width)).join("");
        push(`${indent}${marker}`);
        // What follows a marker starts the item's first line: "# x" there would be a heading too.
        lineStart = true;
        afterMarker = true;
        return;
      }
      case "blockquote":
        block(2);
        if (!closing) {
          if (quote < MAX_NESTING) quote++;
          else deeperQuotes++;
        } else if (deeperQuotes > 0) deeperQuotes--;
        else quote = Math.max(0, quote - 1);
        return;
      case "tr":
        block(1);
        cell = 0;
        return;
      case "td":
      case "th":
        if (!closing && cell++ > 0) {
          flush();
          push(" | ");
          space = false;
        }
        return;
      case "img": {
        const alt = attribute(body, "alt");
        if (alt) {
          space = true;
          text(alt);
          space = true;
        }
        return;
      }
    }
    if (BLOCKS.has(name)) block(name === "dt" || name === "dd" || name === "caption" ? 1 : 2);
  };

  const n = html.length;
  let i = 0;
  // The next ">" and "<" at or after a position, remembered: a run of "<" without a ">" is searched once.
  let gt = -1;
  let lt2 = -1;
  while (i < n) {
    const lt = html.indexOf("<", i);
    if (lt < 0) {
      text(html.slice(i));
      break;
    }
    text(html.slice(i, lt));
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      if (end < 0) break;
      i = end + 3;
      continue;
    }
    if (gt !== n && gt <= lt) {
      gt = html.indexOf(">", lt + 1);
      if (gt < 0) gt = n;
    }
    if (lt2 !== n && lt2 <= lt) {
      lt2 = html.indexOf("<", lt + 1);
      if (lt2 < 0) lt2 = n;
    }
    // No ">" left: nothing from here on can be a tag.
    if (gt === n) {
      text(html.slice(lt));
      break;
    }
    const m = gt < lt2 ? /^<(\/?)([A-Za-z][A-Za-z0-9-]{0,31})(?=[\s/>])/.exec(html.slice(lt, Math.min(gt + 1, lt + 36))) : null;
    if (!m) {
      // "<!DOCTYPE …>" and "<?xml …?>" are not text; any other "<" is ("a < b", "<3").
      if (gt < lt2 && (html[lt + 1] === "!" || html[lt + 1] === "?")) i = gt + 1;
      else {
        text("<");
        i = lt + 1;
      }
      continue;
    }
    const name = m[2]!.toLowerCase();
    const closing = m[1] === "/";
    const body = html.slice(lt + m[0].length, gt);
    i = gt + 1;
    if (!closing && DROPPED.has(name) && !raw) {
      if (body.endsWith("/")) continue;
      const re = rawClose(name);
      re.lastIndex = i;
      const c = re.exec(html);
      if (!c) break;
      i = c.index + c[0].length;
      continue;
    }
    tag(name, closing, body);
  }
  if (raw) endRaw();
  closeAll();
  return out.join("").trim();
}
