/**
 * Sends through the real dispatch core (render, split, rate limit, exchange, classify, record) to a channel
 * configured from TOML, with a push log in a temporary directory, so a channel's tests see what a user would.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { dispatch, type DispatchResult, type Target } from "../../src/core/dispatch.ts";
import { newId } from "../../src/core/id.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Format } from "../../src/core/types.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { tempDir, virtualClock } from "../helpers.ts";

export function target(toml: string): Target {
  return parseConfig(`[channels.c]\n${toml}\n`, "t.toml").channels.get("c")!;
}

export interface Sent {
  result: DispatchResult;
  store: Store;
  path: string;
  /** Everything the push log holds of the run, as text: for checks that a secret is nowhere in it. */
  logText(): string;
}

/** One message to one target; the store stays open for the caller to read (close it). */
export async function deliver(
  t: Target,
  text: string,
  o: { title?: string; format?: Format; store?: Sent; deadlineMs?: number } = {},
): Promise<Sent> {
  const path = o.store?.path ?? join(tempDir("pp-ch-"), "pp.db");
  const store = o.store?.store ?? openStore(path);
  const now = Date.now();
  const result = await dispatch(
    { id: newId(now), createdAt: now, text, format: o.format ?? "text", source: "cli", targets: [t.name], ...(o.title === undefined ? {} : { title: o.title }) },
    [t],
    { recorder: store.log, limiter: store.limiter, deadline: now + (o.deadlineMs ?? 30_000), clock: virtualClock(), random: () => 0.5, secrets: t.def.secrets(t.opts) },
  );
  const logText = () => {
    const db = new Database(path, { readonly: true });
    try {
      return ["deliveries", "attempts", "rate_blocks"].map((t) => JSON.stringify(db.query(`SELECT * FROM ${t}`).all())).join("\n");
    } finally {
      db.close();
    }
  };
  return { result, store, path, logText };
}
