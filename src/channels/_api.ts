import { destinationSecrets } from "./_common.ts";

/** The platform's base URL: the `api` setting (a relay, a test server) or the platform's own, without a trailing "/". */
export function apiBase(api: string | undefined, fallback: string): string {
  return (api ?? fallback).replace(/\/+$/, "");
}

/**
 * What of an `api` setting must not be shown: credentials before the host, path segments and query values of a
 * relay's URL. A bare origin is no secret: it stays readable in every destination shown.
 */
export function apiSecrets(api: string | undefined): string[] {
  if (api === undefined || !URL.canParse(api)) return api === undefined ? [] : [api];
  const u = new URL(api);
  if ((u.pathname === "/" || u.pathname === "") && u.search === "" && u.username === "" && u.password === "") return [];
  return destinationSecrets(api).filter((s) => s !== u.origin && s !== `${u.origin}/`);
}
