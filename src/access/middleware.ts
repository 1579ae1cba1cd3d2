/**
 * Who is calling: `Authorization: Bearer <key>` on every API route. A key whose checksum
 * does not hold is refused on the spot (access/keys.ts); one that does is looked up by its
 * SHA-256 in its own KeyObject (no global object on the request path), and the answer is
 * kept in this isolate for AUTH_CACHE_SECONDS: that is how long a revoked key may still
 * work, and what saves a Durable Object call on most requests. Requests that fail to
 * authenticate are counted per client address (ANON_RATE_LIMITER): past the limit they
 * get 429, so guessing keys is slow as well as hopeless.
 */
import { createMiddleware } from "hono/factory";
import { settings } from "../base/config";
import type { Caller } from "../base/contracts";
import type { Steps } from "../base/timing";
import { ApiError } from "../http/errors";
import { keyObject } from "../objects";
import { keyChecksumValid, secretsEqual, sha256Hex } from "./keys";

export type AuthEnv = { Bindings: Env; Variables: { caller: Caller; steps: Steps } };

const REALM = 'Bearer realm="edge-thumbnails"';

/** The 401 for a request that did not authenticate, or a 429 once its address has failed too often. */
async function unauthorized(env: Env, req: Request, detail: string, given: boolean): Promise<ApiError> {
	const { success } = await env.ANON_RATE_LIMITER.limit({ key: clientAddress(req) });
	if (!success) return tooMany(env, "requests without a valid key from this address");
	return new ApiError(401, "unauthorized", detail, {}, { "WWW-Authenticate": given ? `${REALM}, error="invalid_token"` : REALM });
}

/** The bearer token of a request, or null. */
function bearer(req: Request): string | null {
	const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.get("Authorization") ?? "");
	return m?.[1] ?? null;
}

const cache = new Map<string, { caller: Caller | null; until: number }>();
const CACHE_MAX_ENTRIES = 10_000;

/** The caller holding `secret`, or null; cached per isolate for `ttlMs` (by the clock `now`). */
export async function callerOf(env: Env, secret: string, ttlMs: number, now: () => number = Date.now): Promise<Caller | null> {
	const hash = await sha256Hex(secret);
	const hit = cache.get(hash);
	if (hit && hit.until > now()) return hit.caller;
	const caller = await keyObject(env, hash).caller(hash);
	if (ttlMs > 0) {
		if (cache.size >= CACHE_MAX_ENTRIES) cache.clear();
		cache.set(hash, { caller, until: now() + ttlMs });
	}
	return caller;
}

/** Sets `caller`, or answers 401. */
export const requireKey = createMiddleware<AuthEnv>(async (c, next) => {
	const secret = bearer(c.req.raw);
	if (!secret) throw await unauthorized(c.env, c.req.raw, "Send your API key: Authorization: Bearer <key>.", false);
	const cfg = settings(c.env);
	const caller = await c.var.steps.time("auth", async () =>
		(await keyChecksumValid(secret, cfg.KEY_CHECKSUM_SECRET)) ? callerOf(c.env, secret, cfg.AUTH_CACHE_SECONDS * 1000) : null,
	);
	if (!caller)
		throw await unauthorized(c.env, c.req.raw, "This API key is not valid: it is malformed, unknown or revoked.", true);
	c.set("caller", caller);
	await next();
});

/** The admin API's own secret, ADMIN_TOKEN, compared in constant time. */
export const requireAdmin = createMiddleware<{ Bindings: Env }>(async (c, next) => {
	const secret = bearer(c.req.raw);
	if (!secret || !(await secretsEqual(secret, settings(c.env).ADMIN_TOKEN))) {
		throw await unauthorized(c.env, c.req.raw, "The admin API needs Authorization: Bearer <ADMIN_TOKEN>.", secret !== null);
	}
	await next();
});

/** The 429 for too many `what`. */
export function tooMany(env: Env, what: string): ApiError {
	const period = settings(env).RATE_LIMIT_PERIOD_SECONDS;
	return new ApiError(
		429,
		"rate_limited",
		`Too many ${what}; slow down and retry after ${period} s.`,
		{},
		{ "Retry-After": String(period) },
	);
}

/** The client's address as Cloudflare saw it (wrangler dev sets it too); one key for every request without it. */
export const clientAddress = (req: Request) => req.headers.get("CF-Connecting-IP") ?? "unknown";
