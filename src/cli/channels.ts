import { defineCommand } from "./run.ts";
import type { Config } from "../config/load.ts";
import { PpError } from "../core/errors.ts";
import type { Block } from "../core/ports.ts";
import { fmtWait } from "../core/wait.ts";
import { configArg, jsonArg } from "./args.ts";
import { clean, err, localTime, out, outputWidth, table } from "./out.ts";

/** node:fs only for the listing (--names, which completion runs on every <TAB>, does without it). */
const existsSync = (path: string) => (require("node:fs") as typeof import("node:fs")).existsSync(path);

export default defineCommand({
  meta: { name: "channels", description: "List configured channels and groups (destinations redacted)" },
  args: {
    names: { type: "boolean", description: "Only the channel and group names, one per line (for shell completion)" },
    types: { type: "boolean", description: "Every channel type pp knows, with its config keys ([optional] ones bracketed) and default rate; needs no config" },
    unblock: { type: "string", description: "Lift a platform's block on this channel's destination (and so on every channel sharing it)", valueHint: "name" },
    ...jsonArg,
    ...configArg,
  },
  async run({ args }) {
    // Completion calls this on every <TAB> (entry.ts answers it before loading this module, as completion runs it).
    if (args.names) return (await import("./names.ts")).printNames(args.config);
    if (args.types) return listTypes(!!args.json);
    const { loadConfig } = await import("../config/load.ts");
    const cfg = loadConfig(args.config);
    if (args.unblock !== undefined) return unblock(cfg, args.unblock);
    const now = Date.now();
    const blocks = await blocksInForce(cfg, now);
    const rows = [...cfg.channels.values()].map((t) => {
      const b = blocks.get(t.def.rateKey(t.opts));
      return {
        name: t.name, type: t.def.type, target: t.def.target(t.opts), rate: t.rateText || null, retries: t.retries, timeout_ms: t.timeoutMs,
        tags: (t.opts.tags as string[] | undefined) ?? [],
        blocked: b ? { cause: b.cause, since: new Date(b.since).toISOString(), until: new Date(b.until).toISOString() } : null,
      };
    });
    const groups = Object.fromEntries(cfg.groups);
    if (args.json) return out(JSON.stringify({ config: cfg.file, channels: rows, groups, defaults: cfg.defaults.channels }, null, 2));
    // The TAGS column only where tags are used: most configs have none.
    if (rows.some((r) => r.tags.length)) out(table(["NAME", "TYPE", "TARGET", "RATE", "TAGS"], rows.map((r) => [r.name, r.type, r.target, r.rate ?? "-", clean(r.tags.join(",")) || "-"])));
    else out(table(["NAME", "TYPE", "TARGET", "RATE"], rows.map((r) => [r.name, r.type, r.target, r.rate ?? "-"])));
    const blocked = rows.filter((r) => r.blocked !== null);
    if (blocked.length) {
      const until = (r: (typeof rows)[number]) => Date.parse(r.blocked!.until);
      out(`\n${table(["BLOCKED", "UNTIL", "CAUSE"], blocked.map((r) => [clean(r.name), `${localTime(until(r))} (in ${fmtWait(until(r) - now)})`, clean(r.blocked!.cause)]))}`);
      out(`(pp channels --unblock NAME lifts a block)`);
    }
    if (cfg.groups.size) out(`\n${table(["GROUP", "MEMBERS"], [...cfg.groups].map(([g, m]) => [clean(g), clean(m.join(", "))]))}`);
    if (cfg.defaults.channels.length) out(`\ndefault: ${clean(cfg.defaults.channels.join(", "))}`);
  },
});

/** Every registered type, read off its schema (so every channel module is loaded: this command is not start-up critical). */
async function listTypes(json: boolean): Promise<void> {
  const [{ channelList }, { commonFields }, { describeType, keysText }, { columns, wrap }] = await Promise.all([
    import("../channels/index.ts"), import("../channels/_common.ts"), import("../channels/describe.ts"), import("./help.ts"),
  ]);
  const common = Object.keys(commonFields);
  const types = channelList().map((d) => describeType(d, common));
  if (json) return out(JSON.stringify({ types, common }, null, 2));
  const rate = (r: string[]) => (r.length ? `default rate ${r.join(" and ")}` : "no default rate");
  out(columns(types.map((t) => [t.type, `${t.label}; ${rate(t.rate)}\n${keysText(t)}`]), outputWidth(), (s) => s, 12).join("\n"));
  out(["", ...wrap(`Keys in [ ] are optional; every type also takes ${common.join(", ")}.`, outputWidth())].join("\n"));
}

/**
 * Blocks a platform asked for, by destination. A store that does not exist yet holds none, and listing channels
 * must not create one; a store that cannot be read is reported and the list shown without blocks.
 */
async function blocksInForce(cfg: Config, now: number): Promise<Map<string, Block>> {
  if (!existsSync(cfg.dbPath)) return new Map();
  try {
    const { openStore } = await import("../store/index.ts");
    const store = openStore(cfg.dbPath);
    try {
      return store.limiter.blocks(now);
    } finally {
      store.close();
    }
  } catch (e) {
    const { storeError } = await import("../store/errors.ts");
    err(clean(`pp: ${storeError(e, cfg.dbPath, "read rate-limit blocks").message}; the list below shows no blocks`));
    return new Map();
  }
}

/** Blocks are kept per destination (rateKey): lifting one lifts it for every channel on that destination. */
async function unblock(cfg: Config, name: string): Promise<void> {
  const t = cfg.channels.get(name);
  if (!t) {
    const known = [...cfg.channels.keys()];
    throw new PpError("usage", `--unblock: no channel named ${JSON.stringify(name)}; configured channels: ${known.join(", ") || "none"}`);
  }
  const key = t.def.rateKey(t.opts);
  const sharing = [...cfg.channels.values()].filter((o) => o.name !== name && o.def.rateKey(o.opts) === key).map((o) => o.name);
  const also = sharing.length ? ` (the same destination as ${sharing.join(", ")}, unblocked too)` : "";
  if (!existsSync(cfg.dbPath)) return err(clean(`pp: ${name} is not blocked`));
  const { openStore } = await import("../store/index.ts");
  const { storeError } = await import("../store/errors.ts");
  let lifted: boolean;
  try {
    const store = openStore(cfg.dbPath);
    try {
      lifted = store.limiter.unblock(key, Date.now());
    } finally {
      store.close();
    }
  } catch (e) {
    throw storeError(e, cfg.dbPath, "lift the block");
  }
  err(clean(lifted ? `pp: lifted the block on ${name}${also}` : `pp: ${name} is not blocked`));
}
