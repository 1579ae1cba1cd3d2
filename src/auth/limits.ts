/**
 * Request rates, with the Workers Rate Limiting bindings declared in wrangler.toml
 * ([[ratelimits]]): per API key, one for uploads and one for reads; per client address,
 * one for requests that fail to authenticate (auth/middleware.ts). A binding says only
 * yes or no; `Retry-After` is their period, RATE_LIMIT_PERIOD_SECONDS.
 */
import { createMiddleware } from "hono/factory";
import { type AuthEnv, tooMany } from "./middleware";

export const rateLimit = (limiter: "UPLOAD_RATE_LIMITER" | "READ_RATE_LIMITER", what: string) =>
	createMiddleware<AuthEnv>(async (c, next) => {
		const { success } = await c.var.steps.time("ratelimit", () => c.env[limiter].limit({ key: c.var.caller.keyId }));
		if (!success) throw tooMany(c.env, `${what} with this API key`);
		await next();
	});
