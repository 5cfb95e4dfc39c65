import pkg from "../package.json" with { type: "json" };

// Replaced at build time by `--define` (scripts/build.ts); running from source falls back to package.json.
declare const PP_VERSION: string | undefined;
declare const PP_COMMIT: string | undefined;

export const version: string = typeof PP_VERSION === "string" ? PP_VERSION : pkg.version;
export const commit: string = typeof PP_COMMIT === "string" ? PP_COMMIT : "dev";

const osName: Record<string, string> = { win32: "windows" };

/** `pp 0.1.0 (abc1234, linux/x64)` */
export function versionLine(): string {
  return `pp ${version} (${commit}, ${osName[process.platform] ?? process.platform}/${process.arch})`;
}
