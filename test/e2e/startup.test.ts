/**
 * `pp --help` for 80 columns without colour is rendered when the binary is built (scripts/build.ts): it must be
 * the help that the code renders at run time, and any other width or colour still gets a live rendering.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderRootHelp } from "../../src/cli/main.ts";
import { tempDir } from "../helpers.ts";
import { needBinary, pp } from "./_run.ts";

needBinary();

describe("pp --help from the binary", () => {
  test("to a pipe: the help the sources render for 80 columns, without colour", async () => {
    const r = await pp(["--help"], { cwd: tempDir() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(await renderRootHelp({ width: 80, color: false }));
    // `pp` alone prints the same.
    expect((await pp([], { cwd: tempDir() })).stdout).toBe(r.stdout);
  });

  test("another width or colour is rendered as asked", async () => {
    const narrow = await pp(["--help"], { cwd: tempDir(), env: { COLUMNS: "60" } });
    expect(narrow.stdout).toBe(await renderRootHelp({ width: 60, color: false }));
    const coloured = await pp(["--help"], { cwd: tempDir(), env: { NO_COLOR: "", FORCE_COLOR: "1" } });
    expect(coloured.stdout).toBe(await renderRootHelp({ width: 80, color: true }));
  });
});

describe("pp channels --names from the binary (its entry answers it before main)", () => {
  const config = `[channels.ops]\ntype = "wecom"\nwebhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"\n[channels.dev]\ntype = "slack"\nwebhook = "https://hooks.slack.com/services/T/B/x"\n[groups]\nall = ["ops", "dev"]\n`;

  test("lists the names as main() does, whichever order the flags come in", async () => {
    const dir = tempDir();
    const file = join(dir, "pp.toml");
    writeFileSync(file, config);
    for (const args of [["channels", "--names"], ["channels", "--names", "--config", file], ["channels", "--config", file, "--names"], ["channels", `--config=${file}`, "--names"]]) {
      const r = await pp(args, { cwd: dir });
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, code: 0, stdout: "ops\ndev\nall\n", stderr: "" });
    }
  });

  test("other command lines still go through main, with its checks and exit codes", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pp.toml"), config);
    const typo = await pp(["channels", "--names", "--nmaes"], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown option "--nmaes"');
    const missing = await pp(["send", "--ch", "nope", "x"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toStartWith("pp: ");
  });
});
