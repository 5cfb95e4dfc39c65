import type * as v from "valibot";

/** How the user wrote the message body. */
export type Format = "text" | "markdown";

/** A message as the user submitted it, before any platform rendering. */
export interface Message {
  id: string;
  title?: string;
  text: string;
  format: Format;
  /** Unix milliseconds. */
  createdAt: number;
}

/** One HTTP exchange, built by a channel and performed by the core (src/core/http.ts). */
export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /**
   * Who performs the exchange: fetch (the default), or "smtp" for e-mail (src/core/smtp.ts: the URL is
   * smtp(s)://host:port and the body a MailRequest). Either way the core records, retries, rate-limits and
   * logs it alike, and the channel classifies the answer (for SMTP, the reply code stands for the status).
   */
  transport?: "smtp";
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The response body as text (possibly empty). */
  body: string;
}

/**
 * What an exchange meant. Only `retryable` and `rate_limited` are retried.
 * `retryAfterMs` is the wait the platform asked for (Retry-After, retry_after, a rate-limit errcode).
 */
export type OutcomeKind = "ok" | "retryable" | "rate_limited" | "permanent";
export interface Outcome {
  kind: OutcomeKind;
  /** The platform's own error text (or a short description), never containing secrets the core knows of. */
  error?: string;
  /** The platform's error code when it has one (errcode, code, Slack's error string...). */
  code?: string | number;
  /**
   * For `rate_limited`: the wait the platform asked for. For `ok`: a wait the platform announced before the
   * next request to this destination (an exhausted rate-limit bucket), honoured by every pp process.
   */
  retryAfterMs?: number;
}

/** How a platform measures the thing its size limit applies to. */
export interface SizeLimit {
  /** Largest allowed size, in `unit`. `Infinity` means never split. */
  max: number;
  /** bytes = UTF-8 bytes; chars = UTF-16 code units (conservative for code points too). */
  unit: "bytes" | "chars";
  /** content = one text field of the payload; body = the whole serialized JSON body. */
  scope: "content" | "body";
}

/** What the core tells a channel about the part it is building. */
export interface PartContext {
  /** Title to show for this part (the core already added " (2/3)" when a message was split). */
  title?: string;
  format: Format;
  /** 0-based index of this part and the number of parts. */
  index: number;
  total: number;
  /** Unix milliseconds: the time to sign with. */
  now: number;
  /** Who to mention (pp send --at): on the first part only, so a split message pings once. */
  at?: Mentions;
  /**
   * The access token the core got through ChannelDef.auth, for the request that goes out. Absent while the core
   * plans parts and in --dry-run: the request is then built and measured without it.
   */
  token?: string;
}

/**
 * Who a message mentions, sorted by kind (src/core/mentions.ts): each channel maps them to its own mechanism
 * (ChannelDef.mentions).
 */
export interface Mentions {
  /** Everyone in the chat (--at all). */
  all: boolean;
  /** Phone numbers: an optional "+" and at most 15 digits. */
  phones: string[];
  /** The platform's user ids (Mattermost: usernames), without a leading "@". */
  users: string[];
}

/** How a channel's access token is got and known to be spent; the dispatch core does the exchange and caching. */
export interface ChannelAuth<O> {
  /** Where the token is cached: a hash of what identifies it (never a secret in the clear). */
  key(opts: O): string;
  /** The request that gets a fresh token. */
  request(opts: O): HttpRequest;
  /** The token in the platform's answer and how long it lives, or what the answer means when it holds none. */
  parse(res: HttpResponse, opts: O): { token: string; expiresInMs: number } | Outcome;
  /** Whether an outcome of build()'s request says the token is invalid or expired: fetch a new one, send again once. */
  invalid(outcome: Outcome): boolean;
}

/**
 * A channel type: pure functions that turn a message into HTTP requests and responses into outcomes.
 * No fetch, no sleeping, no logging here; the dispatch core does all I/O.
 */
export interface ChannelDef<O extends { type: string } = any> {
  type: O["type"];
  /** Human name, for help and docs. */
  label: string;
  /** valibot schema for the channel's config section (including `type`). */
  schema: v.GenericSchema<unknown, O>;
  /** Default rate limits, e.g. ["20/min"]; several limits all apply. Empty: no limit. */
  rate: string[];
  /** Link to the platform documentation the limits come from. */
  docs: string;
  /** The size limit that applies to one request, given the options and whether a title is shown. */
  limit(opts: O, ctx: { format: Format; hasTitle: boolean }): SizeLimit;
  /** Size of a built request in the unit and scope of `limit` (so the core can verify a part fits). */
  measure(req: HttpRequest, opts: O, ctx: { format: Format }): number;
  /**
   * Turns the user's text into the platform's dialect (markdown -> Slack mrkdwn, plain text -> escaped text...).
   * The result is what gets split, line by line; fenced code blocks must keep their ``` fences.
   */
  render(text: string, format: Format, opts: O): string;
  /** render() hands the text on as written: such a channel's planning costs nothing, so it is planned first. */
  verbatim?: boolean;
  /** Builds the request for one part of the rendered text. */
  build(part: string, ctx: PartContext, opts: O): HttpRequest;
  /**
   * For a platform whose requests carry an access token got from it first (WeCom application messages): the
   * core gets the token, caches it in the store for every pp process (TokenCache) and hands it to build() as
   * PartContext.token.
   */
  auth?: ChannelAuth<O>;
  /**
   * Mentions (pp send --at), for a channel whose build() makes them from PartContext.at: what of `at` it cannot
   * make for a message in `format`, in a few words for a note to the user, or undefined when it makes them all.
   * Without this member a channel makes none, and --at is ignored for it with a note.
   */
  mentions?(at: Mentions, format: Format, opts: O): string | undefined;
  /**
   * Classifies a platform answer from its status and body. `opts` carries per-channel success rules
   * (the generic webhook's `success = { path, equals }`).
   */
  classify(res: HttpResponse, opts: O): Outcome;
  /** Every string that must never be shown: tokens, secrets, keys inside URLs. */
  secrets(opts: O): string[];
  /**
   * The destination as every output shows it (`pp channels`, `pp test`, the push log, --dry-run): redacted by
   * one rule per channel. Given `url` (a request this channel built), that URL shown by the same rule.
   */
  target(opts: O, url?: string): string;
  /** A stable identity of the destination for rate limiting (two channels on one webhook share limits). */
  rateKey(opts: O): string;
}
