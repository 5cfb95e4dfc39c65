/**
 * The service files in scripts/service/ and scripts/install-service.sh: the script is run into a staging root
 * (--root), the unit is checked key by key and by systemd-analyze, the rc.d script against a stand-in rc.subr.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseDuration } from "../src/channels/_common.ts";
import { parseConfig } from "../src/config/load.ts";
import { SERVE_DEFAULTS, serveSettings } from "../src/server/settings.ts";
import { tempDir } from "./helpers.ts";

const SCRIPTS = resolve(import.meta.dir, "../scripts");
const INSTALL = join(SCRIPTS, "install-service.sh");
const UNIT = join(SCRIPTS, "service", "pp.service");
const RCD = join(SCRIPTS, "service", "pp");
const PLIST = join(SCRIPTS, "service", "com.pp.serve.plist");
/** pp serve's default grace period for running deliveries ([serve] grace). */
const DEFAULT_GRACE_S = parseDuration(SERVE_DEFAULTS.grace) / 1000;

let work: string;
let fakeBin: string;

beforeAll(() => {
  work = tempDir("pp-service-test-");
  fakeBin = join(work, "pp-built");
  writeFileSync(fakeBin, `#!/bin/sh\necho "pp 9.9.9 (service test)"\n`, { mode: 0o755 });
});

