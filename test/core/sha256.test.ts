import { expect, test } from "bun:test";
import { sha256Hex } from "../../src/core/sha256.ts";

test("the FIPS 180-4 examples", () => {
  expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("the same digest as the crypto library for every length around the block edges, and any text", () => {
  const library = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
  // Every padding case: lengths across four 64-byte blocks, in ASCII and in multi-byte UTF-8.
  for (let n = 0; n <= 260; n++) {
    for (const s of ["a".repeat(n), "é".repeat(n), "界".repeat(n)]) expect({ n, hex: sha256Hex(s) }).toEqual({ n, hex: library(s) });
  }
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 300; i++) {
    let s = "";
    for (let j = Math.floor(random() * 400); j > 0; j--) s += String.fromCodePoint(Math.floor(random() * 0x2ffff) % 0xd800);
    expect(sha256Hex(s)).toBe(library(s));
  }
});

test("rate-limit keys are what earlier versions stored (the push log keeps them across upgrades)", async () => {
  const { rateKeyOf } = await import("../../src/channels/_common.ts");
  const url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";
  expect(rateKeyOf("wecom", url)).toBe(`wecom:${new Bun.CryptoHasher("sha256").update(url).digest("hex")}`);
  expect(rateKeyOf("wecom", url)).toBe("wecom:" + sha256Hex(url));
});
