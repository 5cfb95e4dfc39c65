/**
 * What the quick commands load. Completion runs `pp channels --names` on every <TAB>, and `pp --help` is read
 * often: each module they load costs start-up time, so these count modules (from source), never time.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { commands, loadCommand, SUMMARIES } from "../../src/cli/main.ts";
import { namesOnly } from "../../src/cli/names.ts";
import { q, tempDir } from "../helpers.ts";

const ROOT = join(import.meta.dir, "../..");

/**
 * Runs pp from source in a fresh process, started where the binary starts (entry.ts); returns its stdout and the
 * modules it loaded (paths under the repository).
 */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; code: number; loaded: string[] }> {
  const dir = tempDir();
  const script = join(dir, "loaded.ts");
  writeFileSync(script, `await import(${JSON.stringify(join(ROOT, "src/cli/entry.ts"))});
const code = Number(process.exitCode ?? 0);
process.stderr.write("\\nLOADED " + JSON.stringify({ code, loaded: Object.keys(require.cache) }));
`);
  const p = Bun.spawn(["bun", script, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1", ...env } });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  const { code, loaded } = JSON.parse(stderr.slice(stderr.lastIndexOf("LOADED ") + 7)) as { code: number; loaded: string[] };
  return { stdout, code, loaded: loaded.filter((k) => k.startsWith(ROOT)).map((k) => k.slice(ROOT.length + 1)) };
}

const COMMAND_MODULES = ["send", "test", "log", "replay", "channels", "config", "serve", "completion", "complete", "client"].map((n) => `src/cli/${n}.ts`);
const HEAVY = ["valibot", "smol-toml", "src/config/load.ts", "src/core/dispatch.ts", "src/store/db.ts"];

describe("pp --help", () => {
  test("lists every command from SUMMARIES, which say what each command's own meta says", async () => {
    expect([...SUMMARIES.keys()].sort()).toEqual(Object.keys(commands).sort());
    for (const [name, s] of SUMMARIES) {
      const meta = (await loadCommand(name)).meta as { description?: string; hidden?: boolean };
      expect({ name, description: s.description, hidden: s.hidden ?? false }).toEqual({ name, description: meta.description ?? "", hidden: meta.hidden ?? false });
    }
  });

  test("loads no command module, no config code and no store", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("COMMANDS");
    for (const name of SUMMARIES.keys()) if (!SUMMARIES.get(name)!.hidden) expect(r.stdout).toContain(`  ${name} `);
    expect(r.loaded.filter((m) => COMMAND_MODULES.includes(m) || HEAVY.some((h) => m.includes(h)))).toEqual([]);
  });

  test("pp --version loads no command either", async () => {
    const r = await run(["--version"]);
    expect(r.stdout).toStartWith("pp ");
    expect(r.loaded.filter((m) => COMMAND_MODULES.includes(m) || HEAVY.some((h) => m.includes(h)))).toEqual([]);
  });
});

describe("pp channels --names", () => {
  const config = (text: string) => {
    const dir = tempDir();
    writeFileSync(join(dir, "pp.toml"), text);
    return join(dir, "pp.toml");
  };
  const plain = `[defaults]\nchannels = ["ops"]\n\n[channels.ops]\ntype = "wecom"\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"\n\n[channels.dev]\ntype = "slack"\nwebhook = "https://hooks.slack.com/services/T/B/x"\n\n[groups]\nall = ["ops", "dev"]\n`;

  test("reads a plain config without the TOML parser, the validation or the store", async () => {
    const r = await run(["channels", "--names", "--config", config(plain)]);
    expect(r.stdout).toBe("ops\ndev\nall\n");
    expect(r.loaded).toContain("src/config/names.ts");
    expect(r.loaded.filter((m) => HEAVY.some((h) => m.includes(h)))).toEqual([]);
  });

  test("with no config at all it prints nothing, and loads nothing more", async () => {
    const r = await run(["channels", "--names"]);
    expect(r).toMatchObject({ stdout: "", code: 0 });
    expect(r.loaded.filter((m) => HEAVY.some((h) => m.includes(h)))).toEqual([]);
  });

  test("a config in another form goes to the full loader, with the same names", async () => {
    const inline = `[channels]\nops = { type = "wecom", webhook = ${q("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")} }\n[groups]\nall = [\n  "ops",\n]\n`;
    const r = await run(["channels", "--names", "--config", config(inline)]);
    expect(r.stdout).toBe("ops\nall\n");
    expect(r.loaded).toContain("src/config/load.ts");
  });

  test("the completion scripts' command line is answered before any command module loads, in either order", async () => {
    const file = config(plain);
    for (const args of [["channels", "--names"], ["channels", "--names", "--config", file], ["channels", "--config", file, "--names"], ["channels", `--config=${file}`, "--names"]]) {
      const r = await run(args, { PP_CONFIG: file });
      expect({ args, stdout: r.stdout, code: r.code }).toEqual({ args, stdout: "ops\ndev\nall\n", code: 0 });
      expect({ args, commands: r.loaded.filter((m) => COMMAND_MODULES.includes(m)) }).toEqual({ args, commands: [] });
    }
  });

  test("any other flag takes the usual way, with its checks", async () => {
    const file = config(plain);
    expect(namesOnly(["channels", "--names", "--json"])).toBeUndefined();
    expect(namesOnly(["channels", "--names", "--config"])).toBeUndefined();
    expect(namesOnly(["channels", "--names", "--names"])).toBeUndefined();
    expect(namesOnly(["channels", "--config", "a", "--config", "b", "--names"])).toBeUndefined();
    expect(namesOnly(["log", "--names"])).toBeUndefined();
    expect(namesOnly(["channels", "--config", file])).toBeUndefined();
    const typo = await run(["channels", "--names", "--nmaes"], { PP_CONFIG: file });
    expect(typo.code).toBe(2);
    const json = await run(["channels", "--names", "--config", file, "--json"]);
    expect(json).toMatchObject({ stdout: "ops\ndev\nall\n", code: 0 });
    expect(json.loaded).toContain("src/cli/channels.ts");
  });

  test("an invalid config that the full loader reads prints nothing, as before", async () => {
    const r = await run(["channels", "--names", "--config", config(`[channels]\nops = { type = "nope" }\n`)]);
    expect(r).toMatchObject({ stdout: "", code: 0 });
  });
});

describe("pp send, straight to the platform", () => {
  test("loads one channel module, and none of the daemon, its client, or the other commands", async () => {
    let hits = 0;
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, Response.json({ errcode: 0, errmsg: "ok" })) });
    try {
      const dir = tempDir();
      const file = join(dir, "pp.toml");
      writeFileSync(file, `[log]\npath = ${q(join(dir, "pp.db"))}\n[channels.w]\ntype = "wecom"\nwebhook = ${q(`http://127.0.0.1:${server.port}/cgi-bin/webhook/send?key=k`)}\n`);
      const r = await run(["send", "--config", file, "--ch", "w", "disk full"]);
      expect({ code: r.code, hits }).toEqual({ code: 0, hits: 1 });
      expect(r.loaded).toContain("src/channels/wecom.ts");
      const unwanted = r.loaded.filter((m) =>
        (m.startsWith("src/server/") && m !== "src/server/settings.ts") || m === "src/store/queue.ts" || m.includes("consola") ||
        m.includes("nodemailer") || m.includes("marked") || (m.startsWith("src/channels/") && !/\/(wecom|index|_common)\.ts$/.test(m)) ||
        (COMMAND_MODULES.includes(m) && m !== "src/cli/send.ts"));
      expect(unwanted).toEqual([]);
    } finally {
      server.stop(true);
    }
  });
});


