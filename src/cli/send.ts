import { MAX_DURATION_MS } from "../channels/_common.ts";
import { dispatch, fmtMs, partContext, plan, shownRequest, type DispatchEvent, type DispatchResult, type Target } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import type { AlertOutcome } from "../core/fallback.ts";
import { newId } from "../core/id.ts";
import { redactor } from "../core/redact.ts";
import type { Format } from "../core/types.ts";
import { loadConfig, type Config } from "../config/load.ts";
import { chArg, configArg, jsonArg, serverAddress, serverArg } from "./args.ts";
import { atArg, atFrom } from "./at.ts";
import { checkInput, formatFrom, isQuickName, needsConfig, selection, selectTargets, sendSelection, tagArg, toArgs } from "./route.ts";
import { storeError } from "../store/errors.ts";
import { alertLines, alertsJson, deadlineMs, deliveryLine, interruptible, reportUnrecorded, storeWaitMs, waitReporter } from "./common.ts";
import { c, clean, cleanLine, err, EXIT_STDOUT, out, outAsync } from "./out.ts";
import { defineCommand } from "./run.ts";


/** Beyond this a message is almost certainly a mistake (a binary piped in), and would take hours to deliver. */
const MAX_TEXT_BYTES = 1024 * 1024;

export default defineCommand({
  meta: { name: "send", description: "Send a message to channels or groups (text from arguments or stdin)" },
  args: {
    text: { type: "positional", required: false, description: "Message text; read from stdin when omitted or '-'" },
    ...chArg,
    title: { type: "string", alias: ["t"], description: "Title (shown as the platform's title, else as a bold first line)" },
    ...tagArg,
    ...toArgs,
    format: { type: "enum", alias: ["f"], options: ["text", "markdown", "html", "json"], description: "How the text is written: html is rendered for each platform, json shown as a key/value list ($PP_FORMAT)" },
    ...atArg,
    deadline: { type: "string", description: "Give up on what is not delivered by then, retries and rate-limit waits included ($PP_DEADLINE, default defaults.deadline, 2m); with --server, on handing the message to the daemon", valueHint: "duration" },
    "dry-run": { type: "boolean", description: "Print each request that would be sent (secrets redacted); send nothing" },
    verbose: { type: "boolean", alias: ["v"], description: "Print each request and answer on stderr as it happens (secrets redacted, as --dry-run), with timings" },
    ...jsonArg,
    quiet: { type: "boolean", alias: ["q"], description: "No per-channel status lines on stderr" },
    ...serverArg,
    ...configArg,
  },
  async run({ args, rawArgs }) {
    const server = serverAddress(args.server, args.token);
    // The daemon holds the channels and their secrets: no config is read, and the client module loads only here.
    if (server !== undefined) return sendThrough(server, args, rawArgs);
    const sel = sendSelection(rawArgs);
    const cfg = loadConfig(args.config, { required: needsConfig(sel) });
    const { targets, secrets } = selectTargets(cfg, sel, args.type, args.quiet ? undefined : err);
    const format = formatFrom(args.format);
    const at = atFrom(rawArgs);
    const deadline = deadlineMs(args.deadline, cfg.defaults.deadlineMs);
    // Input that never ends is bounded by the deadline too; the send then gets its own.
    const text = await readText(args._ as string[], { waitMs: deadline });
    // HTML and JSON are planned as the Markdown or text they become; the push log keeps them as written.
    const input = checkInput(text, format);
    const title = args.title?.trim() || undefined;
    const createdAt = Date.now();
    if (!args.quiet && at.length) for (const line of mentions().mentionNotes(targets, mentions().mentionsOf(at), input.format)) err(c.dim(line));

    if (args["dry-run"]) {
      printDryRun(targets, title, input.text, input.format, createdAt, !!args.json, secrets, at);
      return;
    }

    const storeWait = storeWaitMs();
    const { openStore } = await import("../store/index.ts");
    const store = openStore(cfg.dbPath);
    // Closed once dispatched: the close leaves the WAL as it is (closeDb), not checkpointed on each of the many
    // short pp processes a shell loop starts; SQLite checkpoints it as it grows instead.
    const stop = interruptible(store.log, storeWait);
    let result: DispatchResult;
    let alerts: AlertOutcome[];
    try {
      result = await dispatch(
        { id: newId(createdAt), createdAt, title, text, format, source: "cli", targets: targets.map((t) => t.name), ...(at.length ? { at } : {}) },
        targets,
        {
          recorder: stop.recorder, limiter: store.limiter, tokens: store.tokens, deadline: createdAt + deadline, secrets,
          onEvent: args.verbose ? verboseReporter(waitReporter(!!args.quiet)) : waitReporter(!!args.quiet), trace: !!args.verbose,
          interrupt: stop.interrupt, storeWaitMs: storeWait,
        },
      );
      // Never throws: an alert that cannot be recorded is reported with the others. Only a failed delivery with a
      // fallback configured has any: other sends never load the fallback code.
      alerts = !hasFallback(cfg) || !result.deliveries.some((d) => d.status === "failed") ? [] : await fallback().sendAlerts(cfg, { id: result.id, title, text }, result, {
        recorder: stop.recorder, limiter: store.limiter, tokens: store.tokens, deadlineMs: deadline, secrets,
        interrupt: stop.interrupt, storeWaitMs: storeWait, onEvent: waitReporter(!!args.quiet), isAlert: false,
      });
    } catch (e) {
      // Only recording the message throws, before anything is sent.
      throw storeError(e, cfg.dbPath, "record the message");
    } finally {
      store.close();
    }
    await reportResult(result, !!args.json, !!args.quiet, alerts);
    if (result.unrecorded !== undefined) process.exitCode = reportUnrecorded(result.unrecorded, cfg.dbPath, [result]);
    else if (stop.signalled()) process.exitCode = stop.signalled();
  },
});

