import { describe, expect, it } from "vitest";
import { env, expectProblem, request, uniqueSlug } from "../helpers";

describe("GET|HEAD /thumbnails/<slug>.webp", () => {
	it("serves a stored thumbnail with its ETag, 304 on a match, HEAD without a body, 404 no-store when absent", async () => {
		const slug = uniqueSlug("thumb");
		const bytes = new Uint8Array([1, 2, 3, 4, 5]);
		const put = (await env.BUCKET.put(`thumbnails/${slug}.webp`, bytes))!;
		const res = await request(`/thumbnails/${slug}.webp`);
		expect(res.status).toBe(200);
		expect(res.headers.get("ETag")).toBe(put.httpEtag);
		expect(res.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
		expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
		const cached = await request(`/thumbnails/${slug}.webp`, { headers: { "If-None-Match": put.httpEtag } });
		expect(cached.status).toBe(304);
		expect(await cached.text()).toBe("");
		const head = await request(`/thumbnails/${slug}.webp`, { method: "HEAD" });
		expect(head.status).toBe(200);
		expect(head.headers.get("Content-Length")).toBe("5");
		expect(await head.text()).toBe("");
		await expectProblem(await request(`/thumbnails/${uniqueSlug("none")}.webp`), 404, "not_found");
		await expectProblem(await request(`/thumbnails/${slug}.png`), 404, "not_found");
	});
});