describe("pp log", () => {
  test("reads the push log without loading the dispatch core, fallback sending or any channel", async () => {
    const r = await run(["log"]);
    expect(r.code).toBe(0);
    expect(r.loaded).toContain("src/cli/log.ts");
    expect(r.loaded.filter((m) => m === "src/core/dispatch.ts" || m === "src/core/fallback.ts" || m.startsWith("src/channels/") && !m.endsWith("_common.ts") && !m.endsWith("index.ts"))).toEqual([]);
  });
});

describe("pp send, a plain message to a webhook", () => {
  // Each feature's module loads only when the message or the config asks for it: a failed delivery with a
  // fallback, a --to URL, HTML or JSON input, --at, a channel with an access token.
  const FEATURES = ["src/core/fallback.ts", "src/config/quick.ts", "src/core/format.ts", "src/core/auth.ts", "src/store/tokens.ts"];

  for (const type of ["webhook", "wecom"] as const) {
    test(`${type}: loads none of the optional send features`, async () => {
      let hits = 0;
      const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, Response.json({ errcode: 0, errmsg: "ok" })) });
      try {
        const dir = tempDir();
        const file = join(dir, "pp.toml");
        const where = type === "webhook" ? `url = ${q(`http://127.0.0.1:${server.port}/hook`)}` : `webhook = ${q(`http://127.0.0.1:${server.port}/cgi-bin/webhook/send?key=k`)}`;
        writeFileSync(file, `[log]\npath = ${q(join(dir, "pp.db"))}\n[channels.w]\ntype = "${type}"\n${where}\n`);
        const r = await run(["send", "--config", file, "--ch", "w", "disk full"]);
        expect({ code: r.code, hits }).toEqual({ code: 0, hits: 1 });
        expect(r.loaded).toContain(`src/channels/${type}.ts`);
        // WeCom's own module uses the mentions' helpers; a webhook has no need of them.
        const unwanted = type === "webhook" ? [...FEATURES, "src/core/mentions.ts"] : FEATURES;
        // citty's module loads node:util, a few milliseconds of every send; pp parses a send's arguments itself.
        expect(r.loaded.filter((m) => unwanted.includes(m) || m.includes("citty"))).toEqual([]);
      } finally {
        server.stop(true);
      }
    });
  }
});
