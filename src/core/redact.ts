import { environmentProxySecrets, proxySecrets } from "./proxy.ts";
import type { ChannelDef } from "./types.ts";

/** Longest piece of a platform's error text kept in an outcome, on stderr and in the push log. */
export const ERROR_MAX = 300;
/** Longest piece of a platform's answer kept in the push log. */
export const RESPONSE_MAX = 2000;

/** Shorter strings are too common to hide without mangling ordinary words, and too short to be a credential. */
const MIN_SECRET = 4;

/**
 * The ways a secret can come back in an answer: as written, URL-encoded, inside a JSON string, and inside a
 * JSON string whose encoder escapes "/" (PHP's json_encode does).
 */
function forms(s: string): string[] {
  const json = JSON.stringify(s).slice(1, -1);
  return [s, encodeURIComponent(s), json, json.replaceAll("/", "\\/")];
}

/**
 * A short, letters-only secret (a generic webhook's path segment such as "deploy" or "redir") is hidden where it
 * stands as a word, not inside longer words: "redirects" in pp's own message stays readable. Anything with a
 * digit or longer than this is hidden wherever it appears.
 */
const WORDLIKE = /^[A-Za-z][A-Za-z-]{0,14}$/;
const ALNUM = /^[A-Za-z0-9]$/;

/**
 * Replaces every known secret (in every form of `forms`) in a text with ***. Occurrences that overlap or
 * touch are hidden as one, so no piece of a secret is left between two others. Applied to everything the
 * core prints or records that came from a request, a response or an error, and before any cut: a cut
 * first could leave the head of a secret that no longer matches in full.
 */
export function redactor(secrets: Iterable<string>): (text: string) => string {
  const unique = new Set<string>();
  for (const s of secrets) if (s) for (const f of forms(s)) if (f.length >= MIN_SECRET) unique.add(f);
  const list = [...unique].map((s) => ({ s, word: WORDLIKE.test(s) }));
  if (list.length === 0) return (t) => t;
  return (text) => {
    const raw: [number, number, boolean][] = [];
    for (const { s, word } of list) {
      for (let i = text.indexOf(s); i !== -1; i = text.indexOf(s, i + 1)) raw.push([i, i + s.length, word]);
    }
    // A word-like secret counts where its neighbours are not letters or digits, or are part of another secret.
    let covered: Uint8Array | undefined;
    const edge = (p: number) => {
      if (!ALNUM.test(text[p] ?? "")) return true;
      if (!covered) {
        covered = new Uint8Array(text.length);
        for (const [a, b] of raw) covered.fill(1, a, b);
      }
      return covered[p] === 1;
    };
    const spans: [number, number][] = [];
    for (const [a, b, word] of raw) if (!word || (edge(a - 1) && edge(b))) spans.push([a, b]);
    if (spans.length === 0) return text;
    spans.sort((a, b) => a[0] - b[0]);
    let out = "";
    let pos = 0;
    let i = 0;
    while (i < spans.length) {
      const start = spans[i]![0];
      let end = spans[i]![1];
      for (i++; i < spans.length && spans[i]![0] <= end; i++) end = Math.max(end, spans[i]![1]);
      out += `${text.slice(pos, start)}***`;
      pos = end;
    }
    return out + text.slice(pos);
  };
}

/** Cuts to at most `max` UTF-16 units, "…" included, never inside a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * Every secret of every channel given. An answer is redacted with all of them, not only its own channel's:
 * a platform may echo another channel's key (one relay forwarding for several hooks, a shared proxy).
 */
export function secretsOf(targets: Iterable<{ def: ChannelDef; opts: unknown }>): string[] {
  // The login of every proxy a request may go through, configured or from the environment.
  const out: string[] = environmentProxySecrets();
  for (const t of targets) out.push(...t.def.secrets(t.opts), ...proxySecrets((t.opts as { proxy?: string } | null)?.proxy));
  return out;
}
