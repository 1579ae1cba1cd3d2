/**
 * Limits. Request rates, with the Workers Rate Limiting bindings declared in wrangler.toml
 * ([[ratelimits]]): per API key, one for uploads and one for reads; per client address,
 * one for requests that fail to authenticate (access/middleware.ts). A binding says only
 * yes or no; `Retry-After` is their period, RATE_LIMIT_PERIOD_SECONDS. And the owner's jobs
 * in flight and resumable uploads in progress, counted by its OwnerObject (MAX_JOBS_IN_FLIGHT,
 * MAX_UPLOADS_IN_PROGRESS).
 */
import { createMiddleware } from "hono/factory";
import { settings } from "../base/config";
import { ApiError } from "../http/errors";
import { ownerStub } from "../objects";
import { type AuthEnv, tooMany } from "./middleware";
import type { Place, Refusal } from "./owner-object";

export const rateLimit = (limiter: "UPLOAD_RATE_LIMITER" | "READ_RATE_LIMITER", what: string) =>
	createMiddleware<AuthEnv>(async (c, next) => {
		const { success } = await c.var.steps.time("ratelimit", () => c.env[limiter].limit({ key: c.var.caller.keyId }));
		if (!success) throw tooMany(c.env, `${what} with this API key`);
		await next();
	});

/**
 * Reserves a place for job `id` among the owner's jobs in flight (or, with `place` "upload", among
 * its resumable uploads in progress), or answers 429: that kind of place is full, or (for a new
 * upload, when MONTHLY_UPLOAD_QUOTA is set) the month's quota is used up. The owner's object
 * applies the caps; this says its refusal.
 */
export async function admit(
	env: Env,
	ownerId: string,
	id: string,
	{ newUpload = true, place = "job" }: { newUpload?: boolean; place?: Place } = {},
): Promise<void> {
	refuse(env, await ownerStub(env, ownerId).admit(id, place, { newUpload }));
}

/** Resumable upload `id` has all its bytes: it takes a job's place, or answers 429 (too many jobs in flight). */
export async function promote(env: Env, ownerId: string, id: string): Promise<void> {
	refuse(env, await ownerStub(env, ownerId).promote(id));
}

/** The 429 that says which cap refused, and when to try again. */
function refuse(env: Env, refused: Refusal | null): void {
	const cfg = settings(env);
	if (refused?.reason === "in_flight") {
		const max = cfg.MAX_JOBS_IN_FLIGHT;
		throw new ApiError(
			429,
			"too_many_jobs_in_flight",
			`You have ${max} jobs queued or processing, the most one owner may have; wait for some to finish.`,
			{ limit: max },
			{ "Retry-After": "10" },
		);
	}
	if (refused?.reason === "uploads") {
		const max = cfg.MAX_UPLOADS_IN_PROGRESS;
		throw new ApiError(
			429,
			"too_many_uploads_in_progress",
			`You have ${max} resumable uploads in progress, the most one owner may have: finish or terminate some ` +
				"(GET /uploads lists them), or wait for unfinished ones to expire.",
			{ limit: max },
			{ "Retry-After": String(cfg.RESUMABLE_UPLOAD_START_SECONDS) },
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
