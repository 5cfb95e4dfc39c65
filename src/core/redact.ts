/**
 * Replaces every known secret (and its URL-encoded form) in a text with ***. Applied to everything
 * the core prints or records that came from a request, a response or an error.
 */
export function redactor(secrets: string[]): (text: string) => string {
  const list = [...new Set(secrets.flatMap((s) => (s ? [s, encodeURIComponent(s)] : [])))]
    .filter((s) => s.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (list.length === 0) return (t) => t;
  return (text) => {
    let out = text;
    for (const s of list) if (out.includes(s)) out = out.split(s).join("***");
    return out;
  };
}
