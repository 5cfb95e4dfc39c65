import type { ChannelType } from "../channels/index.ts";

/**
 * The config `pp config init` writes (and examples/pp.toml holds): every setting commented out, so the file
 * loads as an empty config, and one example per channel type to uncomment. Kept as data rather than one string
 * so that a test can uncomment all of it and check that every example is valid. The Record over ChannelType
 * makes a new channel type without an example a type error.
 */
interface Example {
  /** Why or when to use it; shown as comment lines above the section. */
  about: string[];
  /** The section's TOML lines, `[channels.NAME]` first. */
  toml: string[];
}

export const CHANNEL_EXAMPLES: Record<ChannelType, Example> = {
  wecom: {
    about: ["WeCom (企业微信) group robot: at most 20 messages a minute per robot, which pp keeps to."],
    toml: [
      "[channels.wecom]",
      'type = "wecom"',
      'webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"',
      'mentioned_list = ["@all"]              # who to @ in text messages; leave out for nobody',
    ],
  },
  feishu: {
    about: ["Feishu / Lark custom bot (Lark: open.larksuite.com). `secret` when signature verification is on."],
    toml: [
      "[channels.feishu]",
      'type = "feishu"',
      'webhook = "https://open.feishu.cn/open-apis/bot/v2/hook/${FEISHU_TOKEN}"',
      'secret = "${FEISHU_SECRET}"',
      'keyword = "alert"                      # when the bot only accepts messages with a keyword',
    ],
  },
  dingtalk: {
    about: ["DingTalk (钉钉) custom robot with 加签 signing (the secret starts with SEC)."],
    toml: [
      "[channels.dingtalk]",
      'type = "dingtalk"',
      'webhook = "https://oapi.dingtalk.com/robot/send?access_token=${DINGTALK_TOKEN}"',
      'secret = "${DINGTALK_SECRET}"',
    ],
  },
  slack: {
    about: ["Slack incoming webhook."],
    toml: ["[channels.slack]", 'type = "slack"', 'webhook = "https://hooks.slack.com/services/${SLACK_HOOK}"'],
  },
  discord: {
    about: ["Discord webhook."],
    toml: ["[channels.discord]", 'type = "discord"', 'webhook = "https://discord.com/api/webhooks/${DISCORD_HOOK}"', 'username = "pp"'],
  },
  mattermost: {
    about: ["Mattermost incoming webhook on your server."],
    toml: [
      "[channels.mattermost]",
      'type = "mattermost"',
      'webhook = "https://chat.example.com/hooks/${MATTERMOST_HOOK}"',
      'channel = "town-square"                # or "@user" for a direct message',
    ],
  },
  webhook: {
    about: ["Any HTTP endpoint: the body is a template ({{ text | json }}, {{ title | json }}, {{ timestamp }})."],
    toml: [
      "[channels.hook]",
      'type = "webhook"',
      'url = "https://alerts.example.com/v1/events"',
      'headers = { Authorization = "Bearer ${ALERTS_TOKEN}" }',
      `body = '{"title":{{ title | json }},"text":{{ text | json }}}'`,
    ],
  },
  pushplus: {
    about: ["PushPlus (推送加): WeChat and more. PushPlus blocks an account that sends over 200 a day; pp keeps to that."],
    toml: [
      "[channels.pushplus]",
      'type = "pushplus"',
      'token = "${PUSHPLUS_TOKEN}"',
      'topic = "ops"                          # a group code; leave out to send only to yourself',
    ],
  },
  serverchan: {
    about: ["ServerChan (Server酱): a Turbo SendKey (SCT…) or a Server酱³ one (sctp…)."],
    toml: ["[channels.serverchan]", 'type = "serverchan"', 'sendkey = "${SERVERCHAN_KEY}"'],
  },
  pushover: {
    about: ["Pushover: the application's API token and your user (or group) key."],
    toml: [
      "[channels.pushover]",
      'type = "pushover"',
      'token = "${PUSHOVER_TOKEN}"',
      'user = "${PUSHOVER_USER}"',
      "priority = 1                           # -2 (silent) to 2 (emergency: repeats until acknowledged)",
    ],
  },
  email: {
    about: ["E-mail over SMTP: STARTTLS on port 587 by default; `secure = true` for implicit TLS on 465."],
    toml: [
      "[channels.email]",
      'type = "email"',
      'host = "smtp.example.com"',
      'user = "alerts@example.com"',
      'password = "${SMTP_PASSWORD}"',
      'from = "pp <alerts@example.com>"',
      'to = ["ops@example.com"]',
    ],
  },
  telegram: {
    about: ["Telegram bot: the token from @BotFather and the chat to post in (groups have negative ids)."],
    toml: [
      "[channels.telegram]",
      'type = "telegram"',
      'token = "${TELEGRAM_TOKEN}"',
      "chat_id = -1001234567890",
      "silent = true                          # deliver without a notification sound",
    ],
  },
  ntfy: {
    about: ["ntfy topic on ntfy.sh or your own server (`server`); `token`, or `user` and `password`, if it needs a login."],
    toml: ["[channels.ntfy]", 'type = "ntfy"', 'topic = "${NTFY_TOPIC}"', 'priority = "high"', 'tags = ["warning"]'],
  },
  gotify: {
    about: ["Gotify server: an application token (Apps > Create application)."],
    toml: ["[channels.gotify]", 'type = "gotify"', 'server = "https://gotify.example.com"', 'token = "${GOTIFY_TOKEN}"', "priority = 8"],
  },
  bark: {
    about: ["Bark (iOS): the device key from the app; `keys = [...]` for several devices, `server` for your own bark-server."],
    toml: ["[channels.bark]", 'type = "bark"', 'key = "${BARK_KEY}"', 'group = "ops"', 'level = "timeSensitive"'],
  },
  wecom_app: {
    about: ["WeCom (企业微信) application message: the app's AgentId and Secret; pp fetches and caches its access token."],
    toml: [
      "[channels.wecom-app]",
      'type = "wecom_app"',
      'corp_id = "ww0123456789abcdef"',
      "agent_id = 1000002",
      'secret = "${WECOM_APP_SECRET}"',
      'to_user = ["zhangsan", "lisi"]         # user ids; leave out for "@all", or use to_party / to_tag',
    ],
  },
  teams: {
    about: ["Microsoft Teams: a Workflows webhook (the channel's Workflows > \"Send webhook alerts to a channel\")."],
    toml: [
      "[channels.teams]",
      'type = "teams"',
      'webhook = "https://prod-00.westeurope.logic.azure.com:443/workflows/${TEAMS_WORKFLOW}"',
    ],
  },
};

