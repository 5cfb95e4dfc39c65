import type { ChannelDef } from "../core/types.ts";
import type bark from "./bark.ts";
import type dingtalk from "./dingtalk.ts";
import type discord from "./discord.ts";
import type email from "./email.ts";
import type feishu from "./feishu.ts";
import type gotify from "./gotify.ts";
import type mattermost from "./mattermost.ts";
import type ntfy from "./ntfy.ts";
import type pushover from "./pushover.ts";
import type pushplus from "./pushplus.ts";
import type serverchan from "./serverchan.ts";
import type slack from "./slack.ts";
import type teams from "./teams.ts";
import type telegram from "./telegram.ts";
import type webhook from "./webhook.ts";
import type wecom from "./wecom.ts";
import type wecomApp from "./wecom_app.ts";

/**
 * The channel registry. Each module is loaded the first time its type is looked up, so `pp send` to a WeCom
 * bot does not pay for the six other platforms (about 2 ms of start-up, measured in the compiled binary).
 * The paths are literal: a module reached through a computed path is left out of a compiled binary.
 */
const load = {
  wecom: () => require("./wecom.ts").default as typeof wecom,
  feishu: () => require("./feishu.ts").default as typeof feishu,
  dingtalk: () => require("./dingtalk.ts").default as typeof dingtalk,
  slack: () => require("./slack.ts").default as typeof slack,
  discord: () => require("./discord.ts").default as typeof discord,
  mattermost: () => require("./mattermost.ts").default as typeof mattermost,
  webhook: () => require("./webhook.ts").default as typeof webhook,
  pushplus: () => require("./pushplus.ts").default as typeof pushplus,
  serverchan: () => require("./serverchan.ts").default as typeof serverchan,
  pushover: () => require("./pushover.ts").default as typeof pushover,
  email: () => require("./email.ts").default as typeof email,
  telegram: () => require("./telegram.ts").default as typeof telegram,
  ntfy: () => require("./ntfy.ts").default as typeof ntfy,
  gotify: () => require("./gotify.ts").default as typeof gotify,
  bark: () => require("./bark.ts").default as typeof bark,
  teams: () => require("./teams.ts").default as typeof teams,
  wecom_app: () => require("./wecom_app.ts").default as typeof wecomApp,
};

export type ChannelType = keyof typeof load;
type Registry = { readonly [K in ChannelType]: ReturnType<(typeof load)[K]> };

/** type -> channel definition; reading a property loads that one module. */
export const channels = Object.defineProperties(
  {},
  Object.fromEntries(
    Object.entries(load).map(([type, get]) => {
      let def: ChannelDef | undefined;
      return [type, { enumerable: true, get: () => (def ??= get()) }];
    }),
  ),
) as Registry;

/** Every channel type's name, without loading any of them. */
export const channelTypes = Object.keys(load) as ChannelType[];

/** The registry as plain ChannelDefs, for code that handles every type alike (loads them all). */
export function channelList(): readonly ChannelDef[] {
  return channelTypes.map((t) => channels[t]);
}

export function isChannelType(s: string): s is ChannelType {
  return Object.hasOwn(load, s);
}
