/**
 * Who is calling: `Authorization: Bearer <key>` on every API route. A key is looked up
 * by its SHA-256 in its own KeyObject (no global object on the request path), and the
 * answer is kept in this isolate for AUTH_CACHE_SECONDS: that is how long a revoked key
 * may still work, and what saves a Durable Object call on most requests.
 */
import { createMiddleware } from "hono/factory";
import type { Caller } from "../contracts";
import { settings } from "../config";
import { ApiError } from "../errors";
import { looksLikeKey, secretsEqual, sha256Hex } from "./keys";
import { keyObject } from "./objects";
import type { Steps } from "../timing";

export type AuthEnv = { Bindings: Env; Variables: { caller: Caller; steps: Steps } };

const REALM = 'Bearer realm="edge-thumbnails"';
const unauthorized = (detail: string, given: boolean) =>
	new ApiError(401, "unauthorized", detail, {}, { "WWW-Authenticate": given ? `${REALM}, error="invalid_token"` : REALM });

/** The bearer token of a request, or null. */
function bearer(req: Request): string | null {
	const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.get("Authorization") ?? "");
	return m?.[1] ?? null;
}

const cache = new Map<string, { caller: Caller | null; until: number }>();
const CACHE_MAX_ENTRIES = 10_000;

/** The caller holding `secret`, or null; cached per isolate for `ttlMs`. */
export async function callerOf(env: Env, secret: string, ttlMs: number): Promise<Caller | null> {
	const hash = await sha256Hex(secret);
	const hit = cache.get(hash);
	if (hit && hit.until > Date.now()) return hit.caller;
	const caller = await keyObject(env, hash).caller(hash);
	if (ttlMs > 0) {
		if (cache.size >= CACHE_MAX_ENTRIES) cache.clear();
		cache.set(hash, { caller, until: Date.now() + ttlMs });
	}
	return caller;
}

/** Sets `caller`, or answers 401. */
export const requireKey = createMiddleware<AuthEnv>(async (c, next) => {
	const secret = bearer(c.req.raw);
	if (!secret) throw unauthorized("Send your API key: Authorization: Bearer <key>.", false);
	const ttlMs = settings(c.env).AUTH_CACHE_SECONDS * 1000;
	const caller = looksLikeKey(secret) ? await c.var.steps.time("auth", () => callerOf(c.env, secret, ttlMs)) : null;
	if (!caller) throw unauthorized("This API key is not valid: it is malformed, unknown or revoked.", true);
	c.set("caller", caller);
	await next();
});

/** The admin API's own secret, ADMIN_TOKEN, compared in constant time. */
export const requireAdmin = createMiddleware<{ Bindings: Env }>(async (c, next) => {
	const secret = bearer(c.req.raw);
	if (!secret || !(await secretsEqual(secret, settings(c.env).ADMIN_TOKEN))) {
		throw unauthorized("The admin API needs Authorization: Bearer <ADMIN_TOKEN>.", secret !== null);
	}
	await next();
});
