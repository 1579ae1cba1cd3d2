/** Wires the edge-thumbnails Worker: HTTP routes, the queue consumer and the Durable Objects. */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { admin } from "./auth/admin";
import { settings } from "./config";
import { notFound, onError } from "./errors";
import { handleQueue } from "./jobs/consumer";
import { jobs } from "./jobs/routes";
import { originals } from "./originals/routes";
import { thumbnails } from "./thumbnails/routes";
import { webhooks } from "./webhooks/routes";
import { httpOrigin } from "./thumbor/origin";
import { serverTiming } from "./timing";
import { count, metered } from "./metering";

export { JobObject } from "./jobs/object";
export { ClaimObject } from "./jobs/claims";
export { KeyObject, KeyRegistry } from "./auth/objects";
export { OwnerObject } from "./owners/object";
export { JobIndexShard } from "./listing/shard";
export { ThumborContainer } from "./thumbor/container";

const apiCors = cors({
	origin: (origin, c) => {
		const allowed = settings(c.env).corsOrigins;
		return allowed.includes("*") ? "*" : allowed.includes(origin) ? origin : null;
	},
	allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
	allowHeaders: ["Authorization", "Idempotency-Key", "Content-Type"],
	exposeHeaders: ["Location", "Retry-After", "Idempotent-Replayed", "Link", "WWW-Authenticate", "Server-Timing"],
	maxAge: 600,
});

const app = new Hono<{ Bindings: Env }>()
	.get("/health", async (c) => {
		// Reports whether a Thumbor at THUMBOR_URL answers, without failing the Worker's own health.
		// Containers are not probed: a health check must not start one.
		const { THUMBOR_URL } = settings(c.env);
		const thumbor = THUMBOR_URL
			? await httpOrigin(THUMBOR_URL)("/healthcheck", AbortSignal.timeout(2000))
					.then((r) => (r.ok ? "ok" : `http ${r.status}`))
					.catch(() => "unreachable")
			: "container";
		return c.json({ status: "ok", thumbor }, 200, { "Cache-Control": "no-store" });
	})
	// Browsers may call the API from the origins in CORS_ALLOWED_ORIGINS (preflights need no key).
	.use("*", serverTiming)
	.use("/jobs/*", apiCors)
	.use("/webhooks/*", apiCors)
	.route("/jobs", jobs)
	.route("/webhooks", webhooks)
	.route("/admin", admin)
	.route("/thumbnails", thumbnails)
	.route("/originals", originals);

app.onError(onError);
app.notFound(notFound);

export default {
	fetch(req: Request, env: Env, ctx: ExecutionContext) {
		const meteredEnv = metered(env);
		// The meter's own reads (and key management) are not what a thumbnail costs.
		if (!new URL(req.url).pathname.startsWith("/admin/")) count("worker fetch");
		return app.fetch(req, meteredEnv, ctx);
	},
	queue(batch, env) {
		const meteredEnv = metered(env);
		count("worker queue");
		return handleQueue(batch, meteredEnv);
	},
} satisfies ExportedHandler<Env>;