/** Lines starting with "#" are prose; any other non-empty line is a setting, commented out in the starter. */
const HEAD = [
  "# A starter pp configuration, as `pp config init` writes it.",
  "#",
  "# Nothing is configured yet: every setting below is commented out. To add a channel, uncomment its",
  "# section (remove the leading \"# \"), set its webhook, then run `pp config check` and `pp test NAME`.",
  "# Keep secrets out of this file: \"${NAME}\" is replaced by the environment variable NAME when pp reads it,",
  "# and pp never prints the secret parts of a webhook. The README's Configuration section lists every key.",
  "",
  "[defaults]",
  'channels = ["ops"]         # where `pp send` goes without --ch: channel or group names',
  "retries = 3                # retries after a retryable failure (network error, timeout, 5xx, rate limit)",
  'timeout = "10s"            # per HTTP request',
  'deadline = "2m"            # give up on whatever is not delivered by then',
  "",
  "# The push log (SQLite). Default: $XDG_DATA_HOME/pp/pp.db (~/.local/share/pp/pp.db); $PP_DB overrides it.",
  "[log]",
  'path = "~/.local/share/pp/pp.db"',
];

const TAIL = ["# Groups name several channels (or other groups): `pp send --ch ops \"disk full\"`.", "[groups]", 'ops = ["wecom", "feishu"]'];

/**
 * The starter config's text. `commented: false` gives the same file with every setting active, which is how
 * the tests prove each example valid; the `# ` prefix is the only difference between the two.
 */
export function starterConfig(opts: { commented?: boolean } = {}): string {
  const on = opts.commented === false;
  const setting = (line: string) => (on || line === "" || line.startsWith("#") ? line : `# ${line}`);
  const lines = HEAD.map(setting);
  for (const ex of Object.values(CHANNEL_EXAMPLES)) lines.push("", ...ex.about.map((a) => `# ${a}`), ...ex.toml.map(setting));
  lines.push("", ...TAIL.map(setting));
  return `${lines.join("\n")}\n`;
}
