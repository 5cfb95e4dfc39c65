import { parse, TomlError } from "smol-toml";
import * as v from "valibot";
import { channels as registry, channelTypes, isChannelType } from "../channels/index.ts";
import { checkWith, durationProblem, parseDuration, parseRate } from "../channels/_common.ts";
import type { Target } from "../core/dispatch.ts";
import type { ChannelDef } from "../core/types.ts";
import { PpError } from "../core/errors.ts";
import { NO_PROXY_SETTING, proxyProblem } from "../core/proxy.ts";
import { didYouMean } from "../core/suggest.ts";
import type { ServeSection } from "../server/settings.ts";
import { absolute, configCandidates, defaultDbPath, expandHome } from "./paths.ts";
import { quickExists, quickRead } from "./read.ts";

/** Loaded only when quickExists and quickRead cannot answer (they spare the common case node:fs). */
const fs = () => require("node:fs") as typeof import("node:fs");
/** Loaded only for a file with a [serve] section: nothing else reads it, and its schema costs start-up time. */
const settings = () => require("../server/settings.ts") as typeof import("../server/settings.ts");

export interface Config {
  /** The file it came from, or null when no config exists (only commands that need no channels work then). */
  file: string | null;
  /** `proxy`: [defaults] proxy as written (a URL or "none"); channels in this file already carry it in their opts. */
  defaults: { channels: string[]; retries: number; timeoutMs: number; deadlineMs: number; proxy?: string };
  dbPath: string;
  channels: Map<string, Target>;
  groups: Map<string, string[]>;
  /**
   * Where an alert goes when a delivery finally fails (src/core/fallback.ts): `[defaults] fallback`, and each
   * channel's own `fallback` list where it has one (an empty list turns the default off for that channel).
   */
  fallback: { defaults: string[]; channels: Map<string, string[]> };
  /** The [serve] section as written (src/server/settings.ts merges it with flags, environment and defaults). */
  serve?: ServeSection;
}

/** 10s and 2m, in milliseconds: a config that sets neither does not need the duration parser. */
const DEFAULTS = { retries: 3, timeoutMs: 10_000, deadlineMs: 120_000 };

/** Channel types that do not speak HTTP: no proxy applies to them, [defaults] proxy included. */
const SMTP_TYPES = new Set(["email"]);

/** A config is a few KiB; a bigger file is not one (a log, a binary), and a device or FIFO may never end. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

const duration = v.pipe(
  v.string(),
  v.rawCheck<string>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = durationProblem(dataset.value);
    if (problem) addIssue({ message: problem });
  }),
);
/**
 * A TOML table of user-chosen names. Not v.record: it drops keys such as "__proto__" and "constructor", and
 * names are data; the entries are read with Object.entries and kept in Maps.
 */
const table = v.custom<Record<string, unknown>>(
  (x) => typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Date),
  "must be a table",
);
const names = v.union([v.string(), v.array(v.string())], "must be a name or a list of names");

function topSchemaWith<S extends v.GenericSchema>(serve: S) {
  return v.strictObject({
    defaults: v.optional(
      v.strictObject({
        channels: v.optional(names),
        fallback: v.optional(names),
        retries: v.optional(v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(0, "must be 0 or more"), v.maxValue(20, "must be 20 or less"))),
        timeout: v.optional(duration),
        deadline: v.optional(duration),
        proxy: v.optional(v.pipe(v.string(), checkWith(proxyProblem))),
      }),
    ),
    log: v.optional(v.strictObject({ path: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))) })),
    channels: v.optional(table),
    groups: v.optional(table),
    serve: v.optional(serve),
  });
}
const memberList = v.array(v.string());
type TopSchema = ReturnType<typeof topSchemaWith<ReturnType<typeof import("../server/settings.ts").serveSchema>>>;
const topSchemas: { plain?: TopSchema; serve?: TopSchema } = {};

/**
 * The schema of the file's top level. Without a [serve] section the section's own schema is neither built nor
 * loaded: it is never run then, and the section is still named among the others in every message.
 */
function topSchema(hasServe: boolean): TopSchema {
  if (hasServe) return (topSchemas.serve ??= topSchemaWith(settings().serveSchema()));
  return (topSchemas.plain ??= topSchemaWith(v.never()) as unknown as TopSchema);
}

