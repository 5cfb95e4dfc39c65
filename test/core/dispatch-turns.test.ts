import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { dispatch, type Target } from "../../src/core/dispatch.ts";
import { newId } from "../../src/core/id.ts";
import type { Recorder } from "../../src/core/ports.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";

let fakes: Fake[] = [];
let store: Store | undefined;
afterEach(async () => {
  store?.close();
  store = undefined;
  await Promise.all(fakes.map((f) => f.stop()));
  fakes = [];
});

test("a channel that takes the text as written sends before another channel renders", async () => {
  const slack = await startFake("slack", { rate: false });
  const hook = await startFake("webhook", { rate: false });
  fakes.push(slack, hook);
  const cfg = parseConfig(
    `[channels.chat]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\n[channels.hook]\ntype = "webhook"\nurl = ${q(hook.webhook)}\n`,
    "t.toml",
  );
  const seq: string[] = [];
  const real = cfg.channels.get("chat")!;
  // The real Slack rendering, observed: it must not run before the webhook's request is on its way.
  const chat: Target = { ...real, def: { ...real.def, render: (text, format, opts) => (seq.push("render chat"), real.def.render(text, format, opts)) } };
  store = openStore(join(tempDir(), "pp.db"));
  const log = store.log;
  const names = new Map<number, string>();
  const recorder: Recorder = {
    begin: (m, d, o) => {
      const b = log.begin(m, d, o);
      b.forEach((x, i) => x.id !== null && names.set(x.id, d[i]!.channel));
      return b;
    },
    sending: (a) => (seq.push(`send ${names.get(a.deliveryId)}`), log.sending(a)),
    answered: (id, a) => log.answered(id, a),
    finish: (id, f) => log.finish(id, f),
  };
  const now = Date.now();
  const r = await dispatch(
    { id: newId(now), createdAt: now, text: "**deploy** done", format: "markdown", source: "cli", targets: ["chat", "hook"] },
    [chat, cfg.channels.get("hook")!],
    { recorder, limiter: store.limiter, deadline: now + 20_000 },
  );
  expect(r.deliveries.map((d) => [d.channel, d.status])).toEqual([["chat", "delivered"], ["hook", "delivered"]]);
  expect(seq).toEqual(["send hook", "render chat", "send chat"]);
});
