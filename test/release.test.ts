import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../scripts/build.ts";
import { describeBinary, FormatError, inspectBinary } from "../scripts/lib/binfmt.ts";
import { unzipList, zip } from "../scripts/lib/zip.ts";
import { archiveName, release, runnerFor, table, TARGETS, targetId, type Target } from "../scripts/release.ts";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "pp-release-test-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------- header fixtures

interface ElfFixture {
  osabi: number;
  machine: number;
  interp?: string;
  noteOwner?: string;
  cls?: number;
}

/** A minimal ELF64 file: header, program headers for PT_INTERP and PT_NOTE, and their contents. */
function elf(f: ElfFixture): Uint8Array {
  const buf = new Uint8Array(512);
  const dv = new DataView(buf.buffer);
  buf.set([0x7f, 0x45, 0x4c, 0x46, f.cls ?? 2, 1, 1, f.osabi]);
  dv.setUint16(16, 2, true);
  dv.setUint16(18, f.machine, true);
  dv.setBigUint64(32, 64n, true);
  dv.setUint16(54, 56, true);
  const phdrs: [number, number, number][] = [];
  let data = 256;
  if (f.interp) {
    const bytes = new TextEncoder().encode(`${f.interp}\0`);
    buf.set(bytes, data);
    phdrs.push([3, data, bytes.length]);
    data += 64;
  }
  if (f.noteOwner) {
    const name = new TextEncoder().encode(`${f.noteOwner}\0`);
    dv.setUint32(data, name.length, true);
    dv.setUint32(data + 4, 4, true);
    dv.setUint32(data + 8, 1, true);
    buf.set(name, data + 12);
    const size = 12 + ((name.length + 3) & ~3) + 4;
    phdrs.push([4, data, size]);
  }
  dv.setUint16(56, phdrs.length, true);
  phdrs.forEach(([type, offset, size], i) => {
    const base = 64 + i * 56;
    dv.setUint32(base, type, true);
    dv.setBigUint64(base + 8, BigInt(offset), true);
    dv.setBigUint64(base + 32, BigInt(size), true);
  });
  return buf;
}

function macho(cpu: number, filetype = 2): Uint8Array {
  const buf = new Uint8Array(64);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, 0xfeedfacf, true);
  dv.setUint32(4, cpu, true);
  dv.setUint32(12, filetype, true);
  return buf;
}

function pe(machine: number, magic = 0x20b): Uint8Array {
  const buf = new Uint8Array(256);
  const dv = new DataView(buf.buffer);
  buf.set([0x4d, 0x5a]);
  dv.setUint32(0x3c, 0x80, true);
  buf.set([0x50, 0x45, 0, 0], 0x80);
  dv.setUint16(0x84, machine, true);
  dv.setUint16(0x80 + 24, magic, true);
  return buf;
}

