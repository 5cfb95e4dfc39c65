/**
 * One Markdown (GFM) input rendered into each platform's dialect.
 *
 * The document is tokenized once with marked's lexer and the token tree is rendered by a small walker that
 * asks a per-platform `Dialect` how to spell each construct. Regular expressions are only used inside text
 * nodes (escaping, entity decoding), never to rewrite a whole document, so constructs the lexer understands
 * cannot be mangled by a converter that does not.
 *
 * Dialect references:
 * - WeCom: https://developer.work.weixin.qq.com/document/path/91770 (markdown and markdown_v2)
 * - Feishu: https://open.feishu.cn/document/feishu-cards/card-components/content-components/rich-text
 * - DingTalk: https://open.dingtalk.com/document/orgapp/custom-robot-access
 * - Slack: https://docs.slack.dev/messaging/formatting-message-text
 * - Discord: https://support.discord.com/hc/en-us/articles/210298617
 * - Mattermost: https://docs.mattermost.com/collaborate/format-messages.html
 * - Telegram: https://core.telegram.org/bots/api#formatting-options (HTML style)
 */
import type { Token, Tokens } from "marked";

// marked is loaded on first use: plain-text messages, most of what pp sends, never pay for it at start-up.
let marked: typeof import("marked") | undefined;
let fastBlock: Record<string, unknown> | undefined;

/**
 * Limits that keep rendering linear in the size of the message whatever it holds. marked's inline rules can
 * scan the rest of a paragraph for every delimiter (`_a_a_a…`, `[a](b)[a](b)…`), which is quadratic in the
 * paragraph's length, and its block quotes and lists recurse once per level of nesting.
 * - A paragraph's inline text is lexed in windows of at most INLINE_WINDOW characters, cut at a line break when
 *   there is one in the window's second half, else at a space, else anywhere; only inline markup that straddles
 *   a cut (emphasis, a link) is lost, and only in paragraphs that long.
 * - Within a window, the characters marked's closer searches and link matching scan are counted. A window that
 *   costs more than INLINE_WORK times its length is shown as literal text, its markup characters escaped, so the
 *   message stays readable instead of taking seconds to render.
 * - Block quotes and lists nest at most MAX_NESTING deep; deeper markers are kept as text.
 * - marked is linear on everything else, but at up to a couple of microseconds a character (long lists, many
 *   tables rows); only the first MAX_MARKDOWN characters, up to a paragraph break, are lexed as Markdown. The
 *   rest is shown as literal text like an over-costly window, which keeps a megabyte well under a second.
 */
export const INLINE_WINDOW = 2048;
export const INLINE_WORK = 32;
export const MAX_NESTING = 16;
export const MAX_MARKDOWN = 256 * 1024;

const OVERSPENT = new Error("inline markup too costly to lex");

/**
 * A window's text as literal text, shown with its markup characters escaped (the fallback when lexing costs too
 * much). One token for the whole window: the walker escapes it in one pass.
 */
function literal(s: string): Token[] {
  return [{ type: "literal", raw: s, text: s } as Tokens.Generic];
}

// Only characters that open inline markup; markers at a line's start (">", "-", "#") are left as written.
const LITERAL = /([\\`*_~[\]<]+)|[^\\`*_~[\]<]+/g;

/** Cuts `s` into pieces of at most `max` characters, preferring line breaks, then spaces, never a surrogate pair. */
export function windows(s: string, max: number): string[] {
  const out: string[] = [];
  let pos = 0;
  while (s.length - pos > max) {
    const chunk = s.slice(pos, pos + max);
    let cut = chunk.lastIndexOf("\n") + 1;
    if (cut <= max / 2) cut = chunk.lastIndexOf(" ") + 1;
    if (cut <= max / 2) {
      cut = max;
      const c = s.charCodeAt(pos + cut - 1);
      if (c >= 0xd800 && c <= 0xdbff) cut--;
    }
    out.push(chunk.slice(0, cut));
    pos += cut;
  }
  out.push(s.slice(pos));
  return out;
}

/**
 * Where the part of `md` lexed as Markdown ends: after the last blank line outside a code fence within `max`
 * characters, else after the last whole line, else at `max`.
 */
export function markdownEnd(md: string, max: number): number {
  if (md.length <= max) return md.length;
  let paragraph = 0;
  let line = 0;
  let fence = "";
  for (let pos = 0; ; ) {
    const nl = md.indexOf("\n", pos);
    if (nl < 0 || nl + 1 > max) break;
    const text = md.slice(pos, nl);
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(text);
    if (fence) {
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length && m[2]!.trim() === "") fence = "";
    } else if (m) fence = m[1]!;
    else if (text.trim() === "") paragraph = nl + 1;
    line = nl + 1;
    pos = nl + 1;
  }
  if (paragraph > 0) return paragraph;
  if (line > 0) return line;
  const c = md.charCodeAt(max - 1);
  return c >= 0xd800 && c <= 0xdbff ? max - 1 : max;
}

// Every channel of a send renders the same text, one after another in the same task: it is lexed once, and
// the tokens are let go when the task ends so a daemon does not hold a large message's tree.
let cached: { md: string; tokens: Token[] } | undefined;