async function sendThrough(address: string, args: Record<string, unknown>, rawArgs: string[]): Promise<void> {
  const client = await import("./client.ts");
  const server = client.serverOf(address, args.token as string | undefined);
  const sel = sendSelection(rawArgs);
  if (sel.to.length || args.type !== undefined) {
    throw new PpError("usage", `${sel.toWhere} sends from this machine, not through a daemon; leave out --server (and PP_SERVER) to send to a URL`);
  }
  const channels = sel.ch;
  const format = formatFrom(args.format as string | undefined);
  // Without a config, the deadline (how long to keep trying to hand the message over) defaults to defaults.deadline's.
  const at = atFrom(rawArgs);
  const deadline = deadlineMs(args.deadline as string | undefined, DEFAULT_HANDOFF_MS);
  const text = await readText(args._ as string[], { waitMs: deadline });
  checkInput(text, format);
  await client.sendThrough({
    // The daemon takes html and json as they are, as the push log keeps them.
    server, text, title: (args.title as string | undefined)?.trim() || undefined, format: format as Format, channels, at, tags: sel.tags, deadlineMs: deadline,
    json: !!args.json, quiet: !!args.quiet, verbose: !!args.verbose, dryRun: !!args["dry-run"],
  });
}

const DEFAULT_HANDOFF_MS = 120_000;

// Literal paths: the compiled binary bundles only modules named in full. Each loads when a message needs it.
const fallback = () => require("../core/fallback.ts") as typeof import("../core/fallback.ts");
const mentions = () => require("../core/mentions.ts") as typeof import("../core/mentions.ts");
const hasFallback = (cfg: Config) => cfg.fallback.defaults.length > 0 || cfg.fallback.channels.size > 0;

/**
 * --ch, else $PP_CHANNELS, else defaults.channels -> the channels to send to, each destination once.
 * `note` hears about channels left out because another one already goes to the same place.
 */
export function resolveTargets(cfg: Config, fromFlags: string[], note: (line: string) => void = () => {}): Target[] {
  return selectTargets(cfg, selection({ ch: fromFlags, tags: [], to: [] }), undefined, note).targets;
}

/** Text from the arguments, or stdin when there are none or the text is "-". */
export async function readText(
  positionals: string[],
  opts: { waitMs?: number; warn?: (line: string) => void } = {},
): Promise<string> {
  let text: string;
  if (positionals.length > 0 && !(positionals.length === 1 && positionals[0] === "-")) {
    text = positionals.join(" ");
  } else {
    if (stdinIsTerminal()) {
      throw new PpError("empty_message", "no message: give the text as arguments (pp send \"disk full\") or pipe it in (df -h | pp send)");
    }
    const bytes = await readStdin(opts.waitMs ?? MAX_DURATION_MS);
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      text = new TextDecoder("utf-8").decode(bytes);
      (opts.warn ?? err)("pp: standard input is not valid UTF-8; the invalid bytes were replaced with U+FFFD");
    }
  }
  if (text.includes("\r")) text = text.replace(/\r\n/g, "\n");
  text = text.trimEnd();
  // After the trim: trailing blank lines from a command's output do not count against the limit.
  // A UTF-16 unit is at most 3 UTF-8 bytes: short texts skip the byte count (and loading Buffer).
  if (text.length > MAX_TEXT_BYTES / 3 && Buffer.byteLength(text) > MAX_TEXT_BYTES) {
    throw new PpError("usage", `the message is ${(Buffer.byteLength(text) / 1048576).toFixed(1)} MiB; pp sends at most 1 MiB (attach large output as a file link instead)`);
  }
  if (text === "") throw new PpError("empty_message", "the message is empty; nothing was sent");
  // Printable ASCII settles it without compiling VISIBLE's Unicode classes (about 0.1 ms of a short send).
  if (!/[!-~]/.test(text) && !VISIBLE.test(text)) {
    throw new PpError("empty_message", "the message has no visible characters (only spaces or invisible ones such as U+200B); nothing was sent");
  }
  return text;
}

