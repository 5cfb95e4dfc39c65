import type { Server } from "bun";
import { loadConfig, type Config } from "../config/load.ts";
import { PpError } from "../core/errors.ts";
import { newId } from "../core/id.ts";
import { secretsOf } from "../core/redact.ts";
import { storeError } from "../store/errors.ts";
import type { AppContext, ServeSettings } from "./context.ts";
import { createLogger, parseLogFormat, parseLogLevel, type Logger } from "./log.ts";
import { parseListen, serveSettings, type Listen, type ServeFlags } from "./settings.ts";

/** node:fs only for what Bun has no call for (stat modes, chmod, chown, unlink). */
const fs = () => require("node:fs") as typeof import("node:fs");

export interface ServeOptions extends ServeFlags {
  config?: string;
  logLevel?: string;
  logFormat?: string;
}

/** Exit status 128 + signal number, for a second signal that cuts the drain short. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs the daemon until SIGTERM or SIGINT, then drains: no new connections, 503 for requests on open ones,
 * requests in flight finish, running deliveries get the grace period, the store is closed. Resolves with the
 * exit status. Start-up problems throw a PpError (2: config or address, 3: the store).
 */
export async function serve(o: ServeOptions): Promise<number> {
  const env = process.env;
  const level = o.logLevel !== undefined ? parseLogLevel(o.logLevel, "--log-level") : env.PP_LOG_LEVEL ? parseLogLevel(env.PP_LOG_LEVEL, "PP_LOG_LEVEL") : "info";
  const format = o.logFormat !== undefined ? parseLogFormat(o.logFormat, "--log-format") : env.PP_LOG_FORMAT ? parseLogFormat(env.PP_LOG_FORMAT, "PP_LOG_FORMAT") : "text";
  const log = createLogger({ level, format });
  const flags: ServeFlags = { listen: o.listen, token: o.token };

  const config0 = loadConfig(o.config);
  let state = { config: config0, settings: serveSettings(config0, flags), secrets: [] as string[] };
  state.secrets = secretsIn(state.config, state.settings);
  log.secrets(state.secrets);
  warnReadable(state.config, state.secrets, log);
  if (state.config.channels.size === 0) log.warn(`pp serve: ${state.config.file} configures no channels; API messages will be refused until one is added (then send SIGHUP)`);

  const listen = parseListen(state.settings.listen);
  const target = privilegeTarget(state.settings.user);
  if (listen.kind === "unix") await clearStaleSocket(listen.path);

  // Bound first, answering 503 until the store is open: the store is opened after the privilege drop, so that
  // its files belong to the user the daemon runs as.
  let handler: (req: Request, ip?: string) => Response | Promise<Response> = () => unavailable("starting");
  let draining = false;
  const server = bind(listen, state.settings, (req, srv) => handler(req, srv.requestIP(req)?.address ?? undefined), log);
  const where = listen.kind === "unix" ? `unix:${listen.path}` : `http://${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${server.port}`;

  if (target) {
    try {
      if (listen.kind === "unix") fs().chownSync(listen.path, target.uid, target.gid);
      dropPrivileges(target);
    } catch (e) {
      server.stop(true);
      throw e instanceof PpError ? e : new PpError("config", `cannot switch to user "${target.name}": ${(e as Error).message}; check the user, or set user = "root" in [serve] to keep running as root`);
    }
  }

  const { openQueueStore } = await import("../store/queue.ts");
  let store: Awaited<ReturnType<typeof openQueueStore>>;
  try {
    store = openQueueStore(state.config.dbPath);
  } catch (e) {
    server.stop(true);
    throw storeError(e, state.config.dbPath, "open");
  }
  const [{ Workers }, { createApp }, { createMetrics }] = await Promise.all([import("./workers.ts"), import("./app.ts"), import("./metrics.ts")]);
  const events = createMetrics();
  const workers = new Workers({
    queue: store.queue,
    limiter: store.limiter,
    tokens: store.tokens,
    config: () => state.config,
    settings: () => state.settings,
    events,
    secrets: () => state.secrets,
    onError: (e) => log.error(`pp serve: delivery workers: ${e instanceof Error ? e.message : String(e)}`),
  });

  let reloading: Promise<{ ok: true } | { ok: false; error: string }> | undefined;
  const reloadOnce = async (): Promise<{ ok: true } | { ok: false; error: string }> => {
    const file = state.config.file!;
    try {
      const config = loadConfig(file);
      const settings = serveSettings(config, flags);
      if (settings.listen !== state.settings.listen) {
        log.warn(`pp serve: the listen address changed to ${settings.listen}; it takes effect at the next start, ${state.settings.listen} stays in use`);
        settings.listen = state.settings.listen;
      }
      if (config.dbPath !== state.config.dbPath) log.warn(`pp serve: the push log moved to ${config.dbPath}; the daemon keeps ${state.config.dbPath} until it is restarted`);
      if (settings.maxBodyBytes > bunBodyLimit(state.settings)) log.warn(`pp serve: max_body grew beyond what the listener was started with; restart pp serve for bodies that large`);
      const secrets = secretsIn(config, settings);
      state = { config, settings, secrets };
      log.secrets(secrets);
      warnReadable(config, secrets, log);
      workers.wake();
      log.info(`pp serve: reloaded ${file}: ${config.channels.size} channel${config.channels.size === 1 ? "" : "s"}, ${config.groups.size} group${config.groups.size === 1 ? "" : "s"}`);
      return { ok: true };
    } catch (e) {
      let error = e instanceof PpError ? e.message : `cannot reload: ${(e as Error).message}`;
      // Read as root at the start, the file may be closed to the user the daemon became.
      if (target && /permission denied/.test(error)) error += ` (pp serve runs as user "${target.name}" since it started: chgrp ${target.group} ${file} && chmod 640 ${file})`;
      log.error(`pp serve: config not reloaded, the previous one stays in force: ${error}`);
      return { ok: false, error };
    }
  };

  const ctx: AppContext = {
    config: () => state.config,
    settings: () => state.settings,
    inbox: store.queue,
    events,
    wake: () => workers.wake(),
    // Reloads one at a time: a SIGHUP during a POST /-/reload waits for it, then reads the file again.
    reload: () => {
      const next = (reloading ?? Promise.resolve()).then(reloadOnce);
      reloading = next;
      return next;
    },
    draining: () => draining,
    logRequest: (line) => log.request(line),
  };
  const app = createApp(ctx);
  // The app answers 503 itself while draining, in its own shape and with its log line.
  handler = app;
  workers.start();

  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const onStop = (sig: NodeJS.Signals) => {
      if (draining) {
        // What is in flight stays pending; its lease runs out and the next start sends it again.
        log.warn(`pp serve: second ${sig}: exiting now; deliveries in flight are taken up again at the next start`);
        process.exit(SIGNAL_EXIT[sig] ?? 1);
      }
      draining = true;
      resolve(sig);
    };
    process.on("SIGTERM", onStop);
    process.on("SIGINT", onStop);
  });
  if (process.platform !== "win32") process.on("SIGHUP", () => void ctx.reload());

  log.notice(`pp serve: listening on ${where}`, { pid: process.pid, store: state.config.dbPath });
  // The binary starts with the JIT held back for short commands (scripts/build.ts); a daemon wants all of it.
  Bun.unsafe.setJITPolicy(1);

  const sig = await stopped;
  const grace = state.settings.graceMs;
  log.info(`pp serve: ${sig}: stopping; finishing requests in flight, then deliveries (grace ${grace / 1000}s)`);
  // Both at once: the workers take nothing new from now on, while requests in flight are answered (what they
  // queue stays queued for the next start). Bun's stop() refuses new connections at once and resolves when
  // requests in flight have been answered.
  const delivering = workers.stop(grace);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cutOff = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(grace, 1000))));
  const answered = await Promise.race([server.stop(false).then(() => true), cutOff]);
  // A pending timer would keep the stopped daemon alive until it fires.
  clearTimeout(timer);
  if (!answered) {
    log.warn("pp serve: requests still open after the grace period were cut off");
    await server.stop(true);
  }
  await delivering;
  let left = 0;
  try {
    left = store.queue.depth();
  } catch {}
  store.close();
  log.info(`pp serve: stopped${left ? `; ${left} deliver${left === 1 ? "y stays" : "ies stay"} queued for the next start` : ""}`);
  return 0;
}

