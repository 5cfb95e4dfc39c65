/**
 * Local stand-ins for the chat platforms, for unit tests and for end-to-end runs of the compiled binary.
 * Each fake is a Bun.serve on 127.0.0.1 with a random port that validates requests the way its platform does
 * (payload shape, signature, size and rate limits, with the platform's own error codes and texts), records
 * every request and answers faults queued by the test.
 *
 * Fault kinds, all applied before any validation and in queue order:
 * - status: that HTTP status, body and headers.
 * - code: the platform's body-level error with that code (HTTP 200 for wecom/feishu/dingtalk; slack answers 400 with
 *   `msg`, discord 400 {"message","code"}, mattermost an AppError, webhook 200 with the code at `successPath`;
 *   telegram {"ok":false,"error_code","description"} with that status, ntfy {"code","http","error"} with status
 *   code/100, gotify and bark their JSON error with that status, teams 400 {"error":{"code","message"}}).
 * - rate_limited: the platform's own rate-limit answer (45009 / 11232 / 410100 with HTTP 200, else 429 with Retry-After).
 * - timeout: hold the answer for `ms`, then validate and answer normally.
 * - drop: reset the connection without answering; the client's fetch rejects.
 */
import type { Fake, FakeOptions, FakeType } from "./_base.ts";
import { bark } from "./bark.ts";
import { dingtalk } from "./dingtalk.ts";
import { discord } from "./discord.ts";
import { feishu } from "./feishu.ts";
import { gotify } from "./gotify.ts";
import { mattermost } from "./mattermost.ts";
import { ntfy } from "./ntfy.ts";
import { pushover } from "./pushover.ts";
import { pushplus } from "./pushplus.ts";
import { serverchan } from "./serverchan.ts";
import { slack } from "./slack.ts";
import { teams } from "./teams.ts";
import { telegram } from "./telegram.ts";
import { webhook } from "./webhook.ts";
import { wecom } from "./wecom.ts";
import { wecomApp } from "./wecom_app.ts";

export type { Fake, FakeOptions, FakeType, Fault, Received } from "./_base.ts";
export { MATTERMOST_MAX_RUNES } from "./mattermost.ts";
export { TELEGRAM_CHATS, parseTelegramHtml } from "./telegram.ts";
export { WECOM_APP_USERS } from "./wecom_app.ts";

const FAKES: Record<FakeType, (opts?: FakeOptions) => Promise<Fake>> = {
  wecom,
  feishu,
  dingtalk,
  slack,
  discord,
  mattermost,
  webhook,
  pushplus,
  serverchan,
  pushover,
  telegram,
  ntfy,
  gotify,
  bark,
  teams,
  wecom_app: wecomApp,
};

export const FAKE_TYPES = Object.keys(FAKES) as FakeType[];

export function startFake(
  type: FakeType,
  opts: FakeOptions = {},
): Promise<Fake> {
  const start = FAKES[type];
  if (!start) throw new Error(`unknown fake type: ${type}`);
  return start(opts);
}
