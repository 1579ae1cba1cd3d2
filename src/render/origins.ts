import { AttemptError } from "../base/attempts";
import { settings } from "../base/config";
import { fromBase64 } from "../base/crypto";
import { count } from "../base/metering";
import { shardOf } from "../base/shards";
import { currentTraceId } from "../base/tracing";
import { thumborContainer } from "../objects";
import { renderThumbnail, type ThumborOrigin } from "./origin-client";
import { originAsk } from "./thumbor-path";

/** How long a health check may take before Thumbor counts as unresponsive. */
const HEALTH_TIMEOUT_MS = 2_000;

/**
 * Whether Thumbor answers its health check with a 2xx within HEALTH_TIMEOUT_MS, asked through
 * `fetcher` (fetch, or a container's port).
 */
export async function answersHealthCheck(
	fetcher: (url: string, init: RequestInit) => Promise<Response>,
	baseUrl: string,
): Promise<boolean> {
	try {
		const res = await fetcher(`${baseUrl.replace(/\/+$/, "")}/healthcheck`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
		await res.body?.cancel();
		return res.ok;
	} catch {
		return false;
	}
}

/** An 8x8 PNG of one colour: what the health check has Thumbor make a thumbnail of. */
const PROBE_PNG = fromBase64(
	"iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAFUlEQVR42mM8UaHBgA0wMeAAg1MCAB4nAXgllso1AAAAAElFTkSuQmCC",
);

/** What the health check found: whether Thumbor makes thumbnails for us, and if not, why. */
export interface OriginHealth {
	/** ok; idle (a container not running: not started for a health check); unreachable; misconfigured; failing. */
	thumbor: "ok" | "idle" | "unreachable" | "misconfigured" | "failing";
	detail?: string;
}

/**
 * One signed round trip through `origin`: a tiny image pushed as the consumer pushes an
 * original, the thumbnail checked. A Thumbor that answers its health check but refuses our
 * signature (another THUMBOR_SECURITY_KEY) is caught here, not by the first user's upload.
 */
export async function probeOrigin(origin: ThumborOrigin, securityKey: string): Promise<OriginHealth> {
	if (!(await origin.healthy())) return { thumbor: "unreachable", detail: "Thumbor does not answer its health check." };
	try {
		await renderThumbnail(
			origin,
			await originAsk(securityKey, "health-probe"),
			async () => new Response(PROBE_PNG).body!,
			// The health check's own trace: its line in Thumbor's access log carries it.
			{ attempt: 1, previousError: null, traceId: currentTraceId() },
			HEALTH_TIMEOUT_MS,
		);
		return { thumbor: "ok" };
	} catch (err) {
		const error = err instanceof AttemptError ? err.error : { code: "internal_error", message: String(err) };
		return { thumbor: error.code === "thumbor_misconfigured" ? "misconfigured" : "failing", detail: error.message };
	}
}

/** A Thumbor reached over HTTP at `baseUrl` (the local venv, docker compose, any host). */
export function httpOrigin(baseUrl: string): ThumborOrigin {
	const base = baseUrl.replace(/\/+$/, "");
	return {
		render(path, original, headers, signal) {
			count("fetch thumbor");
			return fetch(`${base}${path}`, { method: "POST", body: original, headers, signal });
		},
		healthy: () => answersHealthCheck(fetch, base),
	};
}

/**
 * Where Thumbor is: THUMBOR_URL when set, else one of THUMBOR_INSTANCES Cloudflare
 * Containers, picked by `key` (job and attempt, so a retry may land elsewhere).
 */
export function thumborOrigin(env: Env, key: string): ThumborOrigin {
	const cfg = settings(env);
	if (cfg.THUMBOR_URL) return httpOrigin(cfg.THUMBOR_URL);
	return containerOrigin(env, shardOf(key, cfg.THUMBOR_INSTANCES));
}

function containerOrigin(env: Env, instance: number): ThumborOrigin {
	const stub = thumborContainer(env, instance);
	return {
		render: (path, original, headers) => stub.render(path, original, headers),
		// An object that cannot even be made (a deployment without [[containers]]) is not healthy.
		healthy: () => stub.healthy().catch(() => false),
	};
}

/**
 * The health check's view of the origin (probeOrigin). Containers are probed only when the
 * first one is running: a health check must not start one.
 */
async function originHealth(env: Env): Promise<OriginHealth> {
	const cfg = settings(env);
	if (cfg.THUMBOR_URL) return probeOrigin(httpOrigin(cfg.THUMBOR_URL), cfg.THUMBOR_SECURITY_KEY);
	const first = containerOrigin(env, 0);
	if (!(await first.healthy()))
		return { thumbor: "idle", detail: "No Thumbor container is running; one starts with the next job." };
	return probeOrigin(first, cfg.THUMBOR_SECURITY_KEY);
}

/** How long a finding stands: an ok one HEALTH_OK_MS, any other HEALTH_RECHECK_MS (a mend is seen soon). */
export const HEALTH_OK_MS = 10_000;
export const HEALTH_RECHECK_MS = 2_000;

/** A finding, and when its round trip started. */
export interface Checked extends OriginHealth {
	checkedAt: number;
}

/**
 * `probe`, asked at most once per HEALTH_OK_MS (HEALTH_RECHECK_MS after a finding that is not ok):
 * callers meanwhile share the finding, or the round trip under way. So GET /health, which anyone
 * may call, costs the origin one thumbnail per interval per isolate however often it is asked.
 */
export function healthCache(probe: () => Promise<OriginHealth>, clock: () => number = Date.now): () => Promise<Checked> {
	let latest: { until: number; finding: Promise<Checked> } | null = null;
	return () => {
		const now = clock();
		if (latest && now < latest.until) return latest.finding;
		const entry: { until: number; finding: Promise<Checked> } = {
			// Until it settles, the round trip under way is the answer to every caller.
			until: Number.POSITIVE_INFINITY,
			finding: probe()
				.catch((err): OriginHealth => ({ thumbor: "failing", detail: `the health check itself failed: ${String(err)}` }))
				.then((found) => {
					entry.until = clock() + (found.thumbor === "ok" || found.thumbor === "idle" ? HEALTH_OK_MS : HEALTH_RECHECK_MS);
					// The reason is the operator's: logged once per round trip, never sent to the caller.
					if (found.detail) console.warn(`health: Thumbor ${found.thumbor}: ${found.detail}`);
					return { ...found, checkedAt: now };
				}),
		};
		latest = entry;
		return entry.finding;
	};
}

/** This isolate's health cache (one Worker per isolate: its env's origin is the only one). */
let isolateHealth: (() => Promise<Checked>) | null = null;

/** The origin's health as GET /health reports it: from this isolate's cache (healthCache). */
export function cachedOriginHealth(env: Env): Promise<Checked> {
	isolateHealth ??= healthCache(() => originHealth(env));
	return isolateHealth();
}