/** Forgets the last token tree, so a measurement can include lexing. */
export function clearTokenCache(): void {
  cached = undefined;
}

/** The token tree of `md` as marked lexes it (GFM), within the limits above. */
export function lex(md: string): Token[] {
  if (cached?.md === md) return cached.tokens;
  const end = markdownEnd(md, MAX_MARKDOWN);
  const tokens = lexBounded(md.slice(0, end));
  if (end < md.length) {
    const rest = md.slice(end);
    tokens.push({ type: "paragraph", raw: rest, text: rest, tokens: literal(rest) } as Tokens.Paragraph);
  }
  if (cached === undefined) queueMicrotask(clearTokenCache);
  cached = { md, tokens };
  return tokens;
}

function lexBounded(md: string): Token[] {
  marked ??= require("marked") as typeof import("marked");
  const lexer = new marked.Lexer({ gfm: true });
  // The tokenizer is private in marked's types, but documented as replaceable piece by piece.
  const tk = (lexer as unknown as { tokenizer: Record<string, (src: string) => unknown> }).tokenizer;
  const rules = (tk as unknown as { rules: { block: Record<string, unknown>; inline: Record<string, unknown> } }).rules;
  fastBlock ??= { ...rules.block, ...lineRules(rules.block) };
  rules.block = fastBlock;

  let work = 0;
  let budget = Infinity;
  const charge = (n: number) => {
    work += n;
    if (work > budget) throw OVERSPENT;
  };
  const inline = { ...rules.inline };
  for (const name of ["emStrongRDelimAst", "emStrongRDelimUnd", "delRDelim"]) {
    if (inline[name] instanceof RegExp) inline[name] = scanCounted(inline[name] as RegExp, charge);
  }
  // The link rule's unquoted destination runs to the next space, then backtracks looking for ")".
  if (inline.link instanceof RegExp) inline.link = runCharged(inline.link, /[^ \t\n\x00-\x1f]*/y, charge);
  // Both look ahead over a run of e-mail address characters for an "@", at every position of the run.
  for (const name of ["url", "text"]) {
    if (inline[name] instanceof RegExp) inline[name] = runCharged(inline[name] as RegExp, /[\w.!#$%&'*+/=?^`{|}~-]*/y, charge);
  }
  rules.inline = inline;

  let depth = 0;
  for (const name of ["blockquote", "list"]) {
    const tokenize = tk[name]!.bind(tk);
    tk[name] = (src: string) => {
      if (depth >= MAX_NESTING) return undefined;
      depth++;
      try {
        return tokenize(src);
      } finally {
        depth--;
      }
    };
  }

  const inlineTokens = lexer.inlineTokens.bind(lexer);
  let nested = false;
  lexer.inlineTokens = (src: string, tokens: Token[] = []) => {
    if (nested) return inlineTokens(src, tokens);
    nested = true;
    try {
      for (const w of windows(src, INLINE_WINDOW)) {
        const state = { ...lexer.state };
        work = 0;
        budget = INLINE_WORK * Math.max(w.length, 256);
        let out: Token[];
        try {
          out = inlineTokens(w, []);
        } catch (e) {
          if (e !== OVERSPENT) throw e;
          Object.assign(lexer.state, state);
          out = literal(w);
        }
        for (const t of out) tokens.push(t);
      }
      return tokens;
    } finally {
      nested = false;
      budget = Infinity;
    }
  };
  return lexer.lex(md);
}

/** An anchored rule, charged for the run of `run` characters at the start of the source, which it may scan. */
function runCharged(re: RegExp, run: RegExp, charge: (n: number) => void) {
  const exec = (src: string) => {
    run.lastIndex = 0;
    run.test(src);
    charge(run.lastIndex);
    return re.exec(src);
  };
  return { exec, test: (src: string) => exec(src) !== null };
}

/** A closer search, charged for the characters it moves over. */
function scanCounted(re: RegExp, charge: (n: number) => void) {
  return {
    get lastIndex() {
      return re.lastIndex;
    },
    set lastIndex(i: number) {
      re.lastIndex = i;
    },
    exec(s: string) {
      const from = re.lastIndex;
      const m = re.exec(s);
      charge((m ? re.lastIndex : s.length) - from + 1);
      return m;
    },
  };
}

type Matcher = { exec(src: string): string[] | null; test(src: string): boolean };

const matcher = (exec: (src: string) => string[] | null): Matcher => ({ exec, test: (src) => exec(src) !== null });

/**
 * marked's paragraph and setext-heading rules are single regular expressions whose per-line lookaheads (every
 * block that may interrupt a paragraph) keep JavaScriptCore's regex JIT from compiling them; interpreted, they
 * cost several microseconds per character, seconds for a megabyte. These matchers give the same matches by
 * testing the very same lookaheads, compiled on their own, once per line. Should marked change the shape of its
 * rules, they are left as they are.
 */
function lineRules(block: Record<string, unknown>): Record<string, Matcher> {
  const out: Record<string, Matcher> = {};
  const para = (block.paragraph as RegExp).source;
  const pHead = "^([^\\n]+(?:\\n(?!";
  const pTail = ")[^\\n]+)*)";
  if (para.startsWith(pHead) && para.endsWith(pTail)) {
    const interrupts = new RegExp(para.slice(pHead.length, -pTail.length), "y");
    out.paragraph = matcher((src) => {
      if (src === "" || src[0] === "\n") return null;
      let end = src.indexOf("\n");
      if (end < 0) end = src.length;
      while (end + 1 < src.length && src[end + 1] !== "\n") {
        interrupts.lastIndex = end + 1;
        if (interrupts.test(src)) break;
        const next = src.indexOf("\n", end + 1);
        end = next < 0 ? src.length : next;
      }
      const m = src.slice(0, end);
      return [m, m];
    });
  }
  const lh = (block.lheading as RegExp).source;
  const m = /^\^\(\?!([^]*)\)\(\(\?:\.\|\\n\(\?!([^]*)\)\)\+\?\)(\\n \{0,3\}\(=\+\|-\+\)\[ \\t\]\*\(\?:\\n\+\|\$\))$/.exec(lh);
  if (m && lh === `^(?!${m[1]})((?:.|\\n(?!${m[2]}))+?)${m[3]}`) {
    const notStart = new RegExp(m[1]!, "y");
    const stop = new RegExp(m[2]!, "y");
    const underline = new RegExp(m[3]!, "y");
    // What "." in the rule matches: anything but a line terminator.
    const dots = /[^\n\r\u2028\u2029]*/y;
    out.lheading = matcher((src) => {
      notStart.lastIndex = 0;
      if (notStart.test(src)) return null;
      for (let pos = 0; ; ) {
        const nl = src.indexOf("\n", pos);
        dots.lastIndex = pos;
        dots.test(src);
        if (nl < 0 || dots.lastIndex !== nl) return null;
        if (nl > 0) {
          underline.lastIndex = nl;
          const u = underline.exec(src);
          if (u) return [src.slice(0, underline.lastIndex), src.slice(0, nl), u[1]!];
        }
        stop.lastIndex = nl + 1;
        if (stop.test(src)) return null;
        pos = nl + 1;
      }
    });
  }
  return out;
}

type Align = "left" | "right" | "center" | null;

interface InlineCtx {
  /** Inside text the dialect already shows in bold (a heading rendered as bold): skip nested bold markers. */
  bold?: boolean;
}

interface Dialect {
  /** Literal text from a text node (entities already decoded). */
  text(s: string): string;
  /** A backslash-escaped punctuation character from the source. */
  escape(ch: string): string;
  strong(inner: string): string;
  em(inner: string): string;
  del(inner: string): string;
  codespan(code: string): string;
  /** Hard line break; soft breaks inside text go through `text`. */
  br: string;
  /** `label` is rendered inline; `plainLabel` is the label as unformatted text. */
  link(href: string, label: string, plainLabel: string, title: string | null): string;
  image(href: string, alt: string): string;
  html(raw: string): string;
  heading(depth: number, inner: (ctx: InlineCtx) => string): string;
  code(text: string, lang: string): string;
  /** Prefix for every line of a block quote (blank lines get it trimmed). */
  quotePrefix: string;
  bullet: string;
  checkbox(checked: boolean): string;
  /** Separator between list items; `loose` lists had blank lines between items in the source. */
  itemSep(loose: boolean): string;
  table(t: Tokens.Table, r: Renderer): string;
  hr: string;
  blockSep: string;
  /** Whether HTML entities in text are turned into the characters they stand for (default yes). */
  keepEntities?: boolean;
}

/** Named entities worth decoding; numeric ones are handled generically. Unknown names stay literal. */
const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  copy: "\u00a9",
  reg: "\u00ae",
  trade: "\u2122",
  hellip: "\u2026",
  mdash: "\u2014",
  ndash: "\u2013",
  laquo: "\u00ab",
  raquo: "\u00bb",
  middot: "\u00b7",
  times: "\u00d7",
  deg: "\u00b0",
  euro: "\u20ac",
};

function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});/g, (m, body: string) => {
    if (body[0] === "#") {
      const cp = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return "\ufffd";
      return String.fromCodePoint(cp);
    }
    return ENTITIES[body] ?? m;
  });
}

