// Generated from the channel schemas by `bun scripts/catalog.ts`; do not edit. test/cli/types.test.ts fails when
// it no longer matches them. `pp --help` reads it rather than load every channel module.
import type { TypeInfo } from "./describe.ts";

export const COMMON: readonly string[] = ["rate","timeout","retries","tags","fallback","proxy"];

export const CATALOG: readonly TypeInfo[] = [
  {"type":"wecom","label":"WeCom group robot","required":["webhook"],"optional":["mentioned_list","mentioned_mobile_list","markdown"],"rate":["20/min"]},
  {"type":"feishu","label":"Feishu / Lark custom bot","required":["webhook"],"optional":["secret","at_all","keyword"],"rate":["5/s","100/min"]},
  {"type":"dingtalk","label":"DingTalk custom robot","required":["webhook"],"optional":["secret","at_mobiles","at_user_ids","at_all","keyword"],"rate":["20/min"]},
  {"type":"slack","label":"Slack incoming webhook","required":["webhook"],"optional":[],"rate":["1/s"]},
  {"type":"discord","label":"Discord webhook","required":["webhook"],"optional":["username","avatar_url","mentions"],"rate":["5/2s"]},
  {"type":"mattermost","label":"Mattermost incoming webhook","required":["webhook"],"optional":["channel","username","icon_url","icon_emoji"],"rate":[]},
  {"type":"webhook","label":"Generic webhook","required":["url"],"optional":["method","headers","body","content_type","success"],"rate":[]},
  {"type":"pushplus","label":"PushPlus (推送加)","required":["token"],"optional":["topic","channel","option","template","api"],"rate":["200/d"]},
  {"type":"serverchan","label":"ServerChan (Server酱)","required":["sendkey"],"optional":["api"],"rate":[]},
  {"type":"pushover","label":"Pushover","required":["token","user"],"optional":["device","priority","sound","api"],"rate":[]},
  {"type":"email","label":"E-mail (SMTP)","required":["host","from","to"],"optional":["port","secure","starttls","user","password","cc","bcc"],"rate":[]},
  {"type":"telegram","label":"Telegram bot (sendMessage)","required":["token","chat_id"],"optional":["api","thread_id","silent","preview"],"rate":["1/s"]},
  {"type":"ntfy","label":"ntfy topic","required":["topic"],"optional":["server","token","user","password","priority"],"rate":["12/min"]},
  {"type":"gotify","label":"Gotify server","required":["server","token"],"optional":["priority"],"rate":[]},
  {"type":"bark","label":"Bark (iOS push)","required":[],"optional":["key","keys","server","group","level","sound","icon","url"],"rate":[]},
  {"type":"teams","label":"Microsoft Teams (Workflows webhook)","required":["webhook"],"optional":[],"rate":["4/s"]},
  {"type":"wecom_app","label":"WeCom application message","required":["corp_id","agent_id","secret"],"optional":["to_user","to_party","to_tag","api"],"rate":["30/min","1000/h"]},
];
