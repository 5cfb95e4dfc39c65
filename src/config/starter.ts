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