/**
 * Display width in a monospace font, as a terminal draws it: East Asian wide characters and emoji (✅, ⚠️, a
 * flag, a family joined by ZWJ) take two cells, combining marks and zero-width characters none.
 */
export function displayWidth(s: string): number {
  return Bun.stringWidth(s);
}

function pad(s: string, width: number, align: Align): string {
  const gap = Math.max(0, width - displayWidth(s));
  if (align === "right") return " ".repeat(gap) + s;
  if (align === "center") return " ".repeat(gap >> 1) + s + " ".repeat(gap - (gap >> 1));
  return s + " ".repeat(gap);
}

const ALIGN_MAX = 40;

/** A table as monospace text with aligned columns (for code blocks and plain text). */
function alignedTable(t: Tokens.Table, r: Renderer): string[] {
  const head = t.header.map((c) => r.plain(c.tokens));
  const rows = t.rows.map((row) => row.map((c) => r.plain(c.tokens)));
  // Loops, not Math.max(...spread): a table may have more rows or columns than a call may take arguments.
  const widths: number[] = head.map((h) => Math.max(1, displayWidth(h)));
  let size = 0;
  for (const row of [head, ...rows]) {
    for (let i = 0; i < row.length; i++) {
      const w = displayWidth(row[i]!);
      widths[i] = Math.max(widths[i] ?? 1, Math.min(w, ALIGN_MAX));
      size += w + 3;
    }
  }
  // Padding repeats a column's width on every row, so one wide cell over many rows would multiply the size of
  // the message: columns align up to ALIGN_MAX cells wide, and a table that padding would more than double is
  // left unaligned.
  let padded = 0;
  for (const w of widths) padded += (w + 3) * (rows.length + 1);
  if (padded > 2 * size + 1024) return [head, ...rows].map((cells) => cells.join(" | ").trimEnd());
  const line = (cells: string[]) =>
    widths
      .map((w, i) => pad(cells[i] ?? "", w, t.align[i] ?? null))
      .join(" | ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("-+-"), ...rows.map(line)];
}

/** A table as "a | b" lines, cells rendered in the dialect (for platforms without tables). */
function pipeLines(t: Tokens.Table, r: Renderer): string[] {
  const all = [t.header, ...t.rows];
  return all.map((row) => row.map((c) => r.inline(c.tokens)).join(" | "));
}

/** A GFM table with alignment row; cell pipes are escaped so they do not start a new column. */
function gfmTable(t: Tokens.Table, r: Renderer): string {
  const cell = (c: Tokens.TableCell) => r.inline(c.tokens).replaceAll("|", "\\|").replaceAll("\n", " ");
  const row = (cells: Tokens.TableCell[]) => "| " + cells.map(cell).join(" | ") + " |";
  const rule = t.align.map((a) => (a === "left" ? ":--" : a === "right" ? "--:" : a === "center" ? ":-:" : "---"));
  return [row(t.header), "| " + rule.join(" | ") + " |", ...t.rows.map(row)].join("\n");
}

/** A fence longer than any backtick run starting a line inside the code, so the code cannot close it. */
function fenceFor(code: string): string {
  let longest = 2;
  for (const line of code.split("\n")) {
    const m = /^ {0,3}(`+)/.exec(line);
    if (m && m[1]!.length > longest) longest = m[1]!.length;
  }
  return "`".repeat(longest + 1);
}

/** Inline code with enough backticks around it to hold backticks inside. */
function backticks(code: string): string {
  let longest = 0;
  for (const m of code.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  const tick = "`".repeat(longest + 1);
  const padded = longest > 0 || code.startsWith(" ") || code.endsWith(" ") ? ` ${code} ` : code;
  return tick + padded + tick;
}

/** Percent-encode the characters that would end or break a Markdown link destination. */
function mdHref(href: string): string {
  return href.replace(/[ ()<>]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));
}

/** Keep a code line's indentation visible on platforms that collapse leading spaces outside code blocks. */
function keepIndent(line: string): string {
  const m = /^[ \t]+/.exec(line);
  if (!m) return line;
  return m[0].replaceAll("\t", "    ").replaceAll(" ", "\u00a0") + line.slice(m[0].length);
}

function prefixLines(text: string, prefix: string): string {
  const bare = prefix.trimEnd();
  return text
    .split("\n")
    .map((l) => (l.trim() === "" ? bare : prefix + l))
    .join("\n");
}

function isHttp(href: string): boolean {
  return /^https?:\/\//i.test(href);
}

/** Whether a link's label already says everything its target does (autolinks, mailto autolinks). */
function labelIsTarget(href: string, label: string): boolean {
  return label === href || "mailto:" + label === href || label === "";
}

class Renderer {
  constructor(private d: Dialect) {}

  private decode(s: string): string {
    return this.d.keepEntities ? s : decodeEntities(s);
  }

  private escapes = new Map<string, string>();
  /** A run of markup characters, each escaped in the dialect. */
  private escapeAll(run: string): string {
    let out = "";
    for (const ch of run) {
      let e = this.escapes.get(ch);
      if (e === undefined) this.escapes.set(ch, (e = this.d.escape(ch)));
      out += e;
    }
    return out;
  }

  render(md: string): string {
    const tokens = lex(md.replace(/\r\n?/g, "\n"));
    return this.blocks(tokens).trimEnd();
  }

  blocks(tokens: Token[]): string {
    const out: string[] = [];
    for (const t of tokens) {
      const s = this.block(t);
      if (s !== "") out.push(s);
    }
    return out.join(this.d.blockSep);
  }

  block(t: Token): string {
    const d = this.d;
    switch (t.type) {
      case "space":
      case "def":
        // Link definitions are already resolved into the links that use them.
        return "";
      case "paragraph":
        return this.inline((t as Tokens.Paragraph).tokens);
      case "text": {
        const tt = t as Tokens.Text;
        return tt.tokens ? this.inline(tt.tokens) : d.text(this.decode(tt.text));
      }
      case "heading": {
        const h = t as Tokens.Heading;
        return d.heading(h.depth, (ctx) => this.inline(h.tokens, ctx));
      }
      case "code": {
        const c = t as Tokens.Code;
        return d.code(c.text, (c.lang ?? "").trim().split(/\s+/)[0] ?? "");
      }
      case "blockquote":
        return prefixLines(this.blocks((t as Tokens.Blockquote).tokens), d.quotePrefix);
      case "list":
        return this.list(t as Tokens.List);
      case "table":
        return d.table(t as Tokens.Table, this);
      case "hr":
        return d.hr;
      case "html":
        return d.html((t as Tokens.HTML).text.trimEnd());
      default: {
        const g = t as Tokens.Generic;
        if (Array.isArray(g.tokens)) return this.inline(g.tokens);
        return d.text(String(g.text ?? g.raw ?? "").trimEnd());
      }
    }
  }

  list(l: Tokens.List): string {
    const d = this.d;
    const start = typeof l.start === "number" ? l.start : 1;
    const items = l.items.map((item, i) => {
      let marker = l.ordered ? `${start + i}. ` : d.bullet;
      const indent = " ".repeat(marker.length);
      if (item.task) marker += d.checkbox(item.checked === true);
      const body = item.tokens.filter((x) => x.type !== "checkbox");
      const content = this.itemBlocks(body, item.loose);
      const lines = content.split("\n");
      return lines.map((line, k) => (k === 0 ? marker + line : line === "" ? "" : indent + line)).join("\n");
    });
    return items.join(d.itemSep(l.loose));
  }

  private itemBlocks(tokens: Token[], loose: boolean): string {
    const out: string[] = [];
    for (const t of tokens) {
      const s = this.block(t);
      if (s !== "") out.push(s);
    }
    // In tight items a nested list follows its text directly, as in the source.
    return out.join(loose ? this.d.blockSep : this.d.itemSep(false));
  }

  inline(tokens: Token[] | undefined, ctx: InlineCtx = {}): string {
    if (!tokens) return "";
    const d = this.d;
    let out = "";
    for (const t of tokens) {
      switch (t.type) {
        case "text": {
          const tt = t as Tokens.Text;
          out += tt.tokens ? this.inline(tt.tokens, ctx) : d.text(this.decode(tt.text));
          break;
        }
        case "escape":
          out += d.escape((t as Tokens.Escape).text);
          break;
        case "strong": {
          const inner = this.inline((t as Tokens.Strong).tokens, { ...ctx, bold: true });
          out += ctx.bold ? inner : d.strong(inner);
          break;
        }
        case "em":
          out += d.em(this.inline((t as Tokens.Em).tokens, ctx));
          break;
        case "del":
          out += d.del(this.inline((t as Tokens.Del).tokens, ctx));
          break;
        case "codespan":
          out += d.codespan((t as Tokens.Codespan).text);
          break;
        case "br":
          out += d.br;
          break;
        case "link": {
          const l = t as Tokens.Link;
          out += d.link(decodeEntities(l.href), this.inline(l.tokens, ctx), this.plain(l.tokens), l.title ?? null);
          break;
        }
        case "image": {
          const im = t as Tokens.Image;
          out += d.image(decodeEntities(im.href), decodeEntities(im.text));
          break;
        }
        case "html":
          out += d.html((t as Tokens.HTML).text);
          break;
        case "checkbox":
          break;
        case "literal":
          out += (t as Tokens.Generic).text.replace(LITERAL, (m: string, markup?: string) =>
            markup ? this.escapeAll(markup) : d.text(this.decode(m)),
          );
          break;
        default: {
          const g = t as Tokens.Generic;
          out += Array.isArray(g.tokens) ? this.inline(g.tokens, ctx) : d.text(String(g.text ?? g.raw ?? ""));
        }
      }
    }
    return out;
  }

  /** Inline tokens as unformatted, unescaped text. */
  plain(tokens: Token[] | undefined): string {
    if (!tokens) return "";
    let out = "";
    for (const t of tokens) {
      const g = t as Tokens.Generic;
      if (t.type === "br") out += "\n";
      else if (t.type === "checkbox") continue;
      else if (t.type === "image") out += decodeEntities(g.text ?? "");
      else if (t.type === "codespan" || t.type === "html" || t.type === "escape") out += g.text ?? "";
      else if (Array.isArray(g.tokens)) out += this.plain(g.tokens);
      else out += decodeEntities(String(g.text ?? g.raw ?? ""));
    }
    return out;
  }
}

const identity = (s: string) => s;
const backslash = (ch: string) => "\\" + ch;

/** Escape the three characters Slack treats as control characters (Slack's formatting doc). */
function slackEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Characters that would end a Slack `<url|label>` link, percent-encoded. */
function slackHref(href: string): string {
  return href.replace(/[|<> ]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));
}

const slack: Dialect = {
  text: slackEscape,
  escape: slackEscape,
  strong: (s) => `*${s}*`,
  em: (s) => `_${s}_`,
  del: (s) => `~${s}~`,
  codespan: (s) => "`" + slackEscape(s) + "`",
  br: "\n",
  link: (href, _label, plain) =>
    plain === href || plain === "" ? `<${slackHref(href)}>` : `<${slackHref(href)}|${slackEscape(plain)}>`,
  image: (href, alt) => (alt ? `<${slackHref(href)}|${slackEscape(alt)}>` : `<${slackHref(href)}>`),
  html: slackEscape,
  heading: (_depth, inner) => `*${inner({ bold: true })}*`,
  code: (text) => "```\n" + slackEscape(text) + "\n```",
  quotePrefix: "> ",
  bullet: "• ",
  checkbox: (checked) => (checked ? "☑ " : "☐ "),
  itemSep: () => "\n",
  table: (t, r) => "```\n" + slackEscape(alignedTable(t, r).join("\n")) + "\n```",
  hr: "──────────",
  blockSep: "\n\n",
};

/** Shared spelling of standard Markdown constructs for the Markdown-based dialects. */
const standard: Dialect = {
  text: identity,
  escape: backslash,
  strong: (s) => `**${s}**`,
  em: (s) => `*${s}*`,
  del: (s) => `~~${s}~~`,
  codespan: backticks,
  br: "\n",
  link: (href, label, plain, title) => {
    if (plain === href && isHttp(href)) return href;
    const t = title ? ` "${title.replaceAll('"', '\\"')}"` : "";
    return `[${label}](${mdHref(href)}${t})`;
  },
  image: (href, alt) => `![${alt}](${mdHref(href)})`,
  html: identity,
  heading: (depth, inner) => "#".repeat(depth) + " " + inner({}),
  code: (text, lang) => {
    const f = fenceFor(text);
    return f + lang + "\n" + text + "\n" + f;
  },
  quotePrefix: "> ",
  bullet: "- ",
  checkbox: (checked) => (checked ? "[x] " : "[ ] "),
  itemSep: (loose) => (loose ? "\n\n" : "\n"),
  table: (t, r) => gfmTable(t, r),
  hr: "---",
  blockSep: "\n\n",
};

const discord: Dialect = {
  ...standard,
  // Discord renders only three heading levels (Discord's markdown guide).
  heading: (depth, inner) => (depth <= 3 ? "#".repeat(depth) + " " + inner({}) : `**${inner({ bold: true })}**`),
  // No image embedding from message content; a masked link keeps the target reachable.
  image: (href, alt) => (alt ? `[${alt}](${mdHref(href)})` : href),
  link: (href, label, plain) => {
    // Masked links are only made for web targets; others would show as raw Markdown.
    if (!isHttp(href)) return labelIsTarget(href, plain) ? plain || href : `${label} (${href})`;
    return plain === href ? href : `[${label}](${mdHref(href)})`;
  },
  table: (t, r) => "```\n" + alignedTable(t, r).join("\n") + "\n```",
};

// Mattermost decodes entities itself, so the source's spelling is the faithful one.
const mattermost: Dialect = { ...standard, keepEntities: true };

/** Feishu wants colliding characters as numeric entities (Feishu's card markdown doc). */
function feishuEscape(s: string): string {
  return s.replaceAll("<", "&#60;").replaceAll(">", "&#62;");
}

const feishu: Dialect = {
  ...standard,
  text: feishuEscape,
  escape: (ch) => `&#${ch.codePointAt(0)};`,
  codespan: (s) => backticks(feishuEscape(s)),
  link: (href, label, plain) => {
    // Card markdown only accepts http(s) targets; anything else stays readable as text.
    if (!isHttp(href)) return labelIsTarget(href, plain) ? feishuEscape(plain || href) : `${label} (${feishuEscape(href)})`;
    if (plain === href) return `[${feishuEscape(href)}](${mdHref(href)})`;
    return `[${label.replaceAll("[", "&#91;").replaceAll("]", "&#93;")}](${mdHref(href)})`;
  },
  // Card images need an uploaded image_key, so a URL can only be offered as a link.
  image: (href, alt) =>
    isHttp(href) ? `[${feishuEscape(alt || href)}](${mdHref(href)})` : feishuEscape(alt ? `${alt} (${href})` : href),
  html: feishuEscape,
  // JSON 1.0 cards have no headings; bold lines are the common stand-in.
  heading: (_depth, inner) => `**${inner({ bold: true })}**`,
  code: (text, lang) => standard.code(feishuEscape(text), lang),
  // No block quotes in JSON 1.0 cards, and a leading ">" would be shown literally.
  quotePrefix: "｜ ",
  table: (t, r) => "```\n" + feishuEscape(alignedTable(t, r).join("\n")) + "\n```",
};

/** DingTalk often ignores a single "\n" (widely reported; DingTalk's doc is silent), so every wanted break is a blank line. */
function dingBreaks(s: string): string {
  return s.replaceAll("\n", "\n\n");
}

const dingtalk: Dialect = {
  ...standard,
  text: dingBreaks,
  br: "\n\n",
  del: identity,
  link: (href, label) => `[${label}](${mdHref(href)})`,
  html: identity,
  // Fences render poorly in DingTalk, so code becomes a quote, one paragraph per line.
  code: (text) =>
    text
      .split("\n")
      .map((l) => (l.trim() === "" ? ">" : "> " + keepIndent(l)))
      .join("\n\n"),
  itemSep: () => "\n\n",
  table: (t, r) => pipeLines(t, r).join("\n\n"),
};

const wecomV2: Dialect = {
  ...standard,
  // Strikethrough is not in either WeCom list (WeCom robot doc); the words are kept, the line is not.
  del: identity,
  link: (href, label) => `[${label}](${mdHref(href)})`,
};

const wecomV1: Dialect = {
  ...wecomV2,
  em: identity,
  // v1 inline code is single-line only.
  codespan: (s) => backticks(s.replaceAll("\n", " ")),
  // v1 has no images, fences, tables or rules: links, quoted lines and plain lines stand in for them.
  image: (href, alt) => `[${alt || href}](${mdHref(href)})`,
  code: (text) =>
    text
      .split("\n")
      .map((l) => (l.trim() === "" ? ">" : "> " + keepIndent(l)))
      .join("\n"),
  table: (t, r) => pipeLines(t, r).join("\n"),
  hr: "──────────",
};

const plain: Dialect = {
  text: identity,
  escape: identity,
  strong: identity,
  em: identity,
  del: identity,
  codespan: identity,
  br: "\n",
  link: (href, _label, text) => (labelIsTarget(href, text) ? text || href : `${text} (${href})`),
  image: (href, alt) => (alt ? `${alt} (${href})` : href),
  html: identity,
  heading: (_depth, inner) => inner({}),
  code: identity,
  quotePrefix: "> ",
  bullet: "- ",
  checkbox: (checked) => (checked ? "[x] " : "[ ] "),
  itemSep: () => "\n",
  table: (t, r) => alignedTable(t, r).join("\n"),
  hr: "----------",
  blockSep: "\n\n",
};

/**
 * Telegram HTML (Telegram's formatting options). Every "<", ">" and "&" of the text is escaped, so a raw "<" in
 * the result is always a tag pp made. Backticks and "~~~" are written as entities so that no line of text looks
 * like the "```" fences code blocks are kept in: the splitter repairs those fences, and the channel turns them
 * into <pre> only when it builds each part.
 */
export function telegramEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("`", "&#96;").replaceAll("~~~", "&#126;~~");
}

/** Inside a code block only a line that would pass for a fence needs its first character as an entity. */
function telegramCode(text: string): string {
  return text
    .split("\n")
    .map((l) => {
      const e = l.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
      return /^\s*(`{3,}|~{3,})/.test(e) ? e.replace(/[`~]/, (c) => `&#${c.charCodeAt(0)};`) : e;
    })
    .join("\n");
}

