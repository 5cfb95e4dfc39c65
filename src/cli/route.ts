/**
 * Where a message goes, from the command line: --ch names, --tag selections and --to URLs (their union), else
 * their environment twins PP_CHANNELS, PP_TAGS and PP_TO, else defaults.channels.
 */
import type { ArgsDef } from "citty";
import type { Target } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import type { InputFormat } from "../core/format.ts";
import { secretsOf } from "../core/redact.ts";
import type { Format } from "../core/types.ts";
import type { Config } from "../config/load.ts";
import { distinctTargets, tagAlternatives, taggedChannels } from "../config/targets.ts";
import { occurrences, repeated } from "./args.ts";

export const tagArg = {
  tag: { type: "string", description: "Channels with this tag; repeat for channels with any of them, or give tags as a,b for channels with all ($PP_TAGS)", valueHint: "tags" },
} as const satisfies ArgsDef;

export const toArgs = {
  to: { type: "string", description: "A platform's webhook URL to send to, no config needed; repeatable ($PP_TO)", valueHint: "url" },
  type: { type: "string", description: "The channel type of the --to URLs when their host does not tell (wecom, feishu, dingtalk, slack, discord, mattermost, teams, webhook)", valueHint: "type" },
} as const satisfies ArgsDef;

/** Every value a flag was given, as written: citty keeps only the last, and a URL or an AND of tags holds commas. */
export function flagValues(argv: readonly string[], names: readonly string[], what: string): string[] {
  return occurrences(argv, names).map(({ flag, value }) => {
    // `--to "$UNSET"` must not fall back to the default channels.
    if (value.trim() === "" || value.split(",").every((s) => s.trim() === "")) throw new PpError("usage", `${flag} ${JSON.stringify(value)} names no ${what}`);
    return value;
  });
}

export interface Selection {
  ch: string[];
  /** --tag values (or PP_TAGS's words), each one alternative. */
  tags: string[];
  to: string[];
  /** Where the tags and URLs came from, for messages. */
  tagWhere: string;
  toWhere: string;
}

/** The flags' choice, else the environment's: a choice on the command line replaces all three variables. */
export function selection(fromFlags: { ch: string[]; tags: string[]; to: string[] }): Selection {
  if (fromFlags.ch.length || fromFlags.tags.length || fromFlags.to.length) return { ...fromFlags, tagWhere: "--tag", toWhere: "--to" };
  const env = (name: string, sep: RegExp, what: string): string[] => {
    const raw = process.env[name];
    if (raw === undefined) return [];
    const list = raw.split(sep).map((s) => s.trim()).filter(Boolean);
    // Set but naming nothing (`PP_CHANNELS=$UNSET`): falling back to the defaults would send where nobody asked.
    if (list.length === 0) throw new PpError("usage", `${name}=${JSON.stringify(raw)} names no ${what}; set it to ${what} names, or unset it`);
    return list;
  };
  return {
    ch: env("PP_CHANNELS", /,/, "channel"),
    tags: env("PP_TAGS", /\s+/, "tag"),
    to: env("PP_TO", /[\s,]+/, "URL"),
    tagWhere: "PP_TAGS",
    toWhere: "PP_TO",
  };
}

/** The command line's choice (flags, then environment) for pp send. */
export function sendSelection(rawArgs: readonly string[]): Selection {
  return selection({ ch: repeated([...rawArgs], ["ch", "c"]), tags: flagValues(rawArgs, ["tag"], "tag"), to: flagValues(rawArgs, ["to"], "URL") });
}

/** Channels made from --to URLs are named type:host, which no configured channel can be. */
export const isQuickName = (name: string) => name.includes(":");

/** Whether a config file must exist: not when only URLs were given. */
export const needsConfig = (s: Selection) => s.ch.length > 0 || s.tags.length > 0 || s.to.length === 0;

/**
 * The channels a selection stands for, each destination once (`note` hears about those left out), and every
 * secret to keep out of what is shown: the configured channels' and the URLs'. Nothing chosen: defaults.channels.
 */
export function selectTargets(cfg: Config, sel: Selection, type: string | undefined, note: (line: string) => void = () => {}): { targets: Target[]; secrets: string[] } {
  let names = [...sel.ch, ...taggedChannels(cfg, tagAlternatives(sel.tags), sel.tagWhere)];
  if (names.length === 0 && sel.to.length === 0) {
    names = cfg.defaults.channels;
    if (names.length === 0) {
      const known = [...cfg.channels.keys(), ...cfg.groups.keys()].join(", ") || "none configured";
      const where = cfg.file ? ` or set defaults.channels in ${cfg.file} (configured: ${known})` : " (no config file: --to URL sends to a webhook URL without one)";
      throw new PpError("usage", `no channel given: pass --ch NAME, --tag TAG or --to URL${where}`);
    }
  }
  if (type !== undefined && sel.to.length === 0) throw new PpError("usage", "--type gives the type of --to URLs; pass --to URL with it");
  const configured = names.length ? distinctTargets(cfg, names, note) : [];
  // --type without a URL was refused above: no URL, nothing for the URL parser (loaded only for URLs) to do.
  const quick = sel.to.length ? (require("../config/quick.ts") as typeof import("../config/quick.ts")).quickTargets(sel.to, type, cfg.defaults, sel.toWhere) : { targets: [], secrets: [] };
  return { targets: [...configured, ...quick.targets], secrets: [...secretsOf(cfg.channels.values()), ...quick.secrets] };
}

/** --format, else PP_FORMAT, else text. */
export function formatFrom(flag: string | undefined): InputFormat {
  const f = flag ?? process.env.PP_FORMAT ?? "text";
  // The channels' own formats need no conversion, and so none of the converters' code.
  if (f === "text" || f === "markdown") return f;
  const { INPUT_FORMATS, isInputFormat } = formatModule();
  if (!isInputFormat(f)) throw new PpError("usage", `PP_FORMAT="${f}": expected ${INPUT_FORMATS.join(", ")}`);
  return f;
}

/**
 * The text and format channels are given (HTML and JSON become Markdown and text). JSON that does not parse, or
 * HTML with nothing to show, is refused before anything is recorded or sent.
 */
export function checkInput(text: string, format: InputFormat): { text: string; format: Format } {
  if (format === "text" || format === "markdown") return { text, format };
  const { channelInput, jsonProblem, jsonToList } = formatModule();
  if (format === "json" && jsonToList(text) === undefined) {
    throw new PpError("usage", `--format json: the message is not JSON: ${jsonProblem(text) ?? "it does not parse"}; send it with --format text instead`);
  }
  const input = channelInput({ text, format });
  if (format === "html" && input.text.trim() === "") {
    throw new PpError("empty_message", "the HTML message shows no text (only tags, comments or scripts); nothing was sent");
  }
  return input;
}

/** HTML and JSON's converters, loaded for such messages only (a literal path, which the compiled binary bundles). */
const formatModule = () => require("../core/format.ts") as typeof import("../core/format.ts");
