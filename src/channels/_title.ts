import { truncateChars } from "./_common.ts";

/**
 * A title made from the text, for platforms that need one (ServerChan's title, an e-mail's subject): its first
 * non-empty line, cut to `max` characters. Empty when the text has no visible line.
 */
export function firstLine(text: string, max: number): string {
  const line = text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  return truncateChars(line, max);
}