function install(args: string[]) {
  const r = Bun.spawnSync(["sh", INSTALL, ...args], { cwd: work, env: { PATH: process.env.PATH! }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(4, "0");

/** Every file and directory under dir, relative, sorted. */
function tree(dir: string, rel = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(join(dir, rel), { withFileTypes: true })
    .flatMap((e) => {
      const p = rel ? `${rel}/${e.name}` : e.name;
      return e.isDirectory() ? [`${p}/`, ...tree(dir, p)] : [p];
    })
    .sort();
}

/** A systemd unit as section -> key -> every value assigned, in order (a key may be assigned several times). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = new Map();
      out.set(head[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq < 1) throw new Error(`not a unit line: ${raw}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

/** systemd's time span syntax as far as a unit here uses it: "30s", "1min 30s", "90". */
function seconds(span: string): number {
  const units: Record<string, number> = { "": 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const m = /^(\d+)([a-z]*)$/.exec(part);
    if (!m || !(m[2]! in units)) throw new Error(`cannot read time span ${span}`);
    total += Number(m[1]) * units[m[2]!]!;
  }
  return total;
}

type Plist = string | number | boolean | Plist[] | Map<string, Plist>;

/** The subset of Apple's XML property list format the plist uses: dict, array, string, integer, true, false. */
function parsePlist(xml: string): Plist {
  const tokens = [...xml.replace(/<!--[\s\S]*?-->/g, "").matchAll(/<(\/?)(\w+)[^>]*?(\/?)>([^<]*)/g)];
  let i = tokens.findIndex((t) => t[2] === "plist") + 1;
  const value = (): Plist => {
    const [, close, tag, selfClose, text] = tokens[i++]!;
    if (close) throw new Error(`unexpected </${tag}>`);
    if (tag === "true" && selfClose) return true;
    if (tag === "false" && selfClose) return false;
    if (tag === "string" || tag === "integer") {
      i++; // the closing tag
      return tag === "integer" ? Number(text) : text!;
    }
    if (tag === "array") {
      const items: Plist[] = [];
      while (tokens[i]![1] !== "/") items.push(value());
      i++;
      return items;
    }
    if (tag === "dict") {
      const d = new Map<string, Plist>();
      while (tokens[i]![1] !== "/") {
        const [, , k, , key] = tokens[i]!;
        if (k !== "key") throw new Error(`expected <key>, got <${k}>`);
        i += 2;
        d.set(key!, value());
      }
      i++;
      return d;
    }
    throw new Error(`unsupported plist element <${tag}>`);
  };
  return value();
}

describe("install-service.sh", () => {
  test("is valid POSIX sh and shellcheck-clean, as is the rc.d script", () => {
    for (const f of [INSTALL, RCD]) {
      expect(Bun.spawnSync(["sh", "-n", f]).exitCode).toBe(0);
      const r = Bun.spawnSync(["shellcheck", "-s", "sh", f], { stdout: "pipe" });
      expect(r.stdout.toString()).toBe("");
      expect(r.exitCode).toBe(0);
    }
  });

  const layouts = [
    { init: "systemd", service: "etc/systemd/system/pp.service", src: UNIT, serviceMode: "0644", etc: "etc/pp", state: undefined },
    { init: "rcd", service: "usr/local/etc/rc.d/pp", src: RCD, serviceMode: "0555", etc: "usr/local/etc/pp", state: "var/db/pp" },
    { init: "launchd", service: "Library/LaunchDaemons/com.pp.serve.plist", src: PLIST, serviceMode: "0644", etc: "usr/local/etc/pp", state: "usr/local/var/pp" },
  ];
  for (const l of layouts) {
    test(`--init ${l.init} --root installs the binary, the service file and a private config`, () => {
      const root = join(work, `root-${l.init}`);
      const r = install(["--binary", fakeBin, "--init", l.init, "--root", root]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);

      const bin = join(root, "usr/local/bin/pp");
      expect(readFileSync(bin, "utf8")).toBe(readFileSync(fakeBin, "utf8"));
      expect(mode(bin)).toBe("0755");
      expect(readFileSync(join(root, l.service), "utf8")).toBe(readFileSync(l.src, "utf8"));
      expect(mode(join(root, l.service))).toBe(l.serviceMode);

      // The config holds the API token and webhook secrets: nobody but root and the service's group reads it.
      const config = join(root, l.etc, "pp.toml");
      expect(mode(config)).toBe("0640");
      expect(mode(join(root, l.etc))).toBe("0750");
      const text = readFileSync(config, "utf8");
      expect(text).toContain("[serve]");
      expect(text).toContain(`listen = "127.0.0.1:39270"`);
      const token = /tokens = \["([0-9a-f]+)"\]/.exec(text)?.[1];
      expect(token).toHaveLength(48);
      if (l.state) expect(mode(join(root, l.state))).toBe("0750");
      // Temporary files of the atomic copies are gone; nothing but the layout was written.
      expect(tree(root).filter((p) => p.includes(".new."))).toEqual([]);

      // It says what it did (never the token) and what to do next.
      expect(r.out).toContain("pp 9.9.9 (service test)");
      expect(r.out).toContain(join(root, l.service));
      expect(r.out).toContain(config);
      expect(r.out).toContain("next:");
      expect(r.out).not.toContain(token!);
    });
  }

  test("the starter config is one pp serve accepts: loopback, with the generated token", () => {
    const root = join(work, "root-starter");
    expect(install(["--binary", fakeBin, "--init", "systemd", "--root", root]).code).toBe(0);
    const file = join(root, "etc/pp/pp.toml");
    const text = readFileSync(file, "utf8");
    const settings = serveSettings(parseConfig(text, file), {}, {});
    expect(settings.listen).toBe("127.0.0.1:39270");
    expect(settings.tokens).toEqual([/tokens = \["([0-9a-f]+)"\]/.exec(text)![1]!]);
    // Every run makes its own token.
    const again = join(work, "root-starter-2");
    expect(install(["--binary", fakeBin, "--init", "systemd", "--root", again]).code).toBe(0);
    expect(readFileSync(join(again, "etc/pp/pp.toml"), "utf8")).not.toBe(text);
  });

  test("never overwrites an existing config, and a second run changes nothing else", () => {
    const root = join(work, "root-again");
    expect(install(["--binary", fakeBin, "--init", "systemd", "--root", root]).code).toBe(0);
    const config = join(root, "etc/pp/pp.toml");
    writeFileSync(config, "# mine\n[serve]\nlisten = \"127.0.0.1:1\"\n");
    const before = tree(root);
    const again = install(["--binary", fakeBin, "--init", "systemd", "--root", root]);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`kept ${config}`);
    expect(readFileSync(config, "utf8")).toBe("# mine\n[serve]\nlisten = \"127.0.0.1:1\"\n");
    expect(tree(root)).toEqual(before);
  });

  test("--dry-run prints the steps and writes nothing", () => {
    const root = join(work, "root-dry");
    for (const init of ["systemd", "rcd", "launchd"]) {
      const r = install(["--binary", fakeBin, "--init", init, "--root", root, "--dry-run"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("would: install");
      expect(r.out).toContain("pp.toml");
      expect(tree(root)).toEqual([]);
    }
  });

  test("without --root, a dry run plans the user and the system paths", () => {
    const r = install(["--binary", fakeBin, "--init", "systemd", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("would: install " + fakeBin + " as /usr/local/bin/pp (mode 0755)");
    expect(r.out).toContain("/etc/systemd/system/pp.service");
    // The user exists on a machine that has it, or its creation is planned.
    expect(r.out).toMatch(/would: useradd --system .* pp\n|would: addgroup -S pp\n|user pp exists/);
    expect(r.out).toMatch(/would: chown root:\S+ \/etc\/pp \/etc\/pp\/pp.toml/);
  });

  test("refuses bad arguments with one line on stderr", () => {
    const cases: [string[], RegExp][] = [
      [["--bogus"], /unknown option --bogus/],
      [["--binary", join(work, "missing"), "--root", work], /is not an executable file/],
      [["--binary", fakeBin, "--init", "upstart", "--root", work], /unknown --init 'upstart'/],
      [["--binary", fakeBin, "--user", "a b", "--root", work], /--user must be a plain user name/],
      [["--binary"], /--binary needs a value/],
    ];
    for (const [args, msg] of cases) {
      const r = install(args);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(msg);
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    }
  });
});

describe("pp.service", () => {
  const unit = parseUnit(readFileSync(UNIT, "utf8"));
  const svc = unit.get("Service")!;
  const one = (k: string) => {
    const v = svc.get(k);
    expect(v, k).toBeDefined();
    return v!.at(-1)!;
  };

  test("runs pp serve as the dedicated user with its state in /var/lib/pp", () => {
    expect(one("ExecStart")).toBe("/usr/local/bin/pp serve --config /etc/pp/pp.toml");
    expect(one("User")).toBe("pp");
    expect(one("StateDirectory")).toBe("pp");
    expect(svc.get("Environment")).toContain("PP_DB=/var/lib/pp/pp.db");
    expect(one("Restart")).toBe("on-failure");
    expect(unit.get("Install")?.get("WantedBy")).toEqual(["multi-user.target"]);
  });

  test("stops with SIGTERM, waits longer than the grace period, reloads with SIGHUP", () => {
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(seconds(one("TimeoutStopSec"))).toBeGreaterThan(DEFAULT_GRACE_S);
    expect(one("ExecReload")).toMatch(/^\/bin\/kill -HUP \$MAINPID$/);
  });

  test("is hardened", () => {
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectHome")).toBe("yes");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("CapabilityBoundingSet")).toBe("");
    expect(one("RestrictAddressFamilies").split(/\s+/).sort()).toEqual(["AF_INET", "AF_INET6", "AF_UNIX"]);
    expect(svc.get("SystemCallFilter")).toContain("@system-service");
    // The JIT needs writable, executable memory: this setting would kill pp at start.
    expect(svc.has("MemoryDenyWriteExecute")).toBe(false);
  });

  describe("systemd-analyze", () => {
    // verify insists that ExecStart's program exists: point it at the staged binary.
    let staged: string;
    beforeAll(() => {
      const root = join(work, "root-analyze");
      expect(install(["--binary", fakeBin, "--init", "systemd", "--root", root]).code).toBe(0);
      const dir = join(work, "analyze");
      mkdirSync(dir, { recursive: true });
      staged = join(dir, "pp.service");
      const text = readFileSync(join(root, "etc/systemd/system/pp.service"), "utf8");
      writeFileSync(staged, text.replace("ExecStart=/usr/local/bin/pp ", `ExecStart=${join(root, "usr/local/bin/pp")} `));
    });

    test("verify finds no error and no unknown key (needs systemd-analyze: apt-get install systemd)", () => {
      const r = Bun.spawnSync(["systemd-analyze", "verify", staged], { stdout: "pipe", stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
      expect(r.exitCode).toBe(0);
    });

    test("security rates the unit's exposure OK (at most 2.0 of 10)", () => {
      const r = Bun.spawnSync(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", staged], { stdout: "pipe", stderr: "pipe" });
      const level = /Overall exposure level for pp\.service: ([\d.]+)/.exec(r.stdout.toString())?.[1];
      expect(Number(level)).toBeLessThanOrEqual(2);
      expect(r.exitCode).toBe(0);
    });
  });
});

describe("rc.d script", () => {
  /** Runs the script with a stand-in rc.subr that prints what the real one would act on. */
  function rc(env: Record<string, string>): Map<string, string> {
    const dir = join(work, "rcd");
    mkdirSync(dir, { recursive: true });
    const subr = join(dir, "rc.subr");
    writeFileSync(
      subr,
      [
        "load_rc_config() { :; }",
        'run_rc_command() { for v in name rcvar command command_args pidfile child_pidfile required_files extra_commands reload_cmd start_precmd; do eval "printf \'%s=%s\\n\' $v \\"\\$$v\\""; done; }',
        "",
      ].join("\n"),
    );
    const script = join(dir, "pp");
    writeFileSync(script, readFileSync(RCD, "utf8").replace(". /etc/rc.subr", `. ${subr}`));
    const r = Bun.spawnSync(["sh", script, "start"], { env: { PATH: process.env.PATH!, ...env }, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    return new Map(r.stdout.toString().trimEnd().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]));
  }

  test("runs pp serve under daemon(8) as pp_user with pp_config, and reloads through its own handler", () => {
    const v = rc({});
    expect(v.get("name")).toBe("pp");
    expect(v.get("rcvar")).toBe("pp_enable");
    expect(v.get("command")).toBe("/usr/sbin/daemon");
    expect(v.get("command_args")).toContain("-u pp /usr/local/bin/pp serve --config /usr/local/etc/pp/pp.toml");
    expect(v.get("command_args")).toContain(`-P ${v.get("pidfile")}`);
    expect(v.get("command_args")).toContain(`-p ${v.get("child_pidfile")}`);
    expect(v.get("required_files")).toBe("/usr/local/etc/pp/pp.toml");
    expect(v.get("extra_commands")).toBe("reload");
    expect(v.get("reload_cmd")).toBe("pp_reload");
  });

  test("takes pp_config, pp_user and pp_flags from rc.conf", () => {
    const v = rc({ pp_config: "/etc/pp.toml", pp_user: "notify", pp_flags: "--log-level debug" });
    expect(v.get("command_args")).toContain("-u notify /usr/local/bin/pp serve --config /etc/pp.toml --log-level debug");
    expect(v.get("required_files")).toBe("/etc/pp.toml");
  });

  test("pp_reload sends SIGHUP to pp itself, not to daemon(8)", async () => {
    const dir = join(work, "rcd-reload");
    mkdirSync(dir, { recursive: true });
    const pidfile = join(dir, "child.pid");
    const hupped = join(dir, "hupped");
    // A stand-in for pp that records a SIGHUP and keeps running.
    const child = Bun.spawn(["sh", "-c", `trap 'echo hup > ${hupped}' HUP; echo ready; while :; do sleep 0.05; done`], { stdout: "pipe" });
    await child.stdout.getReader().read();
    writeFileSync(pidfile, `${child.pid}\n`);
    const script = readFileSync(RCD, "utf8")
      .replace(". /etc/rc.subr", "load_rc_config() { :; }")
      .replace(/child_pidfile="[^"]*"/, `child_pidfile="${pidfile}"`)
      .replace('run_rc_command "$1"', "pp_reload");
    const r = Bun.spawnSync(["sh", "-c", script], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    for (let i = 0; i < 100 && !existsSync(hupped); i++) await Bun.sleep(20);
    child.kill("SIGKILL");
    expect(readFileSync(hupped, "utf8")).toBe("hup\n");
  });
});

describe("launchd plist", () => {
  test("names com.pp.serve and runs pp serve as pp with its store and a stop timeout past the grace period", () => {
    const p = parsePlist(readFileSync(PLIST, "utf8")) as Map<string, Plist>;
    expect(p.get("Label")).toBe("com.pp.serve");
    expect(p.get("ProgramArguments")).toEqual(["/usr/local/bin/pp", "serve", "--config", "/usr/local/etc/pp/pp.toml"]);
    expect(p.get("UserName")).toBe("pp");
    expect((p.get("EnvironmentVariables") as Map<string, Plist>).get("PP_DB")).toBe("/usr/local/var/pp/pp.db");
    expect(p.get("RunAtLoad")).toBe(true);
    expect((p.get("KeepAlive") as Map<string, Plist>).get("SuccessfulExit")).toBe(false);
    expect(p.get("ExitTimeOut") as number).toBeGreaterThan(DEFAULT_GRACE_S);
  });
});