async function inspect(bytes: Uint8Array) {
  const file = join(work, `bin-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, bytes);
  return inspectBinary(file);
}

describe("binary format checks", () => {
  test.each([
    ["linux glibc x64", elf({ osabi: 0, machine: 0x3e, interp: "/lib64/ld-linux-x86-64.so.2", noteOwner: "GNU" }), { os: "linux", arch: "x64", libc: "glibc" }],
    ["linux musl x64", elf({ osabi: 0, machine: 0x3e, interp: "/lib/ld-musl-x86_64.so.1" }), { os: "linux", arch: "x64", libc: "musl" }],
    ["linux glibc arm64", elf({ osabi: 3, machine: 0xb7, interp: "/lib/ld-linux-aarch64.so.1" }), { os: "linux", arch: "arm64", libc: "glibc" }],
    ["freebsd x64", elf({ osabi: 9, machine: 0x3e, interp: "/libexec/ld-elf.so.1", noteOwner: "FreeBSD" }), { os: "freebsd", arch: "x64" }],
    ["freebsd arm64", elf({ osabi: 9, machine: 0xb7, noteOwner: "FreeBSD" }), { os: "freebsd", arch: "arm64" }],
    ["darwin x64", macho(0x01000007), { format: "macho", os: "darwin", arch: "x64" }],
    ["darwin arm64", macho(0x0100000c), { format: "macho", os: "darwin", arch: "arm64" }],
    ["windows x64", pe(0x8664), { format: "pe", os: "windows", arch: "x64" }],
  ] as const)("recognises %s", async (_name, bytes, want) => {
    expect(await inspect(bytes)).toMatchObject(want);
  });

  test.each([
    ["32-bit ELF", elf({ cls: 1, osabi: 0, machine: 0x3e, interp: "/lib/ld-linux.so.2" }), "not 64-bit"],
    ["another CPU", elf({ osabi: 0, machine: 0x28, interp: "/lib/ld-linux.so.3" }), "e_machine 0x28"],
    ["FreeBSD OSABI without its note", elf({ osabi: 9, machine: 0x3e }), "no FreeBSD ABI note"],
    ["FreeBSD note with a Linux OSABI", elf({ osabi: 0, machine: 0x3e, noteOwner: "FreeBSD" }), "EI_OSABI 0"],
    ["Linux ELF without a loader", elf({ osabi: 0, machine: 0x3e }), "not a Linux glibc or musl loader"],
    ["Mach-O object file", macho(0x01000007, 1), "not MH_EXECUTE"],
    ["PE for i386", pe(0x14c), "machine 0x14c"],
    ["PE32 (not PE32+)", pe(0x8664, 0x10b), "not PE32+"],
    ["a shell script", new TextEncoder().encode("#!/bin/sh\necho hi\n".padEnd(80)), "unknown executable format"],
  ] as const)("rejects %s", async (_name, bytes, message) => {
    const err = await inspect(bytes).catch((e) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toContain(message);
  });

  test("describes what it found", () => {
    expect(describeBinary({ format: "elf", os: "linux", arch: "x64", libc: "musl" })).toBe("ELF x64 linux musl");
    expect(describeBinary({ format: "macho", os: "darwin", arch: "arm64" })).toBe("Mach-O arm64");
  });
});

describe("zip writer", () => {
  test("writes an archive that lists back and inflates to the input", async () => {
    const big = new Uint8Array(200_000).map((_, i) => (i * 7) % 251);
    const bytes = await zip([
      { name: "d/" },
      { name: "d/pp.exe", data: big, mode: 0o755 },
      { name: "d/README.md", data: new TextEncoder().encode("hello ünïcode\n") },
      { name: "d/empty", data: new Uint8Array(0) },
    ]);
    const file = join(work, "t.zip");
    writeFileSync(file, bytes);
    const entries = unzipList(file);
    expect(entries.map((e) => [e.name, e.mode & 0o777, e.size])).toEqual([
      ["d/", 0o755, 0],
      ["d/pp.exe", 0o755, big.length],
      ["d/README.md", 0o644, 16],
      ["d/empty", 0o644, 0],
    ]);
    // Second entry's data, read through its local header.
    const dv = new DataView(bytes.buffer);
    const second = 30 + 2; // after the "d/" entry (no data)
    expect(dv.getUint32(second, true)).toBe(0x04034b50);
    const packed = dv.getUint32(second + 18, true);
    const nameLen = dv.getUint16(second + 26, true);
    const data = inflateRawSync(bytes.subarray(second + 30 + nameLen, second + 30 + nameLen + packed));
    expect(Buffer.compare(data, Buffer.from(big))).toBe(0);
    expect(dv.getUint32(second + 14, true)).toBe(Bun.hash.crc32(big) >>> 0);
  });

  test.skipIf(!Bun.which("unzip"))("passes unzip -t (needs unzip on PATH: apt-get install unzip)", async () => {
    const file = join(work, "u.zip");
    writeFileSync(file, await zip([{ name: "a/" }, { name: "a/x.txt", data: new TextEncoder().encode("x".repeat(5000)) }]));
    const r = Bun.spawnSync(["unzip", "-t", file], { stdout: "pipe" });
    expect(r.stdout.toString()).toContain("No errors detected");
    expect(r.exitCode).toBe(0);
  });
});

describe("release naming", () => {
  test("every target has a distinct archive name", () => {
    const names = TARGETS.map((t) => archiveName("1.2.3", t));
    expect(new Set(names).size).toBe(TARGETS.length);
    expect(names).toContain("pp_1.2.3_linux_amd64.tar.gz");
    expect(names).toContain("pp_1.2.3_linux_amd64-musl.tar.gz");
    expect(names).toContain("pp_1.2.3_windows_amd64.zip");
    expect(names).toContain("pp_1.2.3_freebsd_arm64.tar.gz");
  });
});

describe("build", () => {
  test("fails loudly for a target Bun does not know", async () => {
    const err = await build({ target: "bun-plan9-x64", outfile: join(work, "never") }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain("build failed for bun-plan9-x64");
    expect(existsSync(join(work, "never"))).toBe(false);
  });
});

// Builds two real targets (this machine's and FreeBSD x64), which takes about 15 s on 2 cores.
describe("release of the host target and one cross target", () => {
  const hostTarget = TARGETS.find((t) => t.os === process.platform && t.arch === process.arch && t.libc !== "musl" && !t.label.includes("baseline"));
  const freebsd = TARGETS.find((t) => targetId(t) === "freebsd_amd64")!;

  test.skipIf(!hostTarget)(
    "builds, checks, smoke-runs and packages them, with SHA256SUMS (needs a host pp has a release target for)",
    async () => {
      const outDir = join(work, "release");
      const targets: Target[] = [hostTarget!, freebsd];
      const { rows, sums } = await release({ version: "0.0.0-test", commit: "abc1234", outDir, targets, log: () => {} });
      expect(rows.map((r) => [r.target, r.ok])).toEqual([
        [targetId(hostTarget!), true],
        ["freebsd_amd64", true],
      ]);
      expect(rows[0]!.smoke).toBe("ok");
      expect(rows[0]!.format).toStartWith("ok: ELF x64 linux glibc");
      expect(rows[1]!.format).toBe("ok: ELF x64 freebsd");
      expect(rows[1]!.smoke).toContain("format only");
      expect(table(rows)).toContain("freebsd_amd64");

      const lines = sums.trim().split("\n");
      expect(lines.map((l) => l.split("  ")[1])).toEqual([archiveName("0.0.0-test", freebsd), archiveName("0.0.0-test", hostTarget!), "install.sh"].sort());
      for (const line of lines) {
        const [hash, name] = line.split("  ");
        expect(hash).toBe(new Bun.CryptoHasher("sha256").update(readFileSync(join(outDir, name!))).digest("hex"));
      }
      expect(readFileSync(join(outDir, "SHA256SUMS"), "utf8")).toBe(sums);
      expect(existsSync(join(outDir, ".stage"))).toBe(false);

      // The host archive unpacks to a binary that runs and reports the version it was built with.
      const unpack = join(work, "unpack");
      Bun.spawnSync(["mkdir", "-p", unpack]);
      const name = archiveName("0.0.0-test", hostTarget!);
      expect(Bun.spawnSync(["tar", "-xzf", join(outDir, name), "-C", unpack]).exitCode).toBe(0);
      const top = join(unpack, name.replace(".tar.gz", ""));
      const v = Bun.spawnSync([join(top, "pp"), "--version"], { stdout: "pipe" }).stdout.toString();
      expect(v).toStartWith("pp 0.0.0-test (abc1234, ");
      for (const f of ["README.md", "LICENSE", "examples/pp.toml", "completions/pp.bash", "completions/_pp", "completions/pp.fish", "completions/pp.ps1"]) {
        expect(existsSync(join(top, f))).toBe(true);
      }
    },
    180_000,
  );

  test("says which targets this machine can only format-check", () => {
    const darwin = TARGETS.find((t) => targetId(t) === "darwin_arm64")!;
    if (process.platform !== "darwin") expect(runnerFor(darwin)).toEqual({ skip: "format only" });
    const musl = TARGETS.find((t) => targetId(t) === "linux_amd64-musl")!;
    if (!existsSync("/etc/alpine-release")) expect("skip" in runnerFor(musl)).toBe(true);
  });
});
