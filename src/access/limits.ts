/**
 * Limits. Request rates, with the Workers Rate Limiting bindings declared in wrangler.toml
 * ([[ratelimits]]): per API key, one for uploads and one for reads; per client address,
 * one for requests that fail to authenticate (access/middleware.ts). A binding says only
 * yes or no; `Retry-After` is their period, RATE_LIMIT_PERIOD_SECONDS. And the owner's jobs
 * in flight, counted by its OwnerObject (MAX_JOBS_IN_FLIGHT).
 */
import { createMiddleware } from "hono/factory";
import { settings } from "../base/config";
import { ApiError } from "../http/errors";
import { ownerStub } from "../objects";
import { type AuthEnv, tooMany } from "./middleware";

export const rateLimit = (limiter: "UPLOAD_RATE_LIMITER" | "READ_RATE_LIMITER", what: string) =>
	createMiddleware<AuthEnv>(async (c, next) => {
		const { success } = await c.var.steps.time("ratelimit", () => c.env[limiter].limit({ key: c.var.caller.keyId }));
		if (!success) throw tooMany(c.env, `${what} with this API key`);
		await next();
	});

/**
 * Reserves a place among the owner's jobs in flight for job `id`, or answers 429: too many in
 * flight, or (for a new upload, when MONTHLY_UPLOAD_QUOTA is set) the month's quota used up.
 */
export async function admit(env: Env, ownerId: string, id: string, { newUpload = true } = {}): Promise<void> {
	const cfg = settings(env);
	const max = cfg.MAX_JOBS_IN_FLIGHT;
	const refused = await ownerStub(env, ownerId).admit(id, max, newUpload ? cfg.MONTHLY_UPLOAD_QUOTA : 0);
	if (refused?.reason === "in_flight") {
		throw new ApiError(
			429,
			"too_many_jobs_in_flight",
			`You have ${max} jobs queued or processing, the most one owner may have; wait for some to finish.`,
			{ limit: max },
			{ "Retry-After": "10" },
		);
	}
	if (refused?.reason === "quota") {
		const resetsAt = new Date(refused.resetsAt).toISOString();
		throw new ApiError(
			429,
			"quota_exceeded",
			`You have used this month's ${cfg.MONTHLY_UPLOAD_QUOTA} uploads; the quota starts again at ${resetsAt}.`,
			{ limit: cfg.MONTHLY_UPLOAD_QUOTA, used: refused.used, resetsAt },
			{ "Retry-After": String(Math.max(1, Math.ceil((refused.resetsAt - Date.now()) / 1000))) },
		);
	}
}
