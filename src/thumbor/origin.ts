import { settings } from "../config";
import { count } from "../metering";
import { shardOf } from "../shards";
import type { ThumborOrigin } from "./client";

/** A Thumbor reached over HTTP at `baseUrl` (the local venv, docker compose, any host). */
export const httpOrigin =
	(baseUrl: string): ThumborOrigin =>
	(path, signal) => {
		count("fetch thumbor");
		return fetch(`${baseUrl.replace(/\/+$/, "")}${path}`, { signal });
	};

/**
 * Where Thumbor is: THUMBOR_URL when set, else one of THUMBOR_INSTANCES Cloudflare
 * Containers, picked by `key` (job and attempt, so a retry may land elsewhere).
 */
export function thumborOrigin(env: Env, key: string): ThumborOrigin {
	const cfg = settings(env);
	if (cfg.THUMBOR_URL) return httpOrigin(cfg.THUMBOR_URL);
	const instance = env.THUMBOR.get(env.THUMBOR.idFromName(`thumbor-${shardOf(key, cfg.THUMBOR_INSTANCES)}`));
	return async (path) => instance.get(path);
}
