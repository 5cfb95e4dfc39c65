import { describe, expect, test } from "bun:test";
import { didYouMean, editDistance, suggest, typoLimit } from "../../src/core/suggest.ts";

describe("editDistance", () => {
  test.each([
    ["", "", 0],
    ["send", "send", 0],
    ["sned", "send", 1], // a transposition is one edit
    ["slakc", "slack", 1],
    ["secert", "secret", 1],
    ["chanels", "channels", 1],
    ["group", "groups", 1],
    ["kitten", "sitting", 3],
    ["", "abc", 3],
    ["héllo", "hello", 1],
    ["🇨🇳", "🇨🇳x", 1],
  ] as const)("%p -> %p = %p", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  test("stops at the limit, answering limit + 1", () => {
    expect(editDistance("abcdefgh", "zyxwvuts", 2)).toBe(3);
    expect(editDistance("a", "abcdefgh", 1)).toBe(2);
    expect(editDistance("sned", "send", 1)).toBe(1);
  });
});

describe("suggest", () => {
  const commands = ["send", "test", "log", "replay", "channels", "config", "completion"];
  test.each([
    ["sned", commands, "send"],
    ["replya", commands, "replay"],
    ["chanels", commands, "channels"],
    ["lgo", commands, "log"],
    // Letters left out count against the longer name.
    ["deflts", ["defaults", "log", "channels", "groups"], "defaults"],
    ["Send", commands, "send"],
    ["shw", ["show"], "show"],
    ["secert", ["type", "webhook", "secret", "keyword"], "secret"],
    ["keywrod", ["type", "webhook", "secret", "keyword"], "keyword"],
    ["slakc", ["wecom", "feishu", "dingtalk", "slack", "discord", "mattermost", "webhook"], "slack"],
    // A name that begins with a valid one, or is the start of one.
    ["chanel", ["ch", "title", "format"], "ch"],
    ["conf", ["send", "config"], "config"],
    // Nothing close: the caller lists the names instead.
    ["zzz", commands, undefined],
    ["deploy", commands, undefined],
    ["x", ["c", "q"], undefined],
    ["", commands, undefined],
  ] as const)("%p in %p -> %p", (input, candidates, expected) => {
    expect(suggest(input, candidates)).toBe(expected);
  });

  test("the nearest wins over an earlier, farther one", () => {
    expect(suggest("tesst", ["text", "test"])).toBe("test");
  });

  test("didYouMean renders the suggestion, or nothing", () => {
    expect(didYouMean("sned", ["send"])).toBe('; did you mean "send"?');
    expect(didYouMean("grups", ["groups"], (n) => `[${n}]`)).toBe("; did you mean [groups]?");
    expect(didYouMean("zzz", ["send"])).toBe("");
  });

  test("the typo limit grows with the length", () => {
    expect([1, 2, 3, 5, 6, 9, 12].map(typoLimit)).toEqual([0, 1, 1, 1, 1, 2, 3]);
  });
});
