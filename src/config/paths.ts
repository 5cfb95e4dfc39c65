const env = process.env;

/**
 * node:path and node:os cost every pp process about 0.3 ms each when imported; the paths pp builds are already
 * normal in the common case, so these load them only when they are needed to say what the path is.
 */
const nodePath = () => require("node:path") as typeof import("node:path");
const homedir = () => (require("node:os") as typeof import("node:os")).homedir();
/** The home directory: $HOME first on Unix, as a shell and os.homedir() take it, so node:os loads only without it. */
const home = () => (process.platform !== "win32" && env.HOME) || homedir();

/**
 * Whether a path has no segment "." or "..", and no empty one: the parts path.join and path.resolve would change.
 * A loop, not a regular expression: compiling one costs each pp process more than the loop.
 */
function isNormal(path: string): boolean {
  if (path.includes("//")) return false;
  for (let i = path.indexOf("."); i !== -1; i = path.indexOf(".", i + 1)) {
    if (i > 0 && path[i - 1] !== "/") continue;
    const after = path[i + 1] === "." ? i + 2 : i + 1;
    if (after === path.length || path[after] === "/") return false;
  }
  return true;
}

/** path.join, for parts that are all non-empty and join into a normal path, without node:path. */
export function join(...parts: string[]): string {
  const joined = parts.join("/");
  if (process.platform !== "win32" && parts.every((p) => p !== "") && isNormal(joined)) return joined;
  return nodePath().join(...parts);
}

/** path.resolve(path), without node:path for an absolute or cwd-relative path that is already normal. */
export function absolute(path: string): string {
  if (process.platform !== "win32" && path !== "") {
    const full = path.startsWith("/") ? path : `${process.cwd()}/${path}`;
    if (isNormal(full) && !(full.length > 1 && full.endsWith("/"))) return full;
  }
  return nodePath().resolve(path);
}

/** Per-user config file: XDG on Unix (macOS included, as most CLI tools do), %APPDATA% on Windows. */
export function userConfigFile(): string {
  if (process.platform === "win32") return join(env.APPDATA ?? join(homedir(), "AppData", "Roaming"), "pp", "config.toml");
  return join(env.XDG_CONFIG_HOME || join(home(), ".config"), "pp", "config.toml");
}

export const SYSTEM_CONFIG = "/etc/pp/config.toml";

/** Default push log location: a per-user data directory, never beside the binary (it may not be writable). */
export function defaultDbPath(): string {
  if (process.platform === "win32") return join(env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local"), "pp", "pp.db");
  return join(env.XDG_DATA_HOME || join(home(), ".local", "share"), "pp", "pp.db");
}

/**
 * `~` and `~/...` mean the home directory, as in a shell; a path from a config file or an environment variable
 * never went through one. `~user` is left alone: pp cannot look users up portably.
 */
export function expandHome(path: string): string {
  if (path === "~") return home();
  if (path.startsWith("~/") || (process.platform === "win32" && path.startsWith("~\\"))) return join(home(), path.slice(2));
  return path;
}

/** Where to look for the config, in order: --config, $PP_CONFIG, ./pp.toml, user dir, /etc. */
export function configCandidates(flag?: string): { path: string; explicit: boolean }[] {
  if (flag) return [{ path: expandHome(flag), explicit: true }];
  if (env.PP_CONFIG) return [{ path: expandHome(env.PP_CONFIG), explicit: true }];
  return [
    { path: "pp.toml", explicit: false },
    { path: userConfigFile(), explicit: false },
    { path: SYSTEM_CONFIG, explicit: false },
  ];
}
