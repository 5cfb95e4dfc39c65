/** HMAC-SHA256 of `message` under `key`, base64 (standard alphabet, padded). */
export function hmacSha256Base64(key: string, message: string): string {
  return new Bun.CryptoHasher("sha256", key).update(message).digest("base64");
}

/**
 * Feishu/Lark custom bot: the string to sign is the HMAC *key* and the message is empty; seconds, not ms.
 * https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
 */
export function feishuSign(secret: string, timestampSec: number): string {
  return hmacSha256Base64(`${timestampSec}\n${secret}`, "");
}

/**
 * DingTalk custom robot: the secret is the HMAC key, milliseconds, and the result travels URL-encoded in the query.
 * https://open.dingtalk.com/document/robots/customize-robot-security-settings
 */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return encodeURIComponent(hmacSha256Base64(secret, `${timestampMs}\n${secret}`));
}