function unavailable(reason: string): Response {
  return Response.json({ code: "unavailable", msg: `pp is ${reason}; try again shortly`, id: newId() }, { status: 503, headers: { "Retry-After": "1" } });
}

function secretsIn(config: Config, settings: ServeSettings): string[] {
  return [...secretsOf(config.channels.values()), ...settings.tokens];
}

/** Bun's own cap on request bodies, above the app's max_body, so the app answers 413 in its own words. */
function bunBodyLimit(s: ServeSettings): number {
  return s.maxBodyBytes * 2 + 64 * 1024;
}

function bind(listen: Listen, settings: ServeSettings, fetch: (req: Request, server: Server<undefined>) => Response | Promise<Response>, log: Logger): Server<undefined> {
  const common = {
    fetch,
    development: false,
    maxRequestBodySize: bunBodyLimit(settings),
    error(e: Error) {
      const id = newId();
      log.error(`pp serve: unexpected error: ${e.message}`, { request_id: id });
      return Response.json({ code: "internal", msg: `internal error; the server log has the details under request ${id}`, id }, { status: 500 });
    },
  };
  const shown = listen.kind === "unix" ? `unix:${listen.path}` : listen.host.includes(":") ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
  try {
    if (listen.kind === "unix") {
      // Mode 0660 from the start: with chmod after bind, another user could connect in between.
      const old = process.umask(0o117);
      try {
        const server = Bun.serve({ ...common, unix: listen.path });
        fs().chmodSync(listen.path, 0o660);
        return server;
      } finally {
        process.umask(old);
      }
    }
    // A request that needs more than this is stuck; the client gets a closed connection.
    return Bun.serve({ ...common, hostname: listen.host, port: listen.port, idleTimeout: 60 });
  } catch (e) {
    const code = String((e as { code?: string }).code ?? "");
    const why =
      code === "EADDRINUSE"
        ? "the address is in use (is another pp serve running?); stop that process or choose another address with --listen"
        : code === "EACCES" || code === "EPERM"
          ? listen.kind === "unix"
            ? "permission denied; make its directory writable by this user"
            : "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); choose a port above 1023"
          : code === "EADDRNOTAVAIL"
            ? "no network interface has that address; use 127.0.0.1, 0.0.0.0 or one of this machine's addresses"
            : code === "ENOENT"
              ? "its directory does not exist; create it (systemd: RuntimeDirectory=pp)"
              : (e as Error).message;
    throw new PpError("config", `cannot listen on ${shown}: ${why}`);
  }
}