function telegramAttr(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** Telegram opens http(s) and tg:// links; anything else would be refused or shown as a dead link. */
function telegramLinkable(href: string): boolean {
  return isHttp(href) || /^tg:\/\//i.test(href);
}

const telegram: Dialect = {
  text: telegramEscape,
  escape: (ch) => (ch === "~" ? "&#126;" : telegramEscape(ch)),
  strong: (s) => `<b>${s}</b>`,
  em: (s) => `<i>${s}</i>`,
  del: (s) => `<s>${s}</s>`,
  codespan: (s) => `<code>${telegramCode(s.replaceAll("\n", " "))}</code>`,
  br: "\n",
  link: (href, label, plain) => {
    if (!telegramLinkable(href)) return labelIsTarget(href, plain) ? telegramEscape(plain || href) : `${label} (${telegramEscape(href)})`;
    return `<a href="${telegramAttr(href)}">${plain === "" ? telegramEscape(href) : label}</a>`;
  },
  image: (href, alt) =>
    telegramLinkable(href) ? `<a href="${telegramAttr(href)}">${telegramEscape(alt || href)}</a>` : telegramEscape(alt ? `${alt} (${href})` : href),
  html: telegramEscape,
  // No headings in Telegram: a bold line stands in.
  heading: (_depth, inner) => `<b>${inner({ bold: true })}</b>`,
  code: (text, lang) => "```" + lang.replace(/[^\w+#.-]/g, "") + "\n" + telegramCode(text) + "\n```",
  quotePrefix: "┃ ",
  bullet: "• ",
  checkbox: (checked) => (checked ? "☑ " : "☐ "),
  itemSep: () => "\n",
  table: (t, r) => "```\n" + telegramCode(alignedTable(t, r).join("\n")) + "\n```",
  hr: "──────────",
  blockSep: "\n\n",
};

/**
 * Adaptive Card TextBlock Markdown: bold, italic, lists and links only (Adaptive Cards' text features). Everything
 * else is spelled with those or as text.
 */
const teams: Dialect = {
  ...standard,
  del: identity,
  codespan: identity,
  heading: (_depth, inner) => `**${inner({ bold: true })}**`,
  link: (href, label, plain) => (isHttp(href) ? (plain === href ? href : `[${label}](${mdHref(href)})`) : labelIsTarget(href, plain) ? plain || href : `${label} (${href})`),
  image: (href, alt) => (isHttp(href) ? `[${alt || href}](${mdHref(href)})` : alt || href),
  code: (text) => text.split("\n").map(keepIndent).join("\n"),
  quotePrefix: "│ ",
  table: (t, r) => pipeLines(t, r).join("\n"),
  hr: "──────────",
};

const renderers = new Map<Dialect, Renderer>();
function render(d: Dialect, md: string): string {
  let r = renderers.get(d);
  if (!r) renderers.set(d, (r = new Renderer(d)));
  return r.render(md);
}

/** Slack mrkdwn (Slack's formatting doc). */
export function toSlack(md: string): string {
  return render(slack, md);
}

/** Discord message markdown (Discord's markdown guide). */
export function toDiscord(md: string): string {
  return render(discord, md);
}

/** Mattermost renders GFM itself; this only normalises the source. */
export function toMattermost(md: string): string {
  return render(mattermost, md);
}

/** Feishu/Lark card markdown, JSON 1.0 (Feishu's card markdown doc). */
export function toFeishu(md: string): string {
  return render(feishu, md);
}

/** DingTalk robot markdown (widely reported; DingTalk's doc is silent). */
export function toDingtalk(md: string): string {
  return render(dingtalk, md);
}

/** WeCom robot markdown: `v1` is msgtype markdown, `v2` is markdown_v2 (WeCom robot doc). */
export function toWecom(md: string, version: "v1" | "v2"): string {
  return render(version === "v1" ? wecomV1 : wecomV2, md);
}

/** Markdown stripped to readable plain text. */
export function toPlain(md: string): string {
  return render(plain, md);
}

/**
 * Telegram HTML with code blocks still fenced (see telegramEscape); the channel finishes it part by part.
 * https://core.telegram.org/bots/api#html-style
 */
export function toTelegram(md: string): string {
  return render(telegram, md);
}

function htmlEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** Only web and mail links become anchors: a javascript: or data: target in a message must not be clickable. */
function htmlLinkable(href: string): boolean {
  return isHttp(href) || /^mailto:/i.test(href);
}

/** Wraps each line on its own: a message split between lines never leaves a tag open across parts. */
function perLine(open: string, close: string): (s: string) => string {
  return (s) => s.split("\n").map((l) => (l === "" ? l : `${open}${l}${close}`)).join("\n");
}

/**
 * Pushover's HTML subset: <b>, <i>, <u>, <font color> and <a href>; line breaks stay line breaks
 * (https://pushover.net/api#html). Raw HTML in the source is shown as text, never passed on.
 */
const pushover: Dialect = {
  ...plain,
  text: htmlEscape,
  escape: htmlEscape,
  strong: perLine("<b>", "</b>"),
  em: perLine("<i>", "</i>"),
  codespan: htmlEscape,
  link: (href, label, text) => {
    if (!htmlLinkable(href)) return htmlEscape(labelIsTarget(href, text) ? text || href : `${text} (${href})`);
    return `<a href="${htmlEscape(href)}">${text === "" ? htmlEscape(href) : label}</a>`;
  },
  image: (href, alt) => (htmlLinkable(href) ? `<a href="${htmlEscape(href)}">${htmlEscape(alt || href)}</a>` : htmlEscape(alt ? `${alt} (${href})` : href)),
  html: htmlEscape,
  heading: (_depth, inner) => perLine("<b>", "</b>")(inner({ bold: true })),
  code: htmlEscape,
  bullet: "• ",
  checkbox: (checked) => (checked ? "☑ " : "☐ "),
  table: (t, r) => htmlEscape(alignedTable(t, r).join("\n")),
  hr: "──────────",
};

const MONO = 'style="font-family:ui-monospace,Menlo,Consolas,monospace"';

/**
 * E-mail HTML, for a body whose whitespace is kept (white-space: pre-wrap): the walker's line breaks and
 * indentation are the layout, so lists, quotes and tables read as they do in the plain-text alternative.
 * Raw HTML in the source is shown as text: a message must not smuggle markup, images or scripts into a mailbox.
 */
const email: Dialect = {
  ...pushover,
  del: perLine("<s>", "</s>"),
  codespan: (s) => `<code ${MONO}>${htmlEscape(s)}</code>`,
  heading: (depth, inner) => `<b style="font-size:${depth <= 1 ? "1.4em" : depth === 2 ? "1.2em" : "1em"}">${inner({ bold: true })}</b>`,
  code: (text) => `<code ${MONO}>${htmlEscape(text)}</code>`,
  quotePrefix: "│ ",
  table: (t, r) => `<code ${MONO}>${htmlEscape(alignedTable(t, r).join("\n"))}</code>`,
};

/** Pushover's HTML subset (sent with html=1). */
export function toPushover(md: string): string {
  return render(pushover, md);
}

/** A complete HTML e-mail body; its plain-text alternative is toPlain of the same source. */
export function toEmailHtml(md: string): string {
  return (
    '<!DOCTYPE html><html><head><meta charset="utf-8"></head>' +
    `<body><div style="white-space:pre-wrap">${render(email, md)}</div></body></html>`
  );
}

/** Microsoft Teams Adaptive Card TextBlock Markdown (https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features). */
export function toTeams(md: string): string {
  return render(teams, md);
}