/**
 * Anything that shows: not a control or format character (U+200B, U+FEFF, U+2060...), not a space or separator,
 * and not one of the letters and marks that render as nothing (Hangul fillers, braille blank, variation selectors).
 */
const VISIBLE = /[^\p{Cc}\p{Cf}\p{Z}\s\u034f\u115f\u1160\u3164\uffa0\u2800\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;

const isAsciiSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/**
 * Standard input, at most MAX_TEXT_BYTES of it: read in chunks and refused as soon as more arrives, so memory
 * does not grow with the input. Beyond the limit only whitespace, which the trim removes, may follow. Input
 * that stays open is waited for at most `waitMs`.
 */
async function readStdin(waitMs: number): Promise<Uint8Array> {
  let reader: ReturnType<ReturnType<typeof Bun.stdin.stream>["getReader"]>;
  try {
    reader = Bun.stdin.stream().getReader();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new PpError("usage", `cannot read the message from standard input (${code}); pipe text in, or give it as arguments`);
  }
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), Math.min(waitMs, MAX_DURATION_MS));
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]).catch((e: NodeJS.ErrnoException) => {
        throw new PpError("usage", `cannot read the message from standard input (${e.code ?? e.message}); pipe text in, or give it as arguments`);
      });
      if (next === "late") {
        throw new PpError("usage", `standard input was still open after the deadline (${fmtMs(waitMs)}); end the input (close the pipe, or use < /dev/null), pass the text as an argument, or raise --deadline`);
      }
      if (next.done) break;
      const chunk = next.value;
      const room = MAX_TEXT_BYTES - kept;
      if (chunk.length <= room) {
        chunks.push(chunk);
        kept += chunk.length;
        continue;
      }
      // Copied: a view would keep the whole chunk alive.
      if (room > 0) chunks.push(chunk.slice(0, room));
      kept = MAX_TEXT_BYTES;
      for (let i = Math.max(room, 0); i < chunk.length; i++) {
        if (!isAsciiSpace(chunk[i]!)) {
          throw new PpError("usage", "the message on standard input is larger than 1 MiB; pp sends at most 1 MiB (attach large output as a file link instead)");
        }
      }
    }
  } finally {
    clearTimeout(timer);
    // Stop reading: the writer gets EPIPE instead of filling a pipe nobody drains, and pp can exit.
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(kept);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

function stdinIsTerminal(): boolean {
  try {
    // fstat is cheaper than node:tty at start-up; only a character device can be a terminal.
    // node:fs is loaded here only: text given as arguments never pays for it (about 1.5 ms and 5 MiB).
    if (!(require("node:fs") as typeof import("node:fs")).fstatSync(0).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return require("node:tty").isatty(0);
}

function printDryRun(targets: Target[], title: string | undefined, text: string, format: Format, now: number, json: boolean, secrets: readonly string[], at: string[] = []): void {
  const mentioned = at.length ? mentions().mentionsOf(at) : undefined;
  const all = targets.map((t) => {
    const p = plan(t, title, text, format, now, mentioned);
    const redact = redactor([...t.def.secrets(t.opts), ...secrets]);
    const requests = p.parts.map((part, i) =>
      shownRequest(t, t.def.build(part, partContext(p.titles[i], format, i, p.parts.length, now, mentioned), t.opts), redact),
    );
    return { channel: t.name, type: t.def.type, target: t.def.target(t.opts), error: p.error ?? null, requests };
  });
  if (json) return out(JSON.stringify(all, null, 2));
  for (const t of all) {
    if (t.error) {
      out(`# ${t.channel} (${t.type}): cannot be sent: ${clean(t.error)}\n`);
      continue;
    }
    t.requests.forEach((r, i) => {
      out(`# ${t.channel} (${t.type}) part ${i + 1}/${t.requests.length}${r.via ? ` ${clean(r.via)}` : ""}`);
      out(`${r.method} ${r.url}`);
      for (const [k, v] of Object.entries(r.headers)) out(`${k}: ${clean(v)}`);
      out(`\n${clean(r.body ?? "")}\n`);
    });
  }
}

/**
 * --verbose: each request as it goes out and each answer, on stderr, curl -v style (`>` out, `<` in), with the
 * time since the send began. Everything shown was redacted by the dispatch core; answers are escaped here.
 */
function verboseReporter(next: (e: DispatchEvent) => void): (e: DispatchEvent) => void {
  const began = performance.now();
  const at = () => `+${((performance.now() - began) / 1000).toFixed(3)}s`;
  const lines = (mark: string, text: string) => clean(text).split("\n").map((l) => `${mark} ${l}`).join("\n");
  return (e) => {
    next(e);
    if (e.type !== "request" && e.type !== "answer") return;
    const which = `${e.channel}${e.parts > 1 ? ` part ${e.part}/${e.parts}` : ""}`;
    if (e.type === "request") {
      const r = e.request;
      err(c.dim(`* ${at()} ${clean(which)} try ${e.attempt}`));
      if (r.via) err(c.dim(`* ${clean(r.via)}`));
      err(`> ${r.method} ${clean(r.url)}`);
      for (const [k, v] of Object.entries(r.headers)) err(`> ${clean(k)}: ${clean(v)}`);
      if (r.body !== undefined) err(`>\n${lines(">", r.body)}`);
    } else {
      const what = e.status === null ? "no answer" : `HTTP ${e.status}`;
      err(c.dim(`* ${at()} ${clean(which)} try ${e.attempt}: ${what} in ${e.latencyMs}ms${e.error ? `: ${cleanLine(e.error)}` : ""}`));
      if (e.body) err(lines("<", e.body));
    }
  };
}

async function reportResult(result: DispatchResult, json: boolean, quiet: boolean, alerts: AlertOutcome[] = []): Promise<void> {
  try {
    await printResult(result, json, quiet, alerts);
  } catch (e) {
    if (!(e instanceof PpError && e.code === "output")) throw e;
    // The id is all a script has to find the message again: it goes to stderr instead, with the outcome.
    if (!quiet && !json) for (const d of result.deliveries) err(deliveryLine(d));
    const failed = result.deliveries.filter((d) => d.status !== "delivered").length;
    const outcome = failed ? `${failed} of ${result.deliveries.length} deliveries failed` : "every delivery succeeded";
    const why = e.message.replace(/^cannot write to standard output: /, "");
    throw new PpError("output", `message ${result.id} was sent (${outcome}), but its id could not be written to standard output (${why}); see pp log show ${result.id}`, EXIT_STDOUT);
  }
}

async function printResult(result: DispatchResult, json: boolean, quiet: boolean, alerts: AlertOutcome[]): Promise<void> {
  const failed = result.deliveries.filter((d) => d.status !== "delivered").length;
  if (json) {
    await outAsync(
      JSON.stringify({
        id: result.id,
        status: failed === 0 ? "delivered" : failed === result.deliveries.length ? "failed" : "partial",
        deliveries: result.deliveries.map((d) => ({
          channel: d.channel, type: d.type, status: d.status, attempts: d.attempts, parts: d.parts, latency_ms: d.latencyMs, error: d.error,
        })),
        ...(alerts.length ? { fallback: alertsJson(alerts) } : {}),
      }),
    );
  } else {
    await outAsync(result.id);
  }
  // When the outcome could not be recorded, reportUnrecorded gives these lines whatever --quiet says.
  if (!quiet && !json && result.unrecorded === undefined) {
    for (const d of result.deliveries) err(deliveryLine(d));
    const uncertain = result.deliveries.filter((d) => d.status === "uncertain").length;
    const lost = failed - uncertain;
    // A --to URL is not kept (it holds the key): pp replay cannot find it again, the same command can.
    const again = result.deliveries.every((d) => d.status !== "failed" || isQuickName(d.channel)) ? "send it again with the same --to URL" : `retry with: pp replay ${result.id}`;
    if (lost) err(c.dim(`pp: ${lost} of ${result.deliveries.length} deliveries failed; ${again}`));
    if (uncertain) {
      err(c.dim(`pp: ${uncertain} of ${result.deliveries.length} deliveries may have arrived (uncertain); check the destination, then send again if needed with: pp replay ${result.id} --uncertain`));
    }
  }
  if (!quiet && !json) for (const line of alertLines(alerts)) err(line);
  process.exitCode = failed ? 1 : 0;
}
