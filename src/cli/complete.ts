import { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import type { CommandDef } from "citty";
import { loadConfig } from "../config/load.ts";
import { configArg } from "./args.ts";
import { preview, writeStdout } from "./out.ts";

/** How many message ids a <TAB> offers: enough to find today's, few enough to read. */
export const RECENT_IDS = 30;

/**
 * `pp __complete ids`: the newest message ids in the push log, one per line as `ID<TAB>age text`, for the
 * completion scripts (zsh and fish show the part after the tab). It runs on every <TAB>, so it never fails
 * and never waits: no config, no push log, a locked, damaged or newer one all print nothing. It only reads:
 * the store is opened read-only, never created, migrated or checkpointed.
 */
export function recentIds(configFlag?: string, limit = RECENT_IDS): string {
  let db: Database | undefined;
  try {
    const cfg = loadConfig(configFlag);
    // A FIFO or a device in its place would block the open.
    if (!statSync(cfg.dbPath).isFile()) return "";
    db = new Database(cfg.dbPath, { readonly: true });
    const rows = db.query("SELECT id, created_at, title, text FROM messages ORDER BY id DESC LIMIT ?").all(limit) as {
      id: unknown; created_at: unknown; title: unknown; text: unknown;
    }[];
    const now = Date.now();
    let out = "";
    for (const r of rows) {
      // Ids come from the file: only well-formed ones are offered, so none can carry a tab or a line break.
      if (typeof r.id !== "string" || !/^[0-9A-Za-z]{1,64}$/.test(r.id)) continue;
      const text = `${typeof r.title === "string" && r.title ? `${r.title}: ` : ""}${typeof r.text === "string" ? r.text : ""}`;
      const when = typeof r.created_at === "number" ? `${age(now - r.created_at)} ` : "";
      // preview() flattens whitespace (tabs and line breaks included) and escapes control characters.
      out += `${r.id}\t${when}${preview(text, 48)}\n`;
    }
    return out;
  } catch {
    return "";
  } finally {
    try {
      db?.close();
    } catch {}
  }
}

/**
 * How long ago, in one unit ("45s", "12m", "3h", "5d"). Not a local time: the first use of the time zone costs
 * a few milliseconds, on every <TAB>.
 */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export default {
  meta: { name: "__complete", description: "For the completion scripts: recent message ids", hidden: true },
  args: {
    what: { type: "positional", required: true, description: "ids" },
    ...configArg,
  },
  run({ args }) {
    if (args.what === "ids") writeStdout(recentIds(typeof args.config === "string" ? args.config : undefined));
  },
} satisfies CommandDef<any>;
