/**
 * `bun run install-local`: the built binary onto ~/.local/bin (or --prefix) with completions where the shells
 * look, so that `pp` and its channel-name completion work from PATH as the README says.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BIN, needBinary } from "./e2e/_run.ts";
import { tempDir } from "./helpers.ts";

const SCRIPT = resolve(import.meta.dir, "../scripts/install-local.ts");
const COMPLETIONS = { bash: "share/bash-completion/completions/pp", zsh: "share/zsh/site-functions/_pp", fish: "share/fish/vendor_completions.d/pp.fish" };

needBinary();

function install(args: string[], home: string, path = "/usr/bin:/bin") {
  const r = Bun.spawnSync([process.execPath, SCRIPT, "--bin", BIN, ...args], { env: { HOME: home, PATH: path }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("install-local", () => {
  test("installs pp into ~/.local/bin and completions under ~/.local/share, and says how to put it on PATH", () => {
    const home = tempDir("pp-install-local-");
    const r = install([], home);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const pp = join(home, ".local", "bin", "pp");
    expect(statSync(pp).mode & 0o111).not.toBe(0);
    expect(Bun.spawnSync([pp, "--version"], { stdout: "pipe" }).stdout.toString()).toStartWith("pp ");
    for (const [shell, rel] of Object.entries(COMPLETIONS)) {
      const want = Bun.spawnSync([pp, "completion", shell], { stdout: "pipe" }).stdout.toString();
      expect(want.length).toBeGreaterThan(100);
      expect(readFileSync(join(home, ".local", rel), "utf8")).toBe(want);
    }
    expect(r.out).toContain(`export PATH="${join(home, ".local", "bin")}:$PATH"`);
    // Already on PATH: no advice to add it.
    const again = install([], home, `${join(home, ".local", "bin")}:/usr/bin:/bin`);
    expect(again.code).toBe(0);
    expect(again.out).not.toContain("not on your PATH");
  });

  test("--prefix chooses the directory; completions go under its parent; --no-completions skips them", () => {
    const home = tempDir("pp-install-local-");
    const r = install(["--prefix", join(home, "opt", "bin")], home);
    expect(r.code).toBe(0);
    expect(existsSync(join(home, "opt", "bin", "pp"))).toBe(true);
    expect(existsSync(join(home, "opt", COMPLETIONS.bash))).toBe(true);
    expect(existsSync(join(home, ".local"))).toBe(false);

    const bare = install(["--prefix", join(home, "b", "bin"), "--no-completions"], home);
    expect(bare.code).toBe(0);
    expect(existsSync(join(home, "b", "bin", "pp"))).toBe(true);
    expect(existsSync(join(home, "b", "share"))).toBe(false);
  });

  test("the installed bash completion offers channel names, read by the pp it finds on PATH", () => {
    const home = tempDir("pp-install-local-");
    expect(install([], home).code).toBe(0);
    const config = join(home, "pp.toml");
    writeFileSync(config, `[channels.ops]\ntype = "slack"\nwebhook = "https://hooks.slack.com/services/T0/B0/x"\n[channels.dev]\ntype = "slack"\nwebhook = "https://hooks.slack.com/services/T0/B0/y"\n`);
    const script = `source ${JSON.stringify(join(home, ".local", COMPLETIONS.bash))}
COMP_WORDS=(pp send --ch ""); COMP_CWORD=3; COMP_LINE="pp send --ch "; COMP_POINT=\${#COMP_LINE}
_pp
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = Bun.spawnSync(["bash", "--noprofile", "--norc", "-c", script], {
      env: { HOME: home, PATH: `${join(home, ".local", "bin")}:/usr/bin:/bin`, PP_CONFIG: config },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().split("\n").filter(Boolean).sort()).toEqual(["dev", "ops"]);
  });

  test("a missing binary or an unknown option: exit 1 with what to do, nothing installed", () => {
    const home = tempDir("pp-install-local-");
    const r = Bun.spawnSync([process.execPath, SCRIPT, "--bin", join(home, "nope")], { env: { HOME: home, PATH: "/usr/bin:/bin" }, stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("run bun run build first");
    expect(install(["--prefx", home], home).code).toBe(1);
    expect(existsSync(join(home, ".local"))).toBe(false);
  });
});
