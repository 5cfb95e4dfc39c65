/**
 * `pp channels --types` and `pp --help` list every registered channel type with its config keys, read off the
 * schemas. `pp --help` reads them from src/channels/catalog.ts, generated from the schemas, so that it loads no
 * channel module: the catalog must match the schemas exactly.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { commonFields } from "../../src/channels/_common.ts";
import { CATALOG } from "../../src/channels/catalog.ts";
import { describeType, keysText } from "../../src/channels/describe.ts";
import { channelList, channelTypes } from "../../src/channels/index.ts";
import { renderHelp } from "../../src/cli/help.ts";
import { root } from "../../src/cli/main.ts";
import { CATALOG_PATH, catalogText } from "../../scripts/catalog.ts";

const ROOT = join(import.meta.dir, "../..");
const common = Object.keys(commonFields);
const live = channelList().map((d) => describeType(d, common));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(["bun", join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    // No config anywhere: --types needs none.
    env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent", NO_COLOR: "1", COLUMNS: "80" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

describe("the key listing is read off the schemas", () => {
  test("required and optional keys of a type, without the keys every type takes", () => {
    const app = live.find((t) => t.type === "wecom_app")!;
    expect(app).toEqual({
      type: "wecom_app",
      label: "WeCom application message",
      required: ["corp_id", "agent_id", "secret"],
      optional: ["to_user", "to_party", "to_tag", "api"],
      rate: ["30/min", "1000/h"],
    });
    expect(keysText(app)).toBe("corp_id agent_id secret [to_user to_party to_tag api]");
    for (const t of live) for (const k of ["type", ...common]) expect([...t.required, ...t.optional]).not.toContain(k);
  });

  test("src/channels/catalog.ts is what the schemas say (run `bun scripts/catalog.ts` after changing a channel)", async () => {
    expect(await Bun.file(CATALOG_PATH).text()).toBe(catalogText());
    expect(CATALOG.map((t) => t.type)).toEqual([...channelTypes]);
  });
});

describe("pp --help", () => {
  test("lists every registered type with all its keys, within 80 columns", async () => {
    const text = await renderHelp(root, [], { width: 80, color: false });
    const section = text.slice(text.indexOf("\nCHANNEL TYPES\n"), text.indexOf("\nEXIT CODES\n"));
    for (const t of live) {
      const at = section.search(new RegExp(`^  ${t.type} +\\S`, "m"));
      expect({ type: t.type, listed: at !== -1 }).toEqual({ type: t.type, listed: true });
      // The type's row and its continuation lines.
      const row = section.slice(at).split("\n").filter((l, i) => i === 0 || /^ {6,}\S/.test(l));
      const words = row.join(" ").split(/[\s[\]]+/).filter(Boolean);
      for (const k of [...t.required, ...t.optional]) expect({ type: t.type, key: k, listed: words.includes(k) }).toEqual({ type: t.type, key: k, listed: true });
    }
    for (const line of text.split("\n")) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
  });

  test("names no platform in its description, and loads no channel module for the listing", async () => {
    expect(String((root.meta as { description: string }).description)).not.toMatch(/WeCom|Slack|Feishu/);
    const probe = `
      const { renderHelp } = await import(${JSON.stringify(join(ROOT, "src/cli/help.ts"))});
      const { root } = await import(${JSON.stringify(join(ROOT, "src/cli/main.ts"))});
      await renderHelp(root, [], { width: 80, color: false });
      console.log(JSON.stringify(Object.keys(require.cache)));`;
    const p = Bun.spawnSync(["bun", "-e", probe], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const loaded = (JSON.parse(p.stdout.toString()) as string[]).filter((k) => k.includes("/src/channels/"));
    expect(loaded.some((k) => k.endsWith("/catalog.ts"))).toBe(true);
    for (const type of channelTypes) expect(loaded.filter((k) => k.endsWith(`/${type}.ts`))).toEqual([]);
  });
});

describe("pp channels --types", () => {
  test("--json: every registered type with its label, keys and default rate, without a config", async () => {
    const r = await run(["channels", "--types", "--json"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const got = JSON.parse(r.stdout) as { types: unknown[]; common: string[] };
    expect(got.types).toEqual(live);
    expect(got.types.map((t) => (t as { type: string }).type)).toEqual([...channelTypes]);
    expect(got.common).toEqual(common);
  });

  test("text: each type with its label, default rate and keys", async () => {
    const r = await run(["channels", "--types"]);
    expect(r.code).toBe(0);
    for (const t of live) {
      expect(r.stdout).toContain(`  ${t.type}`);
      expect(r.stdout).toContain(t.label);
      expect(r.stdout.replace(/\n +/g, " ")).toContain(keysText(t));
    }
    expect(r.stdout).toContain("default rate 30/min and 1000/h");
    for (const line of r.stdout.split("\n")) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
  });
});
