/**
 * End-to-end: where `pp send` writes when stdout and stderr are pipes (written with Bun.write, not node:fs,
 * to keep start-up short) and when they are files (written through the descriptor): every line arrives, in
 * order, and a pipe whose reader is gone is still exit 5 with the id on stderr.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { BIN, needBinary } from "./_run.ts";

needBinary();

let slack: Fake;
let wecom: Fake;
let other: Fake;
beforeAll(async () => {
  slack = await startFake("slack", { rate: false });
  wecom = await startFake("wecom", { rate: false });
  other = await startFake("slack", { rate: false });
});
afterAll(async () => {
  await Promise.all([slack.stop(), wecom.stop(), other.stop()]);
});

function workspace(): string {
  const dir = tempDir("pp-out-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[log]\npath = ${q(join(dir, "pp.db"))}\n[channels.a]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\n` +
      `[channels.b]\ntype = "wecom"\nwebhook = ${q(wecom.webhook)}\n[channels.c]\ntype = "slack"\nwebhook = ${q(other.webhook)}\n`,
  );
  return dir;
}

async function sh(script: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(["bash", "-c", script, BIN, ...args], { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

describe("pp send's output", () => {
  test("to pipes: the id on stdout, one status line per channel on stderr, in order", async () => {
    const cwd = workspace();
    const r = await sh('exec "$0" "$@"', ["send", "--ch", "a,b,c", "three ways"], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9A-Z]{26}\n$/);
    expect(r.stderr.split("\n")).toEqual([expect.stringMatching(/^✔ a \d+ms$/), expect.stringMatching(/^✔ b \d+ms$/), expect.stringMatching(/^✔ c \d+ms$/), ""]);
  });

  test("to files: the same, written through the descriptors", async () => {
    const cwd = workspace();
    const r = await sh('exec "$0" "$@" > out.txt 2> err.txt', ["send", "--ch", "a,b", "to files"], cwd);
    expect(r.code).toBe(0);
    expect(readFileSync(join(cwd, "out.txt"), "utf8")).toMatch(/^[0-9A-Z]{26}\n$/);
    expect(readFileSync(join(cwd, "err.txt"), "utf8")).toMatch(/^✔ a \d+ms\n✔ b \d+ms\n$/);
  });

  test("--json to a pipe is one complete JSON document", async () => {
    const cwd = workspace();
    const r = await sh('exec "$0" "$@"', ["send", "--json", "--ch", "a,b", "as json"], cwd);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "delivered", deliveries: [{ channel: "a" }, { channel: "b" }] });
  });

  test("a pipe whose reader has exited: exit 5, the id and the outcome on stderr, sent once", async () => {
    const cwd = workspace();
    const before = slack.accepted().length;
    // `true` exits without reading; pp writes its id well after that.
    const r = await sh('"$0" "$@" | true; exit "${PIPESTATUS[0]}"', ["send", "--ch", "a", "nobody reads"], cwd);
    expect(r.code).toBe(5);
    expect(slack.accepted().length).toBe(before + 1);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toMatch(
      /^pp: message [0-9A-Z]{26} was sent \(every delivery succeeded\), but its id could not be written to standard output \(the program reading it has exited\)/,
    );
  });
});
