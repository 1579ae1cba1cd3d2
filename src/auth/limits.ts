/**
 * Per-key request rates, with the Workers Rate Limiting bindings declared in
 * wrangler.toml ([[ratelimits]]): one for uploads, one for reads. The binding says
 * only yes or no; `Retry-After` is its period, RATE_LIMIT_PERIOD_SECONDS.
 */
import { createMiddleware } from "hono/factory";
import { settings } from "../config";
import { ApiError } from "../errors";
import type { AuthEnv } from "./middleware";

export const rateLimit = (limiter: "UPLOAD_RATE_LIMITER" | "READ_RATE_LIMITER", what: string) =>
	createMiddleware<AuthEnv>(async (c, next) => {
		const { success } = await c.var.steps.time("ratelimit", () => c.env[limiter].limit({ key: c.var.caller.keyId }));
		if (!success) {
			const period = settings(c.env).RATE_LIMIT_PERIOD_SECONDS;
			throw new ApiError(429, "rate_limited", `Too many ${what} with this API key; slow down and retry after ${period} s.`, {}, {
				"Retry-After": String(period),
			});
		}
		await next();
	});
