import { settings } from "../config";
import { count } from "../metering";
import { shardOf } from "../shards";
import type { ThumborOrigin } from "./client";

/** How long a health check may take before Thumbor counts as unresponsive. */
const HEALTH_TIMEOUT_MS = 2_000;

/**
 * What Thumbor's health check says, asked through `fetcher` (fetch, or a container's port):
 * "ok", "http <status>", or "unreachable" (no answer within HEALTH_TIMEOUT_MS).
 */
export async function thumborHealth(fetcher: (url: string, init: RequestInit) => Promise<Response>, baseUrl: string): Promise<string> {
	try {
		const res = await fetcher(`${baseUrl.replace(/\/+$/, "")}/healthcheck`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
		await res.body?.cancel();
		return res.ok ? "ok" : `http ${res.status}`;
	} catch {
		return "unreachable";
	}
}

/** A Thumbor reached over HTTP at `baseUrl` (the local venv, docker compose, any host). */
export function httpOrigin(baseUrl: string): ThumborOrigin {
	const base = baseUrl.replace(/\/+$/, "");
	return {
		render(path, original, signal) {
			count("fetch thumbor");
			return fetch(`${base}${path}`, { method: "POST", body: original, signal });
		},
		healthy: async () => (await thumborHealth(fetch, base)) === "ok",
	};
}

/**
 * Where Thumbor is: THUMBOR_URL when set, else one of THUMBOR_INSTANCES Cloudflare
 * Containers, picked by `key` (job and attempt, so a retry may land elsewhere).
 */
export function thumborOrigin(env: Env, key: string): ThumborOrigin {
	const cfg = settings(env);
	if (cfg.THUMBOR_URL) return httpOrigin(cfg.THUMBOR_URL);
	const instance = env.THUMBOR.get(env.THUMBOR.idFromName(`thumbor-${shardOf(key, cfg.THUMBOR_INSTANCES)}`));
	return {
		render: (path, original) => instance.render(path, original),
		healthy: () => instance.healthy(),
	};
}
