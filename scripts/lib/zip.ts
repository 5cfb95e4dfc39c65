/**
 * A small ZIP writer (deflate, no ZIP64) for the Windows archive, so a release needs only tar and gzip
 * from the build machine. Format: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT (4.3.7,
 * 4.3.12, 4.3.16). Entries stay well under the 4 GiB limit of the classic format.
 */
import { readFileSync } from "node:fs";
import { deflateRaw } from "node:zlib";
import { promisify } from "node:util";

const deflate = promisify(deflateRaw);

export interface ZipEntry {
  /** Path inside the archive, with `/` separators; a trailing `/` makes a directory. */
  name: string;
  data?: Uint8Array;
  /** Unix permission bits, kept so unzip on Unix restores them (e.g. 0o755). */
  mode?: number;
}

/** Fixed DOS date/time (1980-01-01 00:00) so the same input gives the same archive. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const VERSION_MADE_BY = (3 << 8) | 20; // Unix, spec 2.0
const LIMIT = 0xffffffff;

export async function zip(entries: ZipEntry[], level = 6): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const isDir = e.name.endsWith("/");
    const raw = isDir ? new Uint8Array(0) : (e.data ?? new Uint8Array(0));
    const packed = raw.length ? new Uint8Array(await deflate(raw, { level })) : new Uint8Array(0);
    const method = raw.length ? 8 : 0;
    const body = method ? packed : raw;
    const crc = Bun.hash.crc32(raw) >>> 0;
    if (raw.length >= LIMIT || body.length >= LIMIT || offset >= LIMIT) throw new Error(`${e.name}: too large for a classic ZIP archive`);

    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x0800, true); // names are UTF-8
    local.setUint16(8, method, true);
    local.setUint16(10, DOS_TIME, true);
    local.setUint16(12, DOS_DATE, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, body.length, true);
    local.setUint32(22, raw.length, true);
    local.setUint16(26, name.length, true);
    local.setUint16(28, 0, true);
    chunks.push(new Uint8Array(local.buffer), name, body);

    const mode = (isDir ? 0o040000 : 0o100000) | (e.mode ?? (isDir ? 0o755 : 0o644));
    const cd = new DataView(new ArrayBuffer(46));
    cd.setUint32(0, 0x02014b50, true);
    cd.setUint16(4, VERSION_MADE_BY, true);
    cd.setUint16(6, 20, true);
    cd.setUint16(8, 0x0800, true);
    cd.setUint16(10, method, true);
    cd.setUint16(12, DOS_TIME, true);
    cd.setUint16(14, DOS_DATE, true);
    cd.setUint32(16, crc, true);
    cd.setUint32(20, body.length, true);
    cd.setUint32(24, raw.length, true);
    cd.setUint16(28, name.length, true);
    cd.setUint32(38, ((mode << 16) | (isDir ? 0x10 : 0)) >>> 0, true);
    cd.setUint32(42, offset, true);
    central.push(new Uint8Array(cd.buffer), name);
    offset += 30 + name.length + body.length;
  }
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  const all = [...chunks, ...central, new Uint8Array(end.buffer)];
  const out = new Uint8Array(all.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of all) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** Names and Unix modes from a ZIP file's central directory. */
export function unzipList(path: string): { name: string; mode: number; size: number }[] {
  const buf = readFileSync(path);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = buf.length - 22;
  while (end >= 0 && dv.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error(`${path}: not a ZIP file (no end of central directory)`);
  const count = dv.getUint16(end + 10, true);
  let p = dv.getUint32(end + 16, true);
  const out: { name: string; mode: number; size: number }[] = [];
  for (let i = 0; i < count; i++) {
    if (dv.getUint32(p, true) !== 0x02014b50) throw new Error(`${path}: bad central directory entry ${i}`);
    const size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const mode = dv.getUint32(p + 38, true) >>> 16;
    out.push({ name: buf.subarray(p + 46, p + 46 + nameLen).toString("utf8"), mode, size });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
