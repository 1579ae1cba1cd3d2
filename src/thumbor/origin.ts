import { settings } from "../config";
import type { ThumborOrigin } from "./client";

/** A Thumbor reached over HTTP at `baseUrl` (the local venv, docker compose, any host). */
export const httpOrigin =
	(baseUrl: string): ThumborOrigin =>
	(path, signal) =>
		fetch(`${baseUrl.replace(/\/+$/, "")}${path}`, { signal });

/** FNV-1a: a cheap, stable spread of keys over container instances. */
function fnv1a(key: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
	return h >>> 0;
}

/**
 * Where Thumbor is: THUMBOR_URL when set, else one of THUMBOR_INSTANCES Cloudflare
 * Containers, picked by `key` (job and attempt, so a retry may land elsewhere).
 */
export function thumborOrigin(env: Env, key: string): ThumborOrigin {
	const cfg = settings(env);
	if (cfg.THUMBOR_URL) return httpOrigin(cfg.THUMBOR_URL);
	const instance = env.THUMBOR.get(env.THUMBOR.idFromName(`thumbor-${fnv1a(key) % cfg.THUMBOR_INSTANCES}`));
	return async (path) => instance.get(path);
}
