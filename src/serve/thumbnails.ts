import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { settings } from "../base/config";
import { Slug } from "../base/contracts";
import { GONE_MAX_AGE_S, goneKey, IMMUTABLE, thumbnailCacheKey, thumbnailKey } from "../base/storage";
import { pick, problem } from "../http/describe";
import { ApiError } from "../http/errors";

const notReady = (name: string) => new ApiError(404, "not_found", `No thumbnail "${name}" yet: it appears once its job is done.`);

/** True when an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks for it). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
	if (!ifNoneMatch) return false;
	const bare = (t: string) => t.trim().replace(/^W\//, "");
	return ifNoneMatch.split(",").some((t) => t.trim() === "*" || bare(t) === bare(etag));
}

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
			summary: "A thumbnail: public, cacheable for ever (GET and HEAD)",
			parameters: [{ name: "file", in: "path", required: true, schema: { type: "string" }, description: "<slug>.webp" }],
			responses: {
				200: {
					description: "The 100x100 WebP",
					headers: { ...pick("ETag", "Cache-Control") },
					content: { "image/webp": { schema: { type: "string", contentMediaType: "image/webp" } } },
				},
				304: { description: "Not modified (If-None-Match matched the ETag)", headers: pick("ETag", "Cache-Control") },
				404: problem("No such thumbnail yet: its job is not done, or never was"),
				410: problem("Its job was deleted by its owner (`gone`)"),
				500: problem("Something went wrong on our side"),
			},
		}),
		async (c) => {
			const name = c.req.param("file");
			const slug = Slug.safeParse(name.endsWith(".webp") ? name.slice(0, -5) : "");
			if (!slug.success) throw notReady(name);

			const cache = caches.default;
			const cacheKey = thumbnailCacheKey(settings(c.env).PUBLIC_BASE_URL, slug.data);
			let response = await cache.match(cacheKey);
			if (!response) {
				const object =
					c.req.method === "HEAD"
						? await c.env.BUCKET.head(thumbnailKey(slug.data))
						: await c.env.BUCKET.get(thumbnailKey(slug.data));
				if (!object) {
					if (await c.env.BUCKET.head(goneKey(slug.data))) {
						throw new ApiError(
							410,
							"gone",
							`The thumbnail "${name}" was deleted by its owner.`,
							{},
							{
								"Cache-Control": `public, max-age=${GONE_MAX_AGE_S}`,
							},
						);
					}
					throw notReady(name);
				}
				const body = "body" in object ? (object as R2ObjectBody).body : null;
				response = new Response(body, {
					headers: {
						"Content-Type": "image/webp",
						"Content-Length": String(object.size),
						ETag: object.httpEtag,
						"Cache-Control": IMMUTABLE,
						"Last-Modified": object.uploaded.toUTCString(),
					},
				});
				if (body) c.executionCtx.waitUntil(cache.put(cacheKey, response.clone()));
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
