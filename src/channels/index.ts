import type { ChannelDef } from "../core/types.ts";
import dingtalk from "./dingtalk.ts";
import discord from "./discord.ts";
import feishu from "./feishu.ts";
import mattermost from "./mattermost.ts";
import slack from "./slack.ts";
import webhook from "./webhook.ts";
import wecom from "./wecom.ts";

// Static imports only: a module reached through a computed import path is left out of a compiled binary.
export const channels = { wecom, feishu, dingtalk, slack, discord, mattermost, webhook } as const;

export type ChannelType = keyof typeof channels;

/** The registry as plain ChannelDefs, for code that handles every type alike. */
export const channelList: readonly ChannelDef[] = Object.values(channels);

export function isChannelType(s: string): s is ChannelType {
  return Object.hasOwn(channels, s);
}