/**
 * A socket file left by a daemon that did not stop cleanly (kill -9, power loss) would make the bind fail; one
 * that a running process still answers on must be left alone.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let st: import("node:fs").Stats;
  try {
    st = fs().lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new PpError("config", `cannot listen on unix:${path}: a file that is not a socket is in the way; remove it or choose another path`);
  const alive = await new Promise<boolean>((resolve) => {
    Bun.connect({ unix: path, socket: { open: (s) => (s.end(), resolve(true)), data() {}, error: () => resolve(false), connectError: () => resolve(false) } }).catch(() => resolve(false));
  });
  if (alive) throw new PpError("config", `cannot listen on unix:${path}: another process is listening there (another pp serve?); stop it or choose another path`);
  fs().unlinkSync(path);
}

/** The user to switch to after binding: only when started as root on Unix, and not when user = "root". */
function privilegeTarget(user: string): { name: string; uid: number; gid: number; group: string } | null {
  if (process.platform === "win32" || process.getuid?.() !== 0 || user === "root" || user === "0") return null;
  // id(1) asks the system's user database (NSS, LDAP, directory services), which no file read could.
  const id = (flag: string) => {
    try {
      const r = Bun.spawnSync(["id", flag, user], { stdout: "pipe", stderr: "pipe" });
      return r.exitCode === 0 ? r.stdout.toString().trim() : undefined;
    } catch {
      return undefined;
    }
  };
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  const uid = num(id("-u"));
  const gid = num(id("-g"));
  if (uid === undefined || gid === undefined) {
    throw new PpError(
      "config",
      `pp serve was started as root and drops to user "${user}" after binding, but that user does not exist; create it (for example useradd --system --no-create-home ${user}), name another with user = "..." in [serve], or set user = "root" there to keep running as root`,
    );
  }
  return { name: user, uid, gid, group: id("-gn") || String(gid) };
}

function dropPrivileges(t: { name: string; uid: number; gid: number }): void {
  // Group first: once the uid is not root, the gid can no longer be changed.
  const initgroups = (process as { initgroups?: (user: string, gid: number) => void }).initgroups;
  if (typeof initgroups === "function") initgroups(t.name, t.gid);
  else process.setgroups?.([t.gid]);
  process.setgid!(t.gid);
  process.setuid!(t.uid);
  if (process.getuid!() !== t.uid || process.getgid!() !== t.gid) throw new PpError("config", `cannot switch to user "${t.name}": the system refused`);
}

/** A config that anyone on the machine can read gives away the webhook keys and tokens written in it. */
function warnReadable(config: Config, secrets: string[], log: Logger): void {
  if (process.platform === "win32" || !config.file) return;
  try {
    const { statSync, readFileSync } = fs();
    if ((statSync(config.file).mode & 0o004) === 0) return;
    const text = readFileSync(config.file, "utf8");
    // Secrets that come from ${VAR} are not in the file.
    if (!secrets.some((s) => s.length >= 4 && text.includes(s))) return;
    log.warn(`pp serve: ${config.file} holds secrets and every user on this machine can read it; chmod 600 ${config.file} (or 640 with the daemon's group), or move the secrets to the environment with \${VAR}`);
  } catch {
    // Unreadable now: nothing to warn about.
  }
}
