/**
 * Identifies an executable from its headers, so a release can prove that each archive holds a binary for
 * the platform its name promises, including the ones this machine cannot run.
 *
 * ELF: https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html (e_ident, e_machine, PT_INTERP, PT_NOTE)
 * Mach-O: <mach-o/loader.h> (MH_MAGIC_64, cputype), PE: https://learn.microsoft.com/windows/win32/debug/pe-format
 */
import { open } from "node:fs/promises";

export type Os = "linux" | "freebsd" | "darwin" | "windows";
export type Arch = "x64" | "arm64";

export interface BinaryInfo {
  format: "elf" | "macho" | "pe";
  os: Os;
  arch: Arch;
  /** Linux only, from the program interpreter. */
  libc?: "glibc" | "musl";
  /** ELF only: the PT_INTERP path. */
  interpreter?: string;
}

type Reader = (offset: number, length: number) => Promise<Uint8Array>;

const EM: Record<number, Arch> = { 0x3e: "x64", 0xb7: "arm64" };
const MACHO_CPU: Record<number, Arch> = { 0x01000007: "x64", 0x0100000c: "arm64" };
const PE_MACHINE: Record<number, Arch> = { 0x8664: "x64", 0xaa64: "arm64" };

const ELFOSABI_SYSV = 0;
const ELFOSABI_LINUX = 3;
const ELFOSABI_FREEBSD = 9;
const PT_INTERP = 3;
const PT_NOTE = 4;

const ascii = (b: Uint8Array) => new TextDecoder("latin1").decode(b).replace(/\0+$/, "");

export class FormatError extends Error {}

async function elf(read: Reader, head: Uint8Array): Promise<BinaryInfo> {
  if (head[4] !== 2) throw new FormatError("ELF file is not 64-bit");
  if (head[5] !== 1) throw new FormatError("ELF file is not little-endian");
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const machine = dv.getUint16(18, true);
  const arch = EM[machine];
  if (!arch) throw new FormatError(`ELF e_machine 0x${machine.toString(16)} is neither x86-64 (0x3e) nor aarch64 (0xb7)`);
  const phoff = Number(dv.getBigUint64(32, true));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const ph = await read(phoff, phentsize * phnum);
  const pv = new DataView(ph.buffer, ph.byteOffset, ph.byteLength);
  let interpreter: string | undefined;
  const noteOwners = new Set<string>();
  for (let i = 0; i < phnum; i++) {
    const base = i * phentsize;
    const type = pv.getUint32(base, true);
    const offset = Number(pv.getBigUint64(base + 8, true));
    const size = Number(pv.getBigUint64(base + 32, true));
    if (type === PT_INTERP) interpreter = ascii(await read(offset, size));
    if (type === PT_NOTE && size < 1 << 16) for (const owner of noteNames(await read(offset, size))) noteOwners.add(owner);
  }
  const osabi = head[7];
  // FreeBSD's loader accepts a binary by EI_OSABI or by its "FreeBSD" ABI note; Bun's builds carry both,
  // so both are required here.
  if (osabi === ELFOSABI_FREEBSD || noteOwners.has("FreeBSD")) {
    if (osabi !== ELFOSABI_FREEBSD) throw new FormatError(`ELF has a FreeBSD note but EI_OSABI ${osabi}`);
    if (!noteOwners.has("FreeBSD")) throw new FormatError("ELF has EI_OSABI FreeBSD but no FreeBSD ABI note");
    return { format: "elf", os: "freebsd", arch, interpreter };
  }
  if (osabi !== ELFOSABI_SYSV && osabi !== ELFOSABI_LINUX) throw new FormatError(`ELF EI_OSABI ${osabi} is neither System V/Linux nor FreeBSD`);
  const libc = interpreter?.includes("ld-musl") ? "musl" : interpreter?.includes("ld-linux") ? "glibc" : undefined;
  if (!libc) throw new FormatError(`ELF program interpreter ${interpreter ?? "(none)"} is not a Linux glibc or musl loader`);
  return { format: "elf", os: "linux", arch, libc, interpreter };
}

/** Owner names of the notes in a PT_NOTE segment. */
function noteNames(seg: Uint8Array): string[] {
  const dv = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  const names: string[] = [];
  const pad = (n: number) => (n + 3) & ~3;
  for (let p = 0; p + 12 <= seg.length; ) {
    const namesz = dv.getUint32(p, true);
    const descsz = dv.getUint32(p + 4, true);
    names.push(ascii(seg.subarray(p + 12, p + 12 + namesz)));
    p += 12 + pad(namesz) + pad(descsz);
  }
  return names;
}

function macho(head: Uint8Array): BinaryInfo {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const cpu = dv.getUint32(4, true);
  const arch = MACHO_CPU[cpu];
  if (!arch) throw new FormatError(`Mach-O cputype 0x${cpu.toString(16)} is neither x86_64 nor arm64`);
  const filetype = dv.getUint32(12, true);
  if (filetype !== 2) throw new FormatError(`Mach-O filetype ${filetype} is not MH_EXECUTE`);
  return { format: "macho", os: "darwin", arch };
}

async function pe(read: Reader, head: Uint8Array): Promise<BinaryInfo> {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const at = dv.getUint32(0x3c, true);
  const h = await read(at, 26);
  if (ascii(h.subarray(0, 2)) !== "PE" || h[2] !== 0 || h[3] !== 0) throw new FormatError("MZ file without a PE signature");
  const hv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const machine = hv.getUint16(4, true);
  const arch = PE_MACHINE[machine];
  if (!arch) throw new FormatError(`PE machine 0x${machine.toString(16)} is neither AMD64 nor ARM64`);
  const magic = hv.getUint16(24, true);
  if (magic !== 0x20b) throw new FormatError(`PE optional header magic 0x${magic.toString(16)} is not PE32+`);
  return { format: "pe", os: "windows", arch };
}

/** Reads just the headers of an executable file and says what it is; throws FormatError when unknown. */
export async function inspectBinary(path: string): Promise<BinaryInfo> {
  const fh = await open(path, "r");
  try {
    const read: Reader = async (offset, length) => {
      const buf = new Uint8Array(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead < length) throw new FormatError(`${path}: truncated (wanted ${length} bytes at ${offset})`);
      return buf;
    };
    const head = await read(0, 64);
    if (head[0] === 0x7f && ascii(head.subarray(1, 4)) === "ELF") return await elf(read, head);
    if (new DataView(head.buffer).getUint32(0, true) === 0xfeedfacf) return macho(head);
    if (head[0] === 0x4d && head[1] === 0x5a) return await pe(read, head);
    throw new FormatError(`unknown executable format (first bytes ${Buffer.from(head.subarray(0, 4)).toString("hex")})`);
  } finally {
    await fh.close();
  }
}

/** "ELF x64 linux glibc", "Mach-O arm64", "PE32+ x64" */
export function describeBinary(info: BinaryInfo): string {
  const f = { elf: "ELF", macho: "Mach-O", pe: "PE32+" }[info.format];
  return [f, info.arch, info.format === "elf" ? info.os : "", info.libc ?? ""].filter(Boolean).join(" ");
}
