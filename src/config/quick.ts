/**
 * `pp send --to URL`: a platform's webhook URL used as a channel with no config file. The type comes from the
 * URL's host (or `--type`); a Feishu or DingTalk URL may carry its signing secret as `?secret=`, which is taken
 * out of the URL before anything is sent or shown.
 */
import * as v from "valibot";
import { channels as registry, channelTypes, isChannelType, type ChannelType } from "../channels/index.ts";
import { parseRate } from "../channels/_common.ts";
import type { Target } from "../core/dispatch.ts";
import { PpError } from "../core/errors.ts";
import { didYouMean } from "../core/suggest.ts";
import type { ChannelDef } from "../core/types.ts";

/** The types whose whole destination is one URL, so that --to can stand for their config. */
export const URL_TYPES: readonly ChannelType[] = ["wecom", "feishu", "dingtalk", "slack", "discord", "mattermost", "teams", "webhook"];

/** Hosts whose webhooks pp recognises, by the type they belong to. */
const HOSTS: ReadonlyMap<string, ChannelType> = new Map([
  ["qyapi.weixin.qq.com", "wecom"],
  ["open.feishu.cn", "feishu"],
  ["open.larksuite.com", "feishu"],
  ["oapi.dingtalk.com", "dingtalk"],
  ["hooks.slack.com", "slack"],
]);
const DISCORD_HOSTS = new Set(["discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"]);

/** The channel type a webhook URL belongs to, from its host and path; the generic webhook when unknown. */
export function detectType(url: string): ChannelType {
  if (!URL.canParse(url)) return "webhook";
  const u = new URL(url);
  const host = u.hostname.toLowerCase().replace(/\.$/, "");
  const known = HOSTS.get(host);
  if (known) return known;
  if (DISCORD_HOSTS.has(host) && u.pathname.startsWith("/api/webhooks/")) return "discord";
  // Mattermost runs on the team's own host; its incoming webhooks live under /hooks/.
  if (u.pathname.includes("/hooks/")) return "mattermost";
  return "webhook";
}

/** Types whose URL may carry the signing secret as ?secret=. */
const SIGNED: ReadonlySet<string> = new Set(["feishu", "dingtalk"]);

export interface QuickTargets {
  targets: Target[];
  /** What the URLs hold that must never show: the URLs as given and each secret as written in them. */
  secrets: string[];
}

/**
 * --to URLs -> channels named `type:host` (`wecom:qyapi.weixin.qq.com`; a second one on the same host gets
 * `#2`), with the type's default rate and the config's retries and timeout. The same URL given twice is one channel.
 */
export function quickTargets(
  urls: readonly string[], forced: string | undefined, defaults: { retries: number; timeoutMs: number; proxy?: string }, where = "--to",
): QuickTargets {
  if (forced !== undefined && !(URL_TYPES as readonly string[]).includes(forced)) {
    const typo = isChannelType(forced) ? "" : didYouMean(forced, channelTypes);
    const why = isChannelType(forced) ? `a ${forced} channel is not one URL; configure it in pp.toml` : `"${forced}" is not a channel type${typo}`;
    throw new PpError("usage", `--type: ${why} (types that --to takes: ${URL_TYPES.join(", ")})`);
  }
  const seen = new Set<string>();
  const names = new Map<string, number>();
  const targets: Target[] = [];
  const secrets: string[] = [];
  urls.forEach((given, i) => {
    const url = given.trim();
    const which = urls.length > 1 ? `${where} #${i + 1}` : where;
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new PpError("usage", `${which}: not an http(s) URL; give the platform's webhook URL, such as https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`);
    }
    secrets.push(given, url);
    if (seen.has(url)) return;
    seen.add(url);
    const type = (forced ?? detectType(url)) as ChannelType;
    const u = new URL(url);
    let secret: string | undefined;
    if (SIGNED.has(type) && u.searchParams.has("secret")) {
      secret = u.searchParams.get("secret") ?? "";
      for (const pair of u.search.slice(1).split("&")) if (pair.startsWith("secret=")) secrets.push(pair.slice(7));
      secrets.push(secret, encodeURIComponent(secret));
      u.searchParams.delete("secret");
    }
    const webhook = secret === undefined ? url : u.href;
    const def = registry[type] as ChannelDef;
    const raw = type === "webhook" ? { type, url: webhook } : { type, webhook, ...(secret ? { secret } : {}) };
    const parsed = v.safeParse(def.schema, raw);
    if (!parsed.success) {
      const issue = parsed.issues[0]!;
      const field = issue.path?.map((p) => String(p.key)).join(".") ?? "url";
      // The value is never repeated: it is the webhook's credential.
      throw new PpError("usage", `${which}: not usable as a ${type} webhook: ${field === "webhook" || field === "url" ? "the URL" : field} ${issue.message}${forced ? "" : " (--type chooses the type)"}`);
    }
    const opts = parsed.output as any;
    // [defaults] proxy applies to a URL given on the command line as to a configured channel.
    if (defaults.proxy !== undefined) opts.proxy = defaults.proxy;
    const host = u.host.toLowerCase();
    const base = `${type}:${host}`;
    const count = (names.get(base) ?? 0) + 1;
    names.set(base, count);
    targets.push({
      name: count === 1 ? base : `${base}#${count}`,
      def,
      opts,
      rates: def.rate.map(parseRate),
      rateText: def.rate.join(", "),
      retries: defaults.retries,
      timeoutMs: defaults.timeoutMs,
    });
  });
  return { targets, secrets: [...new Set(secrets.filter(Boolean))] };
}
