import { PpError } from "./errors.ts";
import type { ChannelDef, Format, Mentions } from "./types.ts";

/**
 * A phone number: an optional "+" and at most 15 digits (E.164's longest). Longer runs of digits are user ids:
 * Discord's are 17 to 20 digits.
 */
const PHONE = /^\+?\d{1,15}$/;
/**
 * What a user id may hold on every platform pp mentions on (WeCom: letters, digits and "_-@."; Slack U…; Feishu
 * ou_…; Discord digits; Mattermost usernames). Nothing that could close the tag or markup it is written into.
 */
const USER = /^[A-Za-z0-9_.@-]{1,64}$/;
const ALL = new Set(["all", "@all", "everyone", "@everyone"]);
/** More than any platform pings at once (Discord: 100 users; DingTalk and WeCom lists are far shorter in practice). */
const MAX_MENTIONS = 100;

/**
 * The mentions asked for (--at, repeatable, comma lists allowed; PP_AT; the API's `at`), each once, in the order
 * given: "all" (or "@all", "everyone"), phone numbers and user ids; a leading "@" on a user id is dropped. A value
 * that is none of them is a usage error naming it, so nothing is sent with a mention lost.
 */
export function parseAt(values: readonly string[], what = "--at"): string[] {
  const out = new Set<string>();
  for (const raw of values.flatMap((v) => v.split(","))) {
    const s = raw.trim();
    if (s === "") continue;
    if (ALL.has(s.toLowerCase())) {
      out.add("all");
      continue;
    }
    const id = PHONE.test(s) ? s : s.replace(/^@/, "");
    if (!PHONE.test(id) && !USER.test(id)) {
      const shown = JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
      throw new PpError("usage", `${what} ${shown} is not a mention: give "all", a phone number (digits, optionally with a leading +) or a user id (letters, digits, _ . - @)`);
    }
    out.add(id);
  }
  if (out.size > MAX_MENTIONS) throw new PpError("usage", `${what}: ${out.size} mentions; pp mentions at most ${MAX_MENTIONS} at once`);
  return [...out];
}

/** The mentions as channels read them, or undefined when there are none. */
export function mentionsOf(at: readonly string[] | undefined): Mentions | undefined {
  if (!at || at.length === 0) return undefined;
  const m: Mentions = { all: false, phones: [], users: [] };
  for (const s of at) {
    if (s === "all") m.all = true;
    else if (PHONE.test(s)) m.phones.push(s);
    else m.users.push(s);
  }
  return m;
}

/**
 * One note per channel that cannot make every mention asked for: which channel, and what it leaves out. The
 * message is still sent.
 */
export function mentionNotes(targets: readonly { name: string; def: ChannelDef; opts: any }[], at: Mentions | undefined, format: Format): string[] {
  if (!at) return [];
  const notes: string[] = [];
  for (const t of targets) {
    const gap = t.def.mentions ? t.def.mentions(at, format, t.opts) : `${t.def.label} has no mentions`;
    if (gap !== undefined) notes.push(`pp: note: ${t.name}: --at ${t.def.mentions ? "partly ignored" : "ignored"}: ${gap}`);
  }
  return notes;
}
