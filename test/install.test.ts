import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const SCRIPT = resolve(import.meta.dir, "../scripts/install.sh");
const VERSION = "9.9.9";
const TARGETS = ["linux_amd64", "linux_amd64-baseline", "linux_amd64-musl", "linux_arm64", "darwin_amd64", "darwin_arm64", "freebsd_amd64", "freebsd_arm64"];

let work: string;
let releaseDir: string;

function sha256(data: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** A release directory whose "binaries" are shell scripts that print which archive they came from. */
function makeRelease(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const sums: string[] = [];
  for (const t of TARGETS) {
    const top = `pp_${VERSION}_${t}`;
    const stage = join(work, "stage", top);
    mkdirSync(join(stage, "completions"), { recursive: true });
    writeFileSync(join(stage, "pp"), `#!/bin/sh\necho "pp ${VERSION} (test, ${t})"\n`, { mode: 0o755 });
    writeFileSync(join(stage, "completions", "pp.bash"), `# bash ${t}\n`);
    writeFileSync(join(stage, "completions", "_pp"), `#compdef pp\n`);
    writeFileSync(join(stage, "completions", "pp.fish"), `# fish\n`);
    writeFileSync(join(stage, "completions", "pp.ps1"), `# ps\n`);
    const archive = join(dir, `${top}.tar.gz`);
    const r = Bun.spawnSync(["tar", "-czf", archive, "-C", join(work, "stage"), top]);
    expect(r.exitCode).toBe(0);
    sums.push(`${sha256(readFileSync(archive))}  ${top}.tar.gz`);
  }
  writeFileSync(join(dir, "SHA256SUMS"), `${sums.join("\n")}\n`);
}

function install(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(["sh", SCRIPT, ...args], {
    env: { PATH: process.env.PATH!, HOME: join(work, "home"), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "pp-install-test-"));
  releaseDir = join(work, "release");
  makeRelease(releaseDir);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("install.sh", () => {
  test("is valid POSIX sh", () => {
    expect(Bun.spawnSync(["sh", "-n", SCRIPT]).exitCode).toBe(0);
  });

  test.skipIf(!Bun.which("shellcheck"))("is shellcheck-clean (needs shellcheck on PATH: apt-get install shellcheck)", () => {
    const r = Bun.spawnSync(["shellcheck", "-s", "sh", SCRIPT], { stdout: "pipe" });
    expect(r.stdout.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("installs the chosen archive's binary and completions from a directory", () => {
    const root = join(work, "t1");
    const r = install(["--from", releaseDir, "--prefix", join(root, "bin"), "--target", "freebsd_arm64"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`pp_${VERSION}_freebsd_arm64.tar.gz`);
    const bin = join(root, "bin", "pp");
    expect(Bun.spawnSync([bin]).stdout.toString().trim()).toBe(`pp ${VERSION} (test, freebsd_arm64)`);
    expect(readFileSync(join(root, "share/bash-completion/completions/pp"), "utf8")).toBe("# bash freebsd_arm64\n");
    expect(existsSync(join(root, "share/zsh/site-functions/_pp"))).toBe(true);
    expect(existsSync(join(root, "share/fish/vendor_completions.d/pp.fish"))).toBe(true);
    // No temporary file is left beside the binary.
    expect(Bun.spawnSync(["ls", "-A", join(root, "bin")]).stdout.toString().trim()).toBe("pp");
  });

  test("detects this machine's OS and architecture", () => {
    const root = join(work, "t2");
    const r = install(["--from", releaseDir, "--prefix", join(root, "bin"), "--no-completions"]);
    expect(r.code).toBe(0);
    const printed = Bun.spawnSync([join(root, "bin", "pp")]).stdout.toString();
    const os = { linux: "linux", darwin: "darwin", freebsd: "freebsd" }[process.platform as string];
    const arch = { x64: "amd64", arm64: "arm64" }[process.arch as string];
    expect(printed).toMatch(new RegExp(`\\(test, ${os}_${arch}(-baseline|-musl)?\\)`));
    expect(existsSync(join(root, "share"))).toBe(false);
  });

  test("downloads over HTTP with --base-url and replaces an existing binary", async () => {
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const file = Bun.file(join(releaseDir, new URL(req.url).pathname.replace(/^\/rel\//, "")));
        return file.size ? new Response(file) : new Response("not found", { status: 404 });
      },
    });
    try {
      const root = join(work, "t3");
      mkdirSync(join(root, "bin"), { recursive: true });
      writeFileSync(join(root, "bin", "pp"), "old", { mode: 0o755 });
      const r = Bun.spawn(["sh", SCRIPT, "--base-url", `http://127.0.0.1:${server.port}/rel/`, "--prefix", join(root, "bin"), "--target", "linux_arm64"], {
        env: { PATH: process.env.PATH!, HOME: join(work, "home") },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, err] = [await r.exited, await new Response(r.stderr).text()];
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(Bun.spawnSync([join(root, "bin", "pp")]).stdout.toString()).toContain("linux_arm64");
    } finally {
      server.stop(true);
    }
  });

  test("a checksum mismatch fails and installs nothing", () => {
    const bad = join(work, "bad");
    mkdirSync(bad, { recursive: true });
    for (const f of ["pp_9.9.9_linux_amd64.tar.gz"]) writeFileSync(join(bad, f), readFileSync(join(releaseDir, f)));
    writeFileSync(join(bad, "SHA256SUMS"), `${"0".repeat(64)}  pp_9.9.9_linux_amd64.tar.gz\n`);
    const root = join(work, "t4");
    const r = install(["--from", bad, "--prefix", join(root, "bin"), "--target", "linux_amd64"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("checksum mismatch for pp_9.9.9_linux_amd64.tar.gz");
    expect(r.err).toContain("nothing was installed");
    expect(existsSync(join(root, "bin", "pp"))).toBe(false);
    expect(existsSync(join(root, "share"))).toBe(false);
  });

  test("says what is available when there is no archive for the target", () => {
    const r = install(["--from", releaseDir, "--prefix", join(work, "t5"), "--target", "plan9_amd64"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("no archive for plan9_amd64");
    expect(r.err).toContain(`pp_${VERSION}_linux_arm64.tar.gz`);
  });

  test("--version picks among several versions, and is required then", () => {
    const multi = join(work, "multi");
    mkdirSync(multi, { recursive: true });
    const name = `pp_${VERSION}_linux_amd64.tar.gz`;
    writeFileSync(join(multi, name), readFileSync(join(releaseDir, name)));
    const hash = sha256(readFileSync(join(releaseDir, name)));
    writeFileSync(join(multi, "SHA256SUMS"), `${"1".repeat(64)}  pp_1.0.0_linux_amd64.tar.gz\n${hash}  ${name}\n`);
    const ambiguous = install(["--from", multi, "--prefix", join(work, "t6"), "--target", "linux_amd64"]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toContain("--version");
    const ok = install(["--from", multi, "--prefix", join(work, "t6"), "--target", "linux_amd64", "--version", VERSION, "--no-completions"]);
    expect(ok.code).toBe(0);
  });

  test("rejects bad usage with a clear message", () => {
    expect(install([]).err).toContain("--from DIR or --base-url URL");
    expect(install(["--from", releaseDir, "--base-url", "http://127.0.0.1:9"]).err).toContain("not both");
    expect(install(["--bogus"]).err).toContain('unknown option "--bogus"');
    expect(install(["--prefix"]).err).toContain("--prefix needs a value");
    expect(install(["--from", releaseDir, "--target", "windows_amd64"]).err).toContain(".zip");
  });
});
