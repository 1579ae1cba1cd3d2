/**
 * Every upload answered (POST /jobs, or a resumable upload's end) is a metrics event (base/metrics.ts): accepted, replayed
 * or refused, with the refusal's code — refusals before the key is checked included, which is
 * why this wraps the whole route. An accepted upload's facts come from the job the route made
 * (`uploaded`); a refusal's code from its problem body.
 */
import { createMiddleware } from "hono/factory";
import { type Caller, type Job, pixelsOf } from "../base/contracts";
import { record, UPLOAD } from "../base/metrics";

declare module "hono" {
	interface ContextVariableMap {
		/** The job POST /jobs made or replayed (or a resumable upload's last bytes made), for its metrics event. */
		uploaded: Job;
	}
}

export const uploadMetrics = createMiddleware<{ Bindings: Env; Variables: { caller?: Caller } }>(async (c, next) => {
	if (c.req.method !== "POST" && c.req.method !== "PATCH") return next();
	const started = performance.now();
	await next();
	const { status } = c.res;
	const job = status < 300 ? c.get("uploaded") : undefined;
	// A resumable upload is one event: when its last bytes make the job, or when it is refused (its
	// creation, or its file: 415 and 422 end it); a PATCH that only moves it on is none.
	const refusedFile = status === 415 || status === 422;
	if (!job && (status < 300 || (c.req.method === "PATCH" && !refusedFile))) return;
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
