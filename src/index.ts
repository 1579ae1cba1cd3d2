/** Wires the edge-thumbnails Worker: HTTP routes, the queue consumer and the Durable Objects. */
import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { describeRoute, openAPIRouteHandler } from "hono-openapi";
import { z } from "zod";
import { admin } from "./access/admin";
import { usage } from "./access/usage";
import { settings } from "./base/config";
import { count, countFetch, metered } from "./base/metering";
import { serverTiming } from "./base/timing";
import { json } from "./http/describe";
import { DOCS_PAGE } from "./http/docs-page";
import { notFound, onError } from "./http/errors";
import { servePage } from "./http/pages";
import { UPLOAD_PAGE } from "./http/upload-page";
import { requeueAdmin } from "./jobs/requeue";
import { jobs } from "./jobs/routes";
import { webhooks } from "./notify/routes";
import { handleQueue } from "./render/consumer";
import { cachedOriginHealth } from "./render/origins";
import { TUS_REQUEST_HEADERS, TUS_RESPONSE_HEADERS } from "./resumable/protocol";
import { uploads } from "./resumable/routes";
import { thumbnails } from "./serve/thumbnails";
import { uploadMetrics } from "./upload/metrics";
import { submissions } from "./upload/routes";

export { KeyObject } from "./access/key-object";
export { KeyRegistry } from "./access/key-registry";
export { OwnerObject } from "./access/owner-object";
export { JobObject } from "./jobs/job-object";
export { JobIndexShard } from "./listing/job-index-shard";
export { ThumborContainer } from "./render/thumbor-container";
export { UploadObject } from "./resumable/upload-object";
export { ClaimObject } from "./upload/claim-object";

/** Browsers may call the API from the origins in CORS_ALLOWED_ORIGINS (preflights need no key). */
const fromAllowedOrigin = (origin: string, c: Context<{ Bindings: Env }>) => {
	const allowed = settings(c.env).corsOrigins;
	return allowed.includes("*") ? "*" : allowed.includes(origin) ? origin : null;
};

const apiCors = cors({
	origin: fromAllowedOrigin,
	allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
	allowHeaders: ["Authorization", "Idempotency-Key", "Content-Type"],
	exposeHeaders: ["Location", "Retry-After", "Idempotent-Replayed", "Link", "WWW-Authenticate", "Server-Timing"],
	maxAge: 600,
});

/** The same, for tus clients: their methods and headers. */
const uploadsCors = cors({
	origin: fromAllowedOrigin,
	allowMethods: ["POST", "HEAD", "PATCH", "DELETE", "OPTIONS"],
	allowHeaders: ["Authorization", "Content-Type", ...TUS_REQUEST_HEADERS],
	exposeHeaders: ["Location", "Retry-After", "Server-Timing", ...TUS_RESPONSE_HEADERS],
	maxAge: 600,
});
/** A browser's preflight is CORS's; any other OPTIONS is tus discovery. */
const uploadsPreflight = createMiddleware((c, next) =>
	c.req.method === "OPTIONS" && c.req.header("Access-Control-Request-Method") === undefined ? next() : uploadsCors(c, next),
);

const Health = z
	.object({
		status: z.enum(["ok", "degraded"]).describe("degraded: the Worker answers, but Thumbor makes no thumbnails (jobs wait)"),
		thumbor: z
			.enum(["ok", "idle", "unreachable", "misconfigured", "failing"])
			.describe(
				"What the latest signed round trip through Thumbor found (idle: no container running, none started for this; " +
					"misconfigured: it refuses our signature or route). Why is in the Worker's logs.",
			),
		checkedAt: z.iso.datetime().describe("When that round trip started: one per 10 s at most (2 s while not ok)"),
	})
	.meta({ id: "Health" });

