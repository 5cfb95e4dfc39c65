/**
 * Local times from the zone file (src/core/localtime.ts) instead of Date's local getters, whose first use costs a
 * short pp process about 8 ms: they must agree with Date, daylight saving time included, and Date must not be
 * asked when the zone file can be read.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseRule, parseTzif } from "../../src/core/localtime.ts";
import { tempDir } from "../helpers.ts";

const ROOT = join(import.meta.dir, "../..");
const H = 3600;

/** A TZif version 2 file: transitions (unix seconds) each to an offset, and the footer rule. */
function tzif(transitions: [number, number][], initial: number, footer: string): Uint8Array {
  const offsets = [initial, ...new Set(transitions.map(([, o]) => o).filter((o) => o !== initial))];
  const header = (v: string, time: number) => {
    const b = new Uint8Array(44);
    b.set([...Buffer.from("TZif"), v.charCodeAt(0)]);
    const d = new DataView(b.buffer);
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    [0, 0, 0, time, offsets.length, 4].forEach((n, i) => d.setUint32(20 + i * 4, n));
    return b;
  };
  const types = () => {
    const b = new Uint8Array(offsets.length * 6);
    offsets.forEach((o, i) => new DataView(b.buffer).setInt32(i * 6, o));
    return b;
  };
  const v1 = [header("2", 0), types(), new Uint8Array(4)];
  const times = new Uint8Array(transitions.length * 8);
  transitions.forEach(([t], i) => new DataView(times.buffer).setBigInt64(i * 8, BigInt(t)));
  const idx = Uint8Array.from(transitions.map(([, o]) => offsets.indexOf(o)));
  const v2 = [header("2", transitions.length), times, idx, types(), new Uint8Array(4)];
  return Buffer.concat([...v1, ...v2, Buffer.from(`\n${footer}\n`)]);
}

describe("POSIX TZ rules", () => {
  test.each([
    ["CET-1CEST,M3.5.0,M10.5.0/3", { std: H, dst: 2 * H }],
    ["EST5EDT,M3.2.0,M11.1.0", { std: -5 * H, dst: -4 * H }],
    ["IST-1GMT0,M10.5.0,M3.5.0/1", { std: H, dst: 0 }],
    ["<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", { std: 10.5 * H, dst: 11 * H }],
    ["<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", { std: -3 * H, dst: -2 * H }],
  ])("%s", (rule, want) => {
    expect(parseRule(rule)).toMatchObject(want);
  });

  test("a fixed offset, and what is not a rule", () => {
    expect(parseRule("<+0530>-5:30")).toBe(5.5 * H);
    expect(parseRule("UTC0")).toBe(0);
    for (const bad of ["", "CET-1CEST", "X1", "CET-1CEST,M3.5.0", "CET-1CEST,M3.5.0,M10.5.0/3junk"]) expect(parseRule(bad)).toBeNull();
  });
});

describe("TZif files", () => {
  test("transitions, then the footer's rule", async () => {
    const dir = tempDir();
    // 2030-03-10 07:00 UTC is 02:00 EST, when the US rule starts summer time; 2030-11-03 06:00 UTC ends it.
    const file = join(dir, "zone");
    writeFileSync(file, tzif([[0, -5 * H], [Date.UTC(2000, 3, 2, 7) / 1000, -4 * H], [Date.UTC(2000, 9, 29, 6) / 1000, -5 * H]], -5 * H, "EST5EDT,M3.2.0,M11.1.0"));
    const script = join(dir, "probe.ts");
    writeFileSync(script, `import { localOffset } from ${JSON.stringify(join(ROOT, "src/core/localtime.ts"))};
console.log(JSON.stringify(process.argv.slice(2).map((iso) => localOffset(Date.parse(iso)))));`);
    const instants = ["1969-06-01T00:00:00Z", "2000-06-01T00:00:00Z", "2000-12-01T00:00:00Z", "2030-03-10T06:59:59Z", "2030-03-10T07:00:00Z", "2030-11-03T05:59:59Z", "2030-11-03T06:00:00Z", "2031-01-01T00:00:00Z"];
    const r = Bun.spawnSync(["bun", script, ...instants], { env: { PATH: process.env.PATH ?? "", TZ: file } });
    expect(JSON.parse(r.stdout.toString())).toEqual([-5, -4, -5, -5, -4, -4, -5, -5].map((h) => h * H));
  });

  test("leap-second zones and other files are left to Date", () => {
    expect(parseTzif(new TextEncoder().encode("not a zone file at all, really"))).toBeNull();
    const leap = tzif([], 0, "UTC0");
    // leapcnt of the version 2 header.
    new DataView(leap.buffer, leap.byteOffset).setUint32(44 + 6 + 4 + 28, 1);
    expect(parseTzif(leap)).toBeNull();
  });
});

