/**
 * GET and HEAD /thumbnails/<file>: every rendition of a job's thumbnail (base/renditions.ts), public
 * and cacheable for ever. One stored in R2 is served from there (and this data centre's cache); one
 * not stored yet is made by its job's object on this first request (jobs/renditions.ts), then
 * served like the rest. A deleted job's every rendition answers 410.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { settings } from "../base/config";
import type { Slug } from "../base/contracts";
import { FORMATS, isCanonical, parseFile, type Rendition, renditionName, typeOf } from "../base/renditions";
import { GONE_MAX_AGE_S, goneKey, IMMUTABLE, renditionCacheKey, renditionKey, thumbnailKey } from "../base/storage";
import { pick, problem } from "../http/describe";
import { ApiError } from "../http/errors";
import { jobStub } from "../objects";

const notReady = (name: string) => new ApiError(404, "not_found", `No thumbnail "${name}" yet: it appears once its job is done.`);

/** How long a client should wait before asking again for a rendition the origin could not make now. */
const UNAVAILABLE_RETRY_S = 30;

/** True when an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks for it). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
	if (!ifNoneMatch) return false;
	const bare = (t: string) => t.trim().replace(/^W\//, "");
	return ifNoneMatch.split(",").some((t) => t.trim() === "*" || bare(t) === bare(etag));
}

/** A rendition's answer: its bytes (null for HEAD), and what every cache needs to keep them. */
const imageResponse = (
	r: Rendition,
	body: ReadableStream | Uint8Array | null,
	{ size, etag, uploaded }: { size: number; etag: string; uploaded: Date },
) =>
	new Response(body, {
		headers: {
			"Content-Type": typeOf(r),
			"Content-Length": String(size),
			ETag: etag,
			"Cache-Control": IMMUTABLE,
			"Last-Modified": uploaded.toUTCString(),
		},
	});

/**
 * A rendition not in R2: made by its job's object, which makes it once for every request that
 * comes meanwhile. Its job is found from the canonical thumbnail, which names it; without one
 * (the canonical itself missing), the slug's job is not done yet, or was deleted (410).
 */
async function makeRendition(env: Env, slug: Slug, r: Rendition, name: string): Promise<Response> {
	const canonical = isCanonical(r) ? null : await env.BUCKET.head(thumbnailKey(slug));
	const jobId = canonical?.customMetadata?.jobId;
	if (!jobId) throw (await env.BUCKET.head(goneKey(slug))) ? gone(name) : notReady(name);
	const made = await jobStub(env, jobId).rendition(renditionName(r));
	switch (made.status) {
		case "stored":
			return imageResponse(r, made.bytes, { size: made.bytes.length, etag: made.etag, uploaded: new Date(made.uploaded) });
		case "gone":
			throw gone(name);
		case "unavailable":
			throw new ApiError(
				503,
				"unavailable",
				`The thumbnail "${name}" could not be made just now; ask again shortly.`,
				{},
				{ "Retry-After": String(UNAVAILABLE_RETRY_S), "Cache-Control": "no-store" },
			);
		default:
			throw notReady(name);
	}
}

const gone = (name: string) =>
	new ApiError(
		410,
		"gone",
		`The thumbnail "${name}" was deleted by its owner.`,
		{},
		{ "Cache-Control": `public, max-age=${GONE_MAX_AGE_S}` },
	);

/** GET and HEAD (Hono answers HEAD with the GET route, minus the body). */
export const thumbnails = new Hono<{ Bindings: Env }>()
	// Public images: any page may show them, or read them into a canvas.
	.use(async (c, next) => {
		await next();
		const res = new Response(c.res.body, c.res); // a cached response's headers are immutable
		res.headers.set("Access-Control-Allow-Origin", "*");
		res.headers.set("Cross-Origin-Resource-Policy", "cross-origin");
		c.res = res;
	})
	.get(
		"/:file",
		describeRoute({
			tags: ["thumbnails"],
			summary: "A thumbnail rendition: public, cacheable for ever (GET and HEAD)",
			description:
				"`<slug>.webp` is the canonical 100x100 WebP; `<slug>@2x.webp` and `<slug>@3x.webp` the same picture at " +
				"200 and 300 px, and the same three in `.avif` and `.jpg`: nine renditions, one framing. One the job did " +
				"not make itself is made on its first request (EAGER_RENDITIONS), then served like the rest.",
			parameters: [
				{
					name: "file",
					in: "path",
					required: true,
					schema: { type: "string", pattern: "^[a-z0-9-]+(@[23]x)?\\.(webp|avif|jpg)$" },
					description: "<slug>.webp, <slug>@2x.avif, <slug>@3x.jpg…",
				},
			],
			responses: {
				200: {
					description: "The rendition",
					headers: { ...pick("ETag", "Cache-Control") },
					content: Object.fromEntries(
						Object.values(FORMATS).map(({ type }) => [type, { schema: { type: "string", contentMediaType: type } }]),
					),
				},
				304: { description: "Not modified (If-None-Match matched the ETag)", headers: pick("ETag", "Cache-Control") },
				404: problem("No such thumbnail yet: its job is not done, or never was"),
				410: problem("Its job was deleted by its owner (`gone`)"),
				500: problem("Something went wrong on our side"),
				503: problem("A rendition made on request could not be made just now (`unavailable`)", "Retry-After"),
			},
		}),
		async (c) => {
			const name = c.req.param("file");
			const file = parseFile(name);
			if (!file) throw notReady(name);
			const { slug, rendition } = file;

			const cache = caches.default;
			const cacheKey = renditionCacheKey(settings(c.env).PUBLIC_BASE_URL, slug, rendition);
			let response = await cache.match(cacheKey);
			if (!response) {
				const key = renditionKey(slug, rendition);
				const object = c.req.method === "HEAD" ? await c.env.BUCKET.head(key) : await c.env.BUCKET.get(key);
				if (object) {
					const body = "body" in object ? (object as R2ObjectBody).body : null;
					response = imageResponse(rendition, body, { size: object.size, etag: object.httpEtag, uploaded: object.uploaded });
				} else {
					response = await makeRendition(c.env, slug, rendition, name);
					if (c.req.method === "HEAD") {
						await response.body?.cancel();
						response = new Response(null, response);
					}
				}
				if (c.req.method !== "HEAD") c.executionCtx.waitUntil(cache.put(cacheKey, response.clone()));
			}
			const etag = response.headers.get("ETag") ?? "";
			if (matches(c.req.header("If-None-Match"), etag)) {
				await response.body?.cancel();
				const headers = new Headers(response.headers);
				headers.delete("Content-Length");
				return new Response(null, { status: 304, headers });
			}
			return response;
		},
	);