const app = new Hono<{ Bindings: Env }>()
	.get(
		"/health",
		describeRoute({
			tags: ["service"],
			summary: "Whether the Worker answers and Thumbor makes thumbnails for it (a recent signed round trip)",
			responses: {
				200: json(Health, "Up"),
				503: json(Health, "Thumbor is unreachable, refuses our requests (a wrong key) or fails"),
			},
		}),
		async (c) => {
			const { thumbor, checkedAt } = await cachedOriginHealth(c.env);
			const up = thumbor === "ok" || thumbor === "idle";
			return c.json({ status: up ? "ok" : "degraded", thumbor, checkedAt: new Date(checkedAt).toISOString() }, up ? 200 : 503, {
				"Cache-Control": "no-store",
			});
		},
	)
	// CORS for the API's browser callers; a metrics event around every upload.
	.use("*", serverTiming)
	.use("/jobs/*", apiCors)
	.use("/jobs", uploadMetrics)
	.use("/webhooks/*", apiCors)
	.use("/uploads", uploadsPreflight)
	.use("/uploads/*", uploadsPreflight)
	.use("/uploads", uploadMetrics)
	.use("/uploads/*", uploadMetrics)
	.route("/jobs", submissions)
	.route("/jobs", jobs)
	.route("/uploads", uploads)
	.route("/usage", usage)
	.route("/webhooks", webhooks)
	.route("/admin/jobs", requeueAdmin)
	.route("/admin", admin)
	.route("/thumbnails", thumbnails);

/** The OpenAPI 3.1 document, generated from the routes' descriptions and zod schemas. */
app.get(
	"/openapi.json",
	describeRoute({
		tags: ["service"],
		summary: "This document",
		responses: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } } },
	}),
	openAPIRouteHandler(app, {
		documentation: {
			openapi: "3.1.0",
			info: {
				title: "edge-thumbnails",
				version: "1.0.0",
				description:
					"Upload an image, get a job; a 100x100 WebP thumbnail appears at a stable URL, beside it the same at 2x and 3x and in AVIF and JPEG; a signed webhook says when.",
			},
			tags: [
				{ name: "jobs", description: "Uploads and their jobs (API key)" },
				{ name: "uploads", description: "Resumable uploads: a tus 1.0 server (API key)" },
				{ name: "webhooks", description: "Signed events to your callback_url (API key)" },
				{ name: "thumbnails", description: "Public, cache-friendly thumbnails" },
				{ name: "admin", description: "API keys and metering (ADMIN_TOKEN)" },
				{ name: "service", description: "Health" },
			],
			components: {
				securitySchemes: {
					apiKey: { type: "http", scheme: "bearer", description: "An API key: et_live_… (npm run keys -- create)" },
					adminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN (a Worker secret)" },
				},
			},
		},
		// Validation failures answer in the one error format, documented per route.
		defaultValidationErrorResponse: false,
		// OPTIONS /uploads is tus discovery, an operation of its own.
		excludeMethods: [],
	}),
);
/** A page to try the service: upload images with an API key, see their thumbnails. */
const page = (summary: string) =>
	describeRoute({
		tags: ["service"],
		summary,
		responses: { 200: { description: "A page", content: { "text/html": { schema: { type: "string" } } } } },
	});
app.get("/", page("The upload page"), (c) => servePage(c, UPLOAD_PAGE, new URL(settings(c.env).PUBLIC_BASE_URL).origin));
/** The API reference, rendered from /openapi.json in the browser; no internet needed. */
app.get("/docs", page("The API reference (this document, readable)"), (c) =>
	servePage(c, DOCS_PAGE, new URL(settings(c.env).PUBLIC_BASE_URL).origin),
);

app.onError(onError);
app.notFound(notFound(app.routes));

/** The app's routes and their types: `hc<AppType>(baseUrl)` (hono/client) is a typed client. */
export type AppType = typeof app;
/** The app itself, for tests that compare its routes with /openapi.json. */
export { app };

export default {
	fetch(req: Request, env: Env, ctx: ExecutionContext) {
		const meteredEnv = metered(env);
		countFetch(req);
		return app.fetch(req, meteredEnv, ctx);
	},
	queue(batch, env) {
		const meteredEnv = metered(env);
		count("worker queue");
		return handleQueue(batch, meteredEnv);
	},
} satisfies ExportedHandler<Env>;
