/**
 * Every upload answered (POST /jobs) is a metrics event (base/metrics.ts): accepted, replayed
 * or refused, with the refusal's code — refusals before the key is checked included, which is
 * why this wraps the whole route.
 */
import { createMiddleware } from "hono/factory";
import type { Caller } from "../base/contracts";
import { record, UPLOAD } from "../base/metrics";

type UploadedJob = { original?: { contentType?: string; bytes?: number; width?: number | null; height?: number | null } };

export const uploadMetrics = createMiddleware<{ Bindings: Env; Variables: { caller?: Caller } }>(async (c, next) => {
	if (c.req.method !== "POST") return next();
	const started = performance.now();
	await next();
	const { status } = c.res;
	const ok = status < 300;
	// The answer is the job (small) or a problem with its code: read from a copy.
	const body = (await c.res
		.clone()
		.json()
		.catch(() => null)) as (UploadedJob & { code?: string }) | null;
	const original = ok ? body?.original : undefined;
	record(c.env, UPLOAD, c.var.caller?.ownerId ?? null, {
		outcome: !ok ? "refused" : c.res.headers.get("Idempotent-Replayed") ? "replayed" : "accepted",
		code: ok ? null : (body?.code ?? null),
		imageType: original?.contentType ?? null,
		status,
		bytes: original?.bytes ?? null,
		pixels: original?.width && original.height ? original.width * original.height : null,
		ms: performance.now() - started,
	});
});
