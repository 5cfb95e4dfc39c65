/**
 * How a fallback alert names the message it is about (src/core/fallback.ts sends them). Apart from the sending
 * code, so that `pp log` can follow the link without loading the dispatch core.
 */
export const ALERT_SOURCE = "fallback";

/** An alert is found from its original within this long after it: a delivery ends by its deadline (24 h at most). */
export const ALERT_WINDOW_MS = 2 * 86_400_000;

const LEAD = "pp could not deliver message ";
const ORIGIN = /^pp could not deliver message ([0-9A-Z]{26}) to channel /;

/** The first line of every alert about message `id` starts with this (the push log's link from it to its alerts). */
export function alertPrefix(id: string): string {
  return `${LEAD}${id} to channel `;
}

/** For an alert (source "fallback"): the id of the message it is about, read from its first line. */
export function alertOrigin(m: { source: string; text: string }): string | undefined {
  return m.source === ALERT_SOURCE ? ORIGIN.exec(m.text)?.[1] : undefined;
}
