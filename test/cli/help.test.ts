import { describe, expect, test } from "bun:test";
import type { CommandDef } from "citty";
import { columns, renderHelp, wrap } from "../../src/cli/help.ts";
import { root } from "../../src/cli/main.ts";

const ESC = /\x1b/;

/** Every command of the real tree with its path, the root first. */
async function everyCommand(): Promise<{ cmd: CommandDef<any>; path: string[] }[]> {
  const found: { cmd: CommandDef<any>; path: string[] }[] = [];
  const visit = async (cmd: CommandDef<any>, path: string[]) => {
    found.push({ cmd, path });
    const subs = (typeof cmd.subCommands === "function" ? await cmd.subCommands() : cmd.subCommands) ?? {};
    for (const [name, sub] of Object.entries(subs)) {
      await visit((typeof sub === "function" ? await (sub as () => Promise<CommandDef<any>>)() : sub) as CommandDef<any>, [...path, name]);
    }
  };
  await visit(root, []);
  return found;
}

const help = async (path: string[], width = 80, color = false) => {
  const all = await everyCommand();
  const hit = all.find((c) => c.path.join(" ") === path.join(" "));
  if (!hit) throw new Error(`no command ${path.join(" ")}`);
  return renderHelp(hit.cmd, path, { width, color });
};

const section = (text: string, name: string) => {
  const at = text.indexOf(`\n${name}\n`);
  if (at === -1) return "";
  const rest = text.slice(at + name.length + 2);
  const end = rest.search(/\n[A-Z][A-Z ]+\n/);
  return end === -1 ? rest : rest.slice(0, end);
};

describe("help fits the terminal", () => {
  test("every line of every command's help fits 80 columns, and 60", async () => {
    const all = await everyCommand();
    expect(all.length).toBeGreaterThan(8);
    for (const width of [80, 60]) {
      for (const { cmd, path } of all) {
        const text = await renderHelp(cmd, path, { width, color: false });
        for (const line of text.split("\n")) {
          // Only a single word longer than the line may overflow it.
          if (Bun.stringWidth(line) > width) expect(line.trim()).not.toContain(" ");
        }
      }
    }
  });

  test("descriptions wrap between words, continuation lines indented to the description column", async () => {
    const text = await help(["send"], 80);
    const opts = section(text, "OPTIONS").split("\n").filter(Boolean);
    const first = opts.find((l) => l.includes("--deadline"))!;
    const column = first.indexOf("Give up");
    expect(column).toBeGreaterThan(4);
    const next = opts[opts.indexOf(first) + 1]!;
    expect(next.search(/\S/)).toBe(column);
    // The words of the description come out whole and in order.
    const words = (s: string) => s.split(/\s+/).filter(Boolean);
    const joined = words(opts.slice(opts.indexOf(first), opts.indexOf(first) + 3).join(" "));
    const description = words("Give up on what is not delivered by then, retries and rate-limit waits included");
    expect(joined.slice(joined.indexOf("Give"), joined.indexOf("Give") + description.length)).toEqual(description);
  });

  test("wrap never breaks a word and keeps long words whole", () => {
    expect(wrap("aaa bbb ccc", 7)).toEqual(["aaa bbb", "ccc"]);
    expect(wrap("a https://example.com/a/very/long/path b", 10, 2)).toEqual(["  a", "  https://example.com/a/very/long/path", "  b"]);
    expect(wrap("✅✅✅ 🚀🚀", 8)).toEqual(["✅✅✅", "🚀🚀"]);
  });

  test("a label wider than the column gets a line of its own", () => {
    const lines = columns([["-a", "short"], ["--a-very-long-option-label VALUE", "text"]], 80, (s) => s, 12);
    expect(lines).toEqual(["  -a  short", "  --a-very-long-option-label VALUE", "      text"]);
  });
});

describe("colour", () => {
  test("no escape codes unless asked for; headings and names coloured when asked", async () => {
    for (const { cmd, path } of await everyCommand()) {
      expect(await renderHelp(cmd, path, { width: 80, color: false })).not.toMatch(ESC);
    }
    const colored = await help(["log"], 80, true);
    expect(colored).toContain("\x1b[1mOPTIONS\x1b[22m");
    expect(colored).toContain("\x1b[36m--failed\x1b[39m");
    // Colour codes take no columns: the coloured help wraps exactly as the plain one.
    expect(colored.replace(/\x1b\[[0-9;]*m/g, "")).toBe(await help(["log"], 80, false));
  });
});

describe("each command names its own usage and exit codes", () => {
  test("pp log shows `pp log show ID` as a usage line, not a SHOW argument", async () => {
    const text = await help(["log"]);
    expect(text).not.toContain("SHOW");
    expect(text).not.toContain("ARGUMENTS");
    expect(section(text, "USAGE")).toContain("pp log show ID");
  });

  test("send and replay list every code, signals included", async () => {
    for (const cmd of ["send", "replay"]) {
      const codes = section(await help([cmd]), "EXIT CODES");
      for (const code of ["0", "1", "2", "3", "4", "5"]) expect(codes).toMatch(new RegExp(`^  ${code}  `, "m"));
      expect(codes).toContain("129, 130, 143");
    }
  });

  test("pp test writes no push log, so its help does not point to one", async () => {
    const text = await help(["test"]);
    expect(text).not.toContain("pp log --failed");
    expect(text).not.toContain("pp replay");
    expect(section(text, "EXIT CODES")).not.toMatch(/^ {2}4 {2}/m);
  });

  test("commands that send nothing have no delivery codes", async () => {
    for (const cmd of [["log"], ["channels"], ["config"], ["config", "check"], ["completion"]]) {
      const codes = section(await help(cmd), "EXIT CODES");
      expect(codes).toMatch(/^ {2}0 {2}/m);
      expect(codes).toMatch(/^ {2}2 {2}/m);
      expect(codes).not.toMatch(/^ {2}[14] {2}/m);
      expect(codes).not.toContain("129");
      expect(codes).not.toContain("delivery failed");
    }
  });
});
