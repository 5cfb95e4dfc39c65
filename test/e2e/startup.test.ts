/**
 * `pp --help` for 80 columns without colour is rendered when the binary is built (scripts/build.ts): it must be
 * the help that the code renders at run time, and any other width or colour still gets a live rendering.
 */
import { describe, expect, test } from "bun:test";
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
