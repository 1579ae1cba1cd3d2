/**
 * Every upload answered (POST /jobs) is a metrics event (base/metrics.ts): accepted, replayed
 * or refused, with the refusal's code — refusals before the key is checked included, which is
 * why this wraps the whole route. An accepted upload's facts come from the job the route made
 * (`uploaded`); a refusal's code from its problem body.
 */
import { createMiddleware } from "hono/factory";
import { type Caller, type Job, pixelsOf } from "../base/contracts";
import { record, UPLOAD } from "../base/metrics";

declare module "hono" {
	interface ContextVariableMap {
		/** The job POST /jobs made or replayed, for its metrics event. */
		uploaded: Job;
	}
}

export const uploadMetrics = createMiddleware<{ Bindings: Env; Variables: { caller?: Caller } }>(async (c, next) => {
	if (c.req.method !== "POST") return next();
	const started = performance.now();
	await next();
	const { status } = c.res;
	const job = status < 300 ? c.get("uploaded") : undefined;
	const refusal = job
		? null
		: ((await c.res
				.clone()
				.json()
				.catch(() => null)) as { code?: string } | null);
	record(c.env, UPLOAD, c.var.caller?.ownerId ?? null, {
		outcome: !job ? "refused" : c.res.headers.get("Idempotent-Replayed") ? "replayed" : "accepted",
		code: refusal?.code ?? null,
		imageType: job?.original.contentType ?? null,
		status,
		bytes: job?.original.bytes ?? null,
		pixels: pixelsOf(job?.original),
		ms: performance.now() - started,
	});
});
