import { defineCommand } from "citty";
import { fstatSync } from "node:fs";
import { redactUrl } from "../channels/_common.ts";
import { dispatch, plan, type DispatchResult, type Target } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import { newId } from "../core/id.ts";
import { redactor } from "../core/redact.ts";
import type { Format } from "../core/types.ts";
import { expand, loadConfig, type Config } from "../config/load.ts";
import { chArg, configArg, jsonArg, repeated } from "./args.ts";
import { deadlineMs, deliveryLine, interruptible, waitReporter } from "./common.ts";
import { c, err, out } from "./out.ts";

/** Beyond this a message is almost certainly a mistake (a binary piped in), and would take hours to deliver. */
const MAX_TEXT_BYTES = 1024 * 1024;

export default defineCommand({
  meta: { name: "send", description: "Send a message to channels or groups (text from arguments or stdin)" },
  args: {
    text: { type: "positional", required: false, description: "Message text; read from stdin when omitted or '-'" },
    ...chArg,
    title: { type: "string", alias: ["t"], description: "Title (shown as the platform's title, else as a bold first line)" },
    format: { type: "enum", alias: ["f"], options: ["text", "markdown"], description: "How the text is written ($PP_FORMAT)" },
    deadline: { type: "string", description: "Give up on what is not delivered by then, retries and rate-limit waits included ($PP_DEADLINE, default defaults.deadline, 2m)", valueHint: "duration" },
    "dry-run": { type: "boolean", description: "Print each request that would be sent (secrets redacted); send nothing" },
    ...jsonArg,
    quiet: { type: "boolean", alias: ["q"], description: "No per-channel status lines on stderr" },
    ...configArg,
  },
  async run({ args, rawArgs }) {
    const cfg = loadConfig(args.config);
    const targets = resolveTargets(cfg, repeated(rawArgs, ["ch", "c"]));
    const format = (args.format ?? process.env.PP_FORMAT ?? "text") as Format;
    if (format !== "text" && format !== "markdown") throw new PpError("usage", `PP_FORMAT="${format}": expected text or markdown`);
    const text = await readText(args._ as string[]);
    const title = args.title?.trim() || undefined;
    const createdAt = Date.now();

    if (args["dry-run"]) {
      printDryRun(targets, title, text, format, createdAt, !!args.json);
      return;
    }

    const deadline = deadlineMs(args.deadline, cfg.defaults.deadlineMs);
    const { openStore } = await import("../store/index.ts");
    const store = openStore(cfg.dbPath);
    // The store is left open: every write is committed, and closing would checkpoint the WAL on each of the
    // many short pp processes a shell loop starts (about 1 ms each); SQLite checkpoints it as it grows instead.
    const result = await dispatch(
      { id: newId(createdAt), createdAt, title, text, format, source: "cli", targets: targets.map((t) => t.name) },
      targets,
      { recorder: interruptible(store.log), limiter: store.limiter, deadline: createdAt + deadline, onEvent: waitReporter(!!args.quiet) },
    );
    reportResult(result, !!args.json, !!args.quiet);
  },
});

export function resolveTargets(cfg: Config, fromFlags: string[]): Target[] {
  const envNames = (process.env.PP_CHANNELS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const names = fromFlags.length ? fromFlags : envNames.length ? envNames : cfg.defaults.channels;
  if (names.length === 0) {
    const known = [...cfg.channels.keys(), ...cfg.groups.keys()].join(", ") || "none configured";
    throw new PpError("usage", `no channel given: pass --ch NAME or set defaults.channels in ${cfg.file} (configured: ${known})`);
  }
  return expand(cfg, names);
}

/** Text from the arguments, or stdin when there are none or the text is "-". */
export async function readText(positionals: string[]): Promise<string> {
  let text: string;
  if (positionals.length > 0 && !(positionals.length === 1 && positionals[0] === "-")) {
    text = positionals.join(" ");
  } else {
    if (stdinIsTerminal()) {
      throw new PpError("empty_message", "no message: give the text as arguments (pp send \"disk full\") or pipe it in (df -h | pp send)");
    }
    text = await Bun.stdin.text();
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes: short texts skip the byte count (and loading Buffer).
  if (text.length > MAX_TEXT_BYTES / 3 && Buffer.byteLength(text) > MAX_TEXT_BYTES) {
    throw new PpError("usage", `the message is ${(Buffer.byteLength(text) / 1048576).toFixed(1)} MiB; pp sends at most 1 MiB (attach large output as a file link instead)`);
  }
  text = text.replace(/\r\n/g, "\n").replace(/\s+$/, "");
  if (text.trim() === "") throw new PpError("empty_message", "the message is empty; nothing was sent");
  return text;
}

function stdinIsTerminal(): boolean {
  try {
    // fstat is cheaper than node:tty at start-up; only a character device can be a terminal.
    if (!fstatSync(0).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return require("node:tty").isatty(0);
}

function printDryRun(targets: Target[], title: string | undefined, text: string, format: Format, now: number, json: boolean): void {
  const all = targets.map((t) => {
    const p = plan(t, title, text, format, now);
    const redact = redactor(t.def.secrets(t.opts));
    const requests = p.parts.map((part, i) => {
      const req = t.def.build(part, { title: p.titles[i], format, index: i, total: p.parts.length, now }, t.opts);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, redact(v)]));
      // A signature is derived from the secret; it is not shown either.
      const body = req.body === undefined ? undefined : redact(req.body).replace(/("sign"\s*:\s*")[^"]*"/g, '$1***"');
      return { method: req.method, url: redact(redactUrl(req.url)), headers, body };
    });
    return { channel: t.name, type: t.def.type, target: t.def.target(t.opts), error: p.error ?? null, requests };
  });
  if (json) return out(JSON.stringify(all, null, 2));
  for (const t of all) {
    if (t.error) {
      out(`# ${t.channel} (${t.type}): cannot be sent: ${t.error}\n`);
      continue;
    }
    t.requests.forEach((r, i) => {
      out(`# ${t.channel} (${t.type}) part ${i + 1}/${t.requests.length}`);
      out(`${r.method} ${r.url}`);
      for (const [k, v] of Object.entries(r.headers)) out(`${k}: ${v}`);
      out(`\n${r.body ?? ""}\n`);
    });
  }
}

function reportResult(result: DispatchResult, json: boolean, quiet: boolean): void {
  const failed = result.deliveries.filter((d) => d.status === "failed").length;
  if (json) {
    out(
      JSON.stringify({
        id: result.id,
        status: failed === 0 ? "delivered" : failed === result.deliveries.length ? "failed" : "partial",
        deliveries: result.deliveries.map((d) => ({
          channel: d.channel, type: d.type, status: d.status, attempts: d.attempts, parts: d.parts, latency_ms: d.latencyMs, error: d.error,
        })),
      }),
    );
  } else {
    out(result.id);
  }
  if (!quiet && !json) {
    for (const d of result.deliveries) err(deliveryLine(d));
    if (failed) err(c.dim(`pp: ${failed} of ${result.deliveries.length} deliveries failed; retry with: pp replay ${result.id}`));
  }
  process.exitCode = failed ? 1 : 0;
}
