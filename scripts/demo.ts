/**
 * A first run without any chat account: starts local stand-ins for WeCom and Feishu on 127.0.0.1, writes a
 * pp.toml for them in a fresh directory, and runs the built pp there. Every command is shown exactly as it is
 * run, through `sh` in that directory with that pp first on PATH, so typing it by hand does the same.
 *
 *   bun run demo                          uses dist/pp (bun run build first)
 *   bun scripts/demo.ts --bin FILE        another build
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startFake } from "../test/fakes/index.ts";

export interface Step {
  cmd: string;
  /** The exit status the demo expects, and the one it got. */
  expect: number;
  code: number;
  output: string;
}

/** The Feishu stand-in only takes messages containing this word, as a bot with a keyword does. */
const KEYWORD = "alert";

export async function runDemo(bin: string, print: (s: string) => void = () => {}): Promise<{ steps: Step[]; wecom: number; feishu: number; refused: number }> {
  const dir = mkdtempSync(join(tmpdir(), "pp-demo-"));
  const wecom = await startFake("wecom");
  const feishu = await startFake("feishu", { secret: "demo-signing-secret", keyword: KEYWORD });
  const steps: Step[] = [];
  try {
    mkdirSync(join(dir, "bin"));
    symlinkSync(resolve(bin), join(dir, "bin", "pp"));
    // The Feishu section comes last, so that a line appended to the file lands in it.
    writeFileSync(
      join(dir, "pp.toml"),
      `[defaults]
channels = ["ops"]

[log]
path = "pp.db"

[groups]
ops = ["wecom", "feishu"]

[channels.wecom]
type = "wecom"
webhook = "${wecom.webhook}"

[channels.feishu]
type = "feishu"
webhook = "${feishu.webhook}"
secret = "demo-signing-secret"
`,
    );
    const env: Record<string, string | undefined> = { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}` };
    for (const k of ["PP_CONFIG", "PP_CHANNELS", "PP_DB", "PP_FORMAT", "PP_DEADLINE"]) delete env[k];
    const run = async (cmd: string, expect = 0, note?: string) => {
      if (note) print(`\n# ${note}`);
      print(`$ ${cmd}`);
      const p = Bun.spawn(["sh", "-c", `exec 2>&1\n${cmd}`], { cwd: dir, env, stdin: "ignore", stdout: "pipe" });
      const output = await new Response(p.stdout).text();
      const code = await p.exited;
      const shown = output.trimEnd() + (code === 0 ? "" : `\n(exit status ${code})`);
      if (shown) print(shown);
      steps.push({ cmd, expect, code, output });
    };

    print(`# In ${dir}: local stand-ins for WeCom and Feishu; the Feishu bot only accepts messages that contain "${KEYWORD}".`);
    await run("cat pp.toml");
    await run(`pp send "deploy done: api v1.4.2 is live"`, 1, "To the default group, ops: WeCom takes it, Feishu refuses it (exit status 1).");
    await run("pp log --failed", 0, "What did not arrive, and the platform's own answer.");
    await run(`echo 'keyword = "${KEYWORD}"' >> pp.toml`, 0, "Tell pp about the bot's keyword: it adds it to messages that lack it.");
    await run("pp replay --failed", 0, "Send again what failed: only Feishu, since WeCom already has it.");
    await run(
      `printf '**db-1** /var at *95%%*\\n\\n- clean old backups\\n- grow the volume\\n' | pp send --ch feishu --title "Disk report" --format markdown`,
      0,
      "Markdown from standard input, with a title, rendered as a Feishu card.",
    );
    await run("pp log", 0, "The push log: every delivery, newest first.");
    print(`\nThe WeCom stand-in accepted ${wecom.accepted().length} message(s), Feishu ${feishu.accepted().length} (and refused ${feishu.requests.length - feishu.accepted().length}).`);
    return { steps, wecom: wecom.accepted().length, feishu: feishu.accepted().length, refused: feishu.requests.length - feishu.accepted().length };
  } finally {
    await wecom.stop();
    await feishu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const i = process.argv.indexOf("--bin");
  const bin = i > 0 ? process.argv[i + 1]! : join(import.meta.dir, "..", "dist", "pp");
  if (!existsSync(bin)) {
    console.error(`demo: ${bin} does not exist; run bun run build first (or pass --bin FILE)`);
    process.exit(1);
  }
  const { steps } = await runDemo(bin, (s) => console.log(s));
  const wrong = steps.filter((s) => s.code !== s.expect);
  for (const s of wrong) console.error(`demo: \`${s.cmd}\` exited ${s.code}, expected ${s.expect}`);
  process.exit(wrong.length ? 1 : 0);
}
