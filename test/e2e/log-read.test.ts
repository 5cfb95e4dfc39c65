/**
 * End-to-end: pp log only reads the push log. It leaves an existing one byte for byte as it was, still creates a
 * missing one and migrates an old one, and cuts wide and joined characters in its table where a terminal draws
 * them apart.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFake, type Fake } from "../fakes/index.ts";
import { q, tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

let slack: Fake;
beforeAll(async () => {
  slack = await startFake("slack", { rate: { count: 1000, windowMs: 1000 } });
});
afterAll(async () => {
  await slack.stop();
});

/** A workspace with a channel `ops` on the fake and a channel `down` nobody listens on; the push log at ./pp.db. */
function workspace(): string {
  const dir = tempDir("pp-logread-");
  writeFileSync(
    join(dir, "pp.toml"),
    `[defaults]\nchannels = ["ops"]\ndeadline = "20s"\n[log]\npath = ${q(join(dir, "pp.db"))}\n` +
      `[channels.ops]\ntype = "slack"\nwebhook = ${q(slack.webhook)}\nretries = 0\nrate = "1000/s"\n` +
      `[channels.down]\ntype = "slack"\nwebhook = "http://127.0.0.1:9/hook"\nretries = 0\n`,
  );
  return dir;
}

const files = (dir: string) => ["pp.db", "pp.db-wal"].map((f) => readFileSync(join(dir, f)));
const userVersion = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
};

describe("pp log reads the push log without writing it", () => {
  test("no push log yet: nothing to list, and the push log is created as before", async () => {
    const cwd = workspace();
    const r = await pp(["log"], { cwd });
    expect(r).toMatchObject({ code: 0, stdout: "no deliveries match\n", stderr: "" });
    expect(existsSync(join(cwd, "pp.db"))).toBe(true);
    expect((await pp(["log", "--failed"], { cwd })).stdout).toBe("no deliveries match\n");
  });

  test("an existing push log: listing, --failed, show, --stats and --json leave its files as they were", async () => {
    const cwd = workspace();
    const sent = await pp(["send", "disk usage 91% on /var (web-3)"], { cwd });
    expect(sent.code).toBe(0);
    const id = sent.stdout.trim();
    expect((await pp(["send", "--ch", "down", "this one fails"], { cwd })).code).toBe(1);
    const before = files(cwd);
    const list = await pp(["log"], { cwd, env: { COLUMNS: "200" } });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain("disk usage 91% on /var (web-3)");
    const failed = await pp(["log", "--failed"], { cwd, env: { COLUMNS: "200" } });
    expect(failed.code).toBe(0);
    expect(failed.stdout).toContain("this one fails");
    expect(failed.stdout).not.toContain("disk usage");
    const show = await pp(["log", "show", id.slice(0, 14)], { cwd });
    expect(show.code).toBe(0);
    expect(show.stdout).toStartWith(`message  ${id}\n`);
    expect((await pp(["log", "--stats"], { cwd })).code).toBe(0);
    expect(JSON.parse((await pp(["log", "--json"], { cwd })).stdout)).toHaveLength(2);
    expect(files(cwd)).toEqual(before);
  });

  test("a push log from an older pp is migrated, then listed", async () => {
    const cwd = workspace();
    writeFileSync(join(cwd, "pp.db"), "");
    const r = await pp(["log"], { cwd });
    expect(r).toMatchObject({ code: 0, stdout: "no deliveries match\n" });
    expect(userVersion(join(cwd, "pp.db"))).toBeGreaterThan(0);
  });

  test("texts are cut to the table between characters as drawn: CJK, accents, flags, emoji sequences", async () => {
    const cwd = workspace();
    const texts = [
      "磁盘使用率告警：web-3 的 /var 已用 91%，请尽快清理日志文件，否则服务将在一小时内停止写入。",
      `cafe\u0301 `.repeat(30),
      "🇨🇳🇺🇸🇩🇪🇯🇵".repeat(10),
      "👨‍👩‍👧 family ".repeat(10),
    ];
    for (const t of texts) expect((await pp(["send", t], { cwd })).code).toBe(0);
    const r = await pp(["log"], { cwd, env: { COLUMNS: "80" } });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n").slice(1);
    expect(lines).toHaveLength(4);
    const graphemes = (s: string) => [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(s)].map((g) => g.segment);
    // Newest first: each line ends with its text cut with "…", and what is kept is whole clusters of the text.
    texts.reverse().forEach((t, i) => {
      const line = lines[i]!;
      expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
      expect(line).toEndWith("…");
      const flat = t.replace(/\s+/g, " ").trim();
      const clusters = graphemes(flat);
      let kept = "";
      for (const c of clusters) {
        if (!line.includes(kept + c)) break;
        kept += c;
      }
      expect(kept.length).toBeGreaterThan(3);
      expect(line).toContain(`${kept}…`);
    });
  });
});