/** Finds, reads and validates the config. `required: false` returns an empty config when none exists. */
export function loadConfig(flag?: string, opts: { required?: boolean } = {}): Config {
  const candidates = configCandidates(flag);
  const found = candidates.find((c) => quickExists(c.path) ?? fs().existsSync(c.path));
  if (!found) {
    const explicit = candidates.find((c) => c.explicit);
    if (explicit) throw new PpError("config", `config file ${explicit.path} does not exist`);
    if (opts.required !== false) {
      throw new PpError(
        "config",
        `no config file found (looked for ${candidates.map((c) => c.path).join(", ")}); create one with pp config init, or pass --config PATH`,
      );
    }
    return build(null, {});
  }
  const file = absolute(found.path);
  return parseConfig(readConfigFile(file), file);
}

/** The config's text; only a regular file of at most MAX_CONFIG_BYTES, so a FIFO or a device cannot hang pp. */
function readConfigFile(file: string): string {
  const quick = quickRead(file, MAX_CONFIG_BYTES);
  return quick ? utf8(quick, file) : carefulRead(file);
}

const refuse = (file: string, why: string) => new PpError("config", `config file ${file} ${why}`);

function utf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw refuse(file, "is not UTF-8 text; save it as UTF-8");
  }
}

/** What quickRead leaves: anything but a small regular file, read with node:fs to say exactly what is wrong. */
function carefulRead(file: string): string {
  const { closeSync, constants: fsc, fstatSync, openSync, readSync, statSync } = fs();
  let fd: number | undefined;
  try {
    // stat before open: opening a FIFO waits for a writer, and reading /dev/zero never ends.
    const check = (st: { isFile(): boolean; isDirectory(): boolean; size: number }) => {
      if (st.isDirectory()) throw refuse(file, "is a directory; pass the path of a TOML file");
      if (!st.isFile()) throw refuse(file, "is not a regular file (a FIFO, socket or device); pass the path of a TOML file");
      if (st.size > MAX_CONFIG_BYTES) throw refuse(file, `is ${st.size} bytes; a config file may be at most 1 MiB, check that the path is right`);
    };
    check(statSync(file));
    // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open does not wait for a writer.
    fd = openSync(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0));
    const st = fstatSync(fd);
    check(st);
    // One byte more than the file has, to notice it growing while it is read.
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > st.size) throw refuse(file, "changed while it was read; try again");
    return utf8(buf.subarray(0, n), file);
  } catch (e) {
    if (e instanceof PpError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "EACCES" || err.code === "EPERM" ? "permission denied; make it readable by this user" : (err.code ?? err.message);
    throw refuse(file, `cannot be read: ${why}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function parseConfig(text: string, file: string): Config {
  let raw: Record<string, unknown>;
  try {
    raw = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0]!.replace(/^Invalid TOML document:\s*/i, "");
      throw new PpError("config", `${file}:${e.line}:${e.column}: TOML syntax error: ${first}`);
    }
    throw new PpError("config", `${file}: cannot parse: ${(e as Error).message}`);
  }
  return build(file, interpolate(raw, [], file) as Record<string, unknown>);
}

/**
 * `${VAR}` in any string reads the environment; `$${` stands for a literal `${`. `at` is where the value is, made
 * into a path only for an error.
 */
function interpolate(value: unknown, at: readonly (string | number)[], file: string): unknown {
  if (typeof value === "string") {
    // Both forms hold "${"; most strings hold neither.
    if (!value.includes("${")) return value;
    return value.replace(/\$(\$)?\{([^}]*)\}/g, (whole, escaped: string | undefined, name: string) => {
      if (escaped) return whole.slice(1);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw new PpError("config", `${file}: ${pathOf(at)}: "\${${name}}" is not a valid environment variable reference (write $\${...} for a literal "\${")`);
      }
      const v = process.env[name];
      if (v === undefined) throw new PpError("config", `${file}: ${pathOf(at)}: environment variable ${name} is not set (export it, or change the value)`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((x, i) => interpolate(x, [...at, i], file));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, interpolate(x, [...at, k], file)]));
  }
  return value;
}

/** ["channels", "ops", "mentioned_list", 0] -> channels.ops.mentioned_list[0] */
const pathOf = (at: readonly (string | number)[]) => at.reduce<string>((p, k) => (typeof k === "number" ? `${p}[${k}]` : p ? `${p}.${key(k)}` : key(k)), "");

const key = (k: string) => (only(k, false) ? k : JSON.stringify(k));

/**
 * Whether `s` is not empty and has only letters, digits, "_" and "-" (and "." when `dot`). A loop rather than a
 * regular expression: this runs for every channel of every config, and compiling a pattern costs more.
 */
function only(s: string, dot: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45 || (dot && c === 46);
    if (!ok) return false;
  }
  return s.length > 0;
}

function issuePath(prefix: string, issue: v.BaseIssue<unknown>): string {
  const parts = (issue.path ?? []).map((p) => key(String(p.key)));
  return [prefix, ...parts].filter(Boolean).join(".");
}

function fail(file: string | null, path: string, message: string): never {
  throw new PpError("config", `${file ?? "config"}: ${path}: ${message}`);
}

const isUnknownKey = (i: v.BaseIssue<unknown>) => i.type.endsWith("object") && i.expected === "never";
const isMissingKey = (i: v.BaseIssue<unknown>) => i.type.endsWith("object") && i.input === undefined && i.expected !== "never";

type AnySchema = { type?: string; wrapped?: AnySchema; entries?: Record<string, AnySchema>; options?: AnySchema[]; item?: AnySchema };

/** The keys a (valibot) object schema accepts at `path` below it, seen through optional, pipe and union. */
function keysAt(schema: AnySchema | undefined, path: readonly unknown[]): string[] {
  const unwrap = (s: AnySchema | undefined): AnySchema[] => {
    if (!s) return [];
    if (s.wrapped) return unwrap(s.wrapped);
    if (s.type === "union" && s.options) return s.options.flatMap(unwrap);
    return [s];
  };
  let level = unwrap(schema);
  for (const k of path) level = level.flatMap((s) => unwrap(typeof k === "number" ? s.item : s.entries && Object.hasOwn(s.entries, String(k)) ? s.entries[String(k)] : undefined));
  return [...new Set(level.flatMap((s) => Object.keys(s.entries ?? {})))];
}

/**
 * Reports the most useful issue: an unknown key first (a typo also explains a "missing" one). The key is named,
 * its value never shown: a misspelt `secert` holds the secret.
 */
function firstIssue(file: string | null, prefix: string, issues: v.BaseIssue<unknown>[], schema?: unknown): never {
  const unknown = issues.find(isUnknownKey);
  if (unknown) {
    const name = String(unknown.input);
    const parentPath = unknown.path?.slice(0, -1).map((p) => p.key) ?? [];
    const parent = JSON.stringify(parentPath);
    const given = unknown.path?.at(-1)?.input;
    const present = given && typeof given === "object" ? Object.keys(given) : [];
    const valid = keysAt(schema as AnySchema, parentPath).filter((k) => !present.includes(k));
    const missing = issues.find((i) => isMissingKey(i) && JSON.stringify(i.path?.slice(0, -1).map((p) => p.key)) === parent);
    const value = unknown.path?.at(-1)?.value;
    const section = prefix === "" && parentPath.length === 0 && value !== null && typeof value === "object" && !Array.isArray(value);
    if (section) {
      const hint = didYouMean(name, valid, (n) => `[${n}]`) || `; sections are ${keysAt(schema as AnySchema, []).map((n) => `[${n}]`).join(", ")}`;
      fail(file, issuePath(prefix, unknown), `unknown section [${key(name)}]${hint}`);
    }
    const hint =
      didYouMean(name, valid) ||
      (missing ? `; did you mean "${String(missing.path?.at(-1)?.key)}"?` : valid.length ? `; settings here are ${valid.join(", ")}` : " (check the spelling against the README's config reference)");
    fail(file, issuePath(prefix, unknown), `unknown setting "${name}"${hint}`);
  }
  const issue = issues[0]!;
  if (isMissingKey(issue)) fail(file, issuePath(prefix, issue), "is required");
  // Never echo the value itself: it may be a secret given with the wrong type.
  const got = Array.isArray(issue.input) ? "a list" : issue.input === null ? "null" : `a ${typeof issue.input}`;
  const choice = ["picklist", "literal", "enum"].includes(issue.type);
  const expected = (issue.expected ?? "").replace(/^\((.*)\)$/, "$1").replaceAll(" | ", " or ");
  const msg = choice ? `must be ${expected}` : issue.message.startsWith("Invalid type:") ? `must be ${expected}, not ${got}` : issue.message;
  fail(file, issuePath(prefix, issue), msg);
}

function build(file: string | null, raw: Record<string, unknown>): Config {
  const schema = topSchema(Object.hasOwn(raw, "serve"));
  const top = v.safeParse(schema, raw);
  if (!top.success) firstIssue(file, "", top.issues, schema);
  const cfg = top.output;
  const defaultRetries = cfg.defaults?.retries ?? DEFAULTS.retries;
  const defaultTimeout = cfg.defaults?.timeout === undefined ? DEFAULTS.timeoutMs : parseDuration(cfg.defaults.timeout);

  const channels = new Map<string, Target>();
  const types = channelTypes.join(", ");
  for (const [name, value] of Object.entries(cfg.channels ?? {})) {
    const path = `channels.${key(name)}`;
    if (!only(name, true)) fail(file, path, "channel names may use letters, digits, '_', '-' and '.' only");
    if (!v.is(table, value)) fail(file, path, `must be a table: [${path}] with type = "..." and its settings`);
    const section = value;
    const type = section.type;
    if (type === undefined) {
      const typo = Object.keys(section).find((k) => didYouMean(k, ["type"]));
      if (typo !== undefined) fail(file, `${path}.${key(typo)}`, `unknown setting "${typo}"; did you mean "type"?`);
      fail(file, `${path}.type`, `is required; one of ${types}`);
    }
    const def = isChannelType(String(type)) ? (registry[type as keyof typeof registry] as ChannelDef) : undefined;
    if (!def) fail(file, `${path}.type`, `unknown channel type "${String(type)}"${didYouMean(String(type), channelTypes) || `; one of ${types}`}`);
    const parsed = v.safeParse(def.schema, section);
    if (!parsed.success) firstIssue(file, path, parsed.issues, def.schema);
    const opts = parsed.output as any;
    if (SMTP_TYPES.has(def.type)) {
      // nodemailer speaks SMTP straight to the server; there is no HTTP proxy to send it through.
      if (opts.proxy !== undefined && opts.proxy !== NO_PROXY_SETTING) fail(file, `${path}.proxy`, `an ${def.type} channel sends over SMTP, which does not go through an HTTP proxy; remove proxy (pp connects to the mail server directly)`);
    } else if (opts.proxy === undefined && cfg.defaults?.proxy !== undefined) opts.proxy = cfg.defaults.proxy;
    const rateList: string[] = opts.rate === undefined ? def.rate : Array.isArray(opts.rate) ? opts.rate : [opts.rate];
    channels.set(name, {
      name,
      def,
      opts,
      rates: rateList.map(parseRate),
      rateText: rateList.join(", "),
      retries: opts.retries ?? defaultRetries,
      timeoutMs: opts.timeout ? parseDuration(opts.timeout) : defaultTimeout,
    });
  }

  const groups = new Map<string, string[]>();
  for (const [name, members] of Object.entries(cfg.groups ?? {})) {
    const path = `groups.${key(name)}`;
    if (!v.is(memberList, members)) fail(file, path, "must be a list of channel or group names");
    if (channels.has(name)) fail(file, path, `"${name}" is also a channel name; rename the group or the channel`);
    // An empty group would send nothing and report success.
    if (members.length === 0) fail(file, path, "is empty; list at least one channel, or remove the group");
    groups.set(name, members);
  }
  for (const [name, members] of groups) {
    members.forEach((m, i) => {
      if (!channels.has(m) && !groups.has(m)) fail(file, `groups.${key(name)}[${i}]`, `"${m}" is not a configured channel or group${nearest(m, channels, groups)}`);
    });
  }
  const defaults = cfg.defaults?.channels === undefined ? [] : Array.isArray(cfg.defaults.channels) ? cfg.defaults.channels : [cfg.defaults.channels];
  defaults.forEach((m, i) => {
    if (!channels.has(m) && !groups.has(m)) fail(file, `defaults.channels[${i}]`, `"${m}" is not a configured channel or group${nearest(m, channels, groups)}`);
  });
  const fallback = fallbackSettings(file, cfg.defaults?.fallback, channels, groups);
  if (cfg.serve?.token !== undefined && cfg.serve.tokens !== undefined) fail(file, "serve.token", "give either token or tokens, not both; tokens = [...] takes several");
  const serve = cfg.serve === undefined ? undefined : settings().serveSection(cfg.serve);
  serve?.channels?.forEach((m, i) => {
    if (!channels.has(m) && !groups.has(m)) fail(file, `serve.channels[${i}]`, `"${m}" is not a configured channel or group${nearest(m, channels, groups)}`);
  });
  const result: Config = {
    file,
    defaults: {
      channels: defaults, retries: defaultRetries, timeoutMs: defaultTimeout, deadlineMs: cfg.defaults?.deadline === undefined ? DEFAULTS.deadlineMs : parseDuration(cfg.defaults.deadline),
      ...(cfg.defaults?.proxy === undefined ? {} : { proxy: cfg.defaults.proxy }),
    },
    dbPath: expandHome(process.env.PP_DB || cfg.log?.path || defaultDbPath()),
    channels,
    groups,
    fallback,
    ...(serve ? { serve } : {}),
  };
  // A cycle would make group expansion loop; find it now rather than at send time.
  expand(result, [...groups.keys()]);
  return result;
}

/** `[defaults] fallback` and each channel's `fallback`, every name a configured channel or group. */
function fallbackSettings(
  file: string | null, dflt: string | string[] | undefined, channels: Map<string, Target>, groups: Map<string, string[]>,
): Config["fallback"] {
  const check = (list: string[], path: (i: number) => string, self?: string) =>
    list.forEach((m, i) => {
      if (m === self) fail(file, path(i), `"${m}" is this channel itself; an alert that it failed must go somewhere else`);
      if (!channels.has(m) && !groups.has(m)) fail(file, path(i), `"${m}" is not a configured channel or group${nearest(m, channels, groups)}`);
    });
  const list = (x: string | string[]) => (Array.isArray(x) ? x : [x]);
  const defaults = dflt === undefined ? [] : list(dflt);
  check(defaults, (i) => `defaults.fallback[${i}]`);
  const own = new Map<string, string[]>();
  for (const [name, t] of channels) {
    const f = t.opts.fallback as string | string[] | undefined;
    if (f === undefined) continue;
    check(list(f), (i) => `channels.${key(name)}.fallback${Array.isArray(f) ? `[${i}]` : ""}`, name);
    own.set(name, list(f));
  }
  return { defaults, channels: own };
}

/** `; did you mean "ops"?` for a mistyped channel or group name, else the names there are. */
function nearest(name: string, channels: Map<string, unknown>, groups: Map<string, unknown>): string {
  return didYouMean(name, [...channels.keys(), ...groups.keys()]) || ` (known: ${known(channels, groups)})`;
}

function known(channels: Map<string, unknown>, groups: Map<string, unknown>): string {
  const all = [...channels.keys(), ...groups.keys()];
  // The error stays one readable line however many names the config has.
  const shown = all.length > 20 ? [...all.slice(0, 20), `and ${all.length - 20} more`] : all;
  return all.length ? shown.join(", ") : "none configured";
}

/**
 * Channel and group names -> the distinct channels they stand for, in order. Each group is expanded once:
 * groups that each include another twice would otherwise take time exponential in their depth.
 */
export function expand(cfg: Config, names: string[]): Target[] {
  const out = new Map<string, Target>();
  const expanded = new Set<string>();
  // An explicit stack rather than recursion: a chain of thousands of groups must not overflow the call stack.
  const stack: { name: string; members: string[]; next: number }[] = [];
  const onStack = new Set<string>();
  const step = (name: string) => {
    const ch = cfg.channels.get(name);
    if (ch) return void out.set(name, ch);
    const group = cfg.groups.get(name);
    if (!group) {
      const hint = didYouMean(name, [...cfg.channels.keys(), ...cfg.groups.keys()]) || `; configured: ${known(cfg.channels, cfg.groups)}`;
      throw new PpError("unknown_channel", `unknown channel or group "${name}"${hint}${cfg.file ? ` (in ${cfg.file})` : ""}`);
    }
    if (onStack.has(name)) {
      const names = stack.map((f) => f.name);
      const loop = [...names.slice(names.indexOf(name)), name].join(" -> ");
      throw new PpError("config", `${cfg.file}: groups.${key(name)}: groups include each other in a loop (${loop}); remove one of them`);
    }
    if (expanded.has(name)) return;
    expanded.add(name);
    onStack.add(name);
    stack.push({ name, members: group, next: 0 });
  };
  for (const n of names) {
    step(n);
    while (stack.length) {
      const top = stack.at(-1)!;
      if (top.next < top.members.length) step(top.members[top.next++]!);
      else {
        stack.pop();
        onStack.delete(top.name);
      }
    }
  }
  return [...out.values()];
}
