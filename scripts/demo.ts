// A first run without any chat account: starts local stand-ins for WeCom and Feishu on 127.0.0.1,
// writes a config for them, and drives the compiled dist/pp the way a user would.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFake } from "../test/fakes/index.ts";

const bin = join(import.meta.dir, "..", "dist", process.platform === "win32" ? "pp.exe" : "pp");
const dir = mkdtempSync(join(tmpdir(), "pp-demo-"));
const wecom = await startFake("wecom");
const feishu = await startFake("feishu", { secret: "demo-signing-secret" });
const config = join(dir, "pp.toml");
writeFileSync(
  config,
  `[defaults]
channels = ["ops"]

[log]
path = "${join(dir, "pp.db").replaceAll("\\", "/")}"

[channels.wecom]
type = "wecom"
webhook = "${wecom.webhook}"

[channels.feishu]
type = "feishu"
webhook = "${feishu.webhook}"
secret = "demo-signing-secret"

[groups]
ops = ["wecom", "feishu"]
`,
);

/** Runs dist/pp as a user would, shows what it prints, and returns its stdout. */
async function run(args: string[], stdin?: string): Promise<string> {
  console.log(`\n$ pp ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const p = Bun.spawn([bin, ...args], { env: { ...process.env, PP_CONFIG: config }, stdin: stdin ? new Blob([stdin]) : "ignore", stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  process.stdout.write(out);
  await p.exited;
  return out.trim();
}

try {
  await run(["send", "deploy done: api v1.4.2 is live"]);
  await run(["send", "--ch", "feishu", "--title", "Disk report", "--format", "markdown"], "**db-1** /var at *95%*\n\n- clean old backups\n- grow the volume\n");
  feishu.fault({ kind: "code", code: 19024, msg: "Key Words Not Found" });
  const refused = await run(["send", "--ch", "feishu", "this one is refused by the platform"]);
  // The platform accepts it the second time: pp replay sends the logged message again.
  await run(["replay", refused]);
  await run(["log"]);
  console.log(`\nThe local WeCom stand-in received ${wecom.accepted().length} message(s), Feishu ${feishu.accepted().length}.`);
} finally {
  await wecom.stop();
  await feishu.stop();
  rmSync(dir, { recursive: true, force: true });
}