/** Runs `code` with TZ set, printing JSON; `localTime` and a counter of Date's local getters are in scope. */
function withZone(tz: string, code: string): any {
  const dir = tempDir();
  const script = join(dir, "probe.ts");
  writeFileSync(script, `const calls = { n: 0 };
for (const m of ["getFullYear", "getMonth", "getDate", "getHours", "getMinutes", "getSeconds", "getTimezoneOffset"] as const) {
  const f = Date.prototype[m];
  Date.prototype[m] = function (this: Date) { calls.n++; return f.call(this); } as never;
}
const { localTime } = await import(${JSON.stringify(join(ROOT, "src/cli/out.ts"))});
const viaDate = (ms: number) => { const d = new Date(ms); const p = (n: number) => String(n).padStart(2, "0");
  return \`\${d.getFullYear()}-\${p(d.getMonth() + 1)}-\${p(d.getDate())} \${p(d.getHours())}:\${p(d.getMinutes())}:\${p(d.getSeconds())}\`; };
${code}`);
  const r = Bun.spawnSync(["bun", script], { env: { PATH: process.env.PATH ?? "", TZ: tz } });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return JSON.parse(r.stdout.toString());
}

describe("localTime", () => {
  const ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Europe/Dublin", "Pacific/Chatham", "Asia/Kolkata", "America/Sao_Paulo", "Africa/Casablanca"];
  test.each(ZONES)("agrees with Date in %s from 2000 to 2040, at and either side of every change of offset, without asking Date", (zone) => {
    expect(Bun.file(`/usr/share/zoneinfo/${zone}`).size).toBeGreaterThan(0);
    const r = withZone(zone, `
const instants: number[] = [];
for (let ms = Date.UTC(2000, 0, 1); ms < Date.UTC(2040, 0, 1); ms += 3_600_000 * 5 + 60_001) instants.push(ms);
const ours = instants.map((ms) => localTime(ms));
const asked = calls.n;
// Then each change of offset, found to the second through Date, and the seconds either side of it.
const off = (ms: number) => new Date(ms).getTimezoneOffset();
const edges: number[] = [];
for (let i = 1; i < instants.length; i++) {
  let lo = instants[i - 1]!, hi = instants[i]!;
  if (off(lo) === off(hi)) continue;
  while (hi - lo > 1000) { const mid = lo + Math.floor((hi - lo) / 2000) * 1000; if (off(mid) === off(lo)) lo = mid; else hi = mid; }
  edges.push(lo, hi);
}
const all = [...instants, ...edges];
const theirs = [...ours, ...edges.map((ms) => localTime(ms))];
const bad = all.filter((ms, i) => theirs[i] !== viaDate(ms)).slice(0, 5).map((ms) => new Date(ms).toISOString());
console.log(JSON.stringify({ asked, bad, edges: edges.length }));`);
    expect(r).toEqual({ asked: 0, bad: [], edges: expect.any(Number) });
    if (!["Asia/Kolkata"].includes(zone)) expect(r.edges).toBeGreaterThan(10);
  });

  test("a process that changes TZ gets the new zone, as from Date", () => {
    const r = withZone("Europe/Berlin", `
const t = Date.UTC(2030, 6, 1, 12);
const berlin = localTime(t);
process.env.TZ = "America/New_York";
const newYork = localTime(t);
console.log(JSON.stringify({ berlin, newYork, same: newYork === viaDate(t) }));`);
    expect(r).toEqual({ berlin: "2030-07-01 14:00:00", newYork: "2030-07-01 08:00:00", same: true });
  });

  test("a TZ that is a rule, not a zone file, is left to Date, which says the same", () => {
    const r = withZone("CET-1CEST,M3.5.0,M10.5.0/3", `
const t = Date.UTC(2030, 6, 1, 12);
const ours = localTime(t);
console.log(JSON.stringify({ asked: calls.n > 0, same: ours === viaDate(t) }));`);
    expect(r).toEqual({ asked: true, same: true });
  });
});
