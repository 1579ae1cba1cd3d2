import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { NO_DETAILS } from "../../../src/base/contracts";
import { EagerRenditions, parseFile, parseRenditionName, renditionName } from "../../../src/base/renditions";
import { originalKey, renditionKey } from "../../../src/base/storage";
import { CANONICAL_ONLY, env, expectProblem, request, uniqueSlug } from "../helpers";
import { newJob } from "../render/support";

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

describe("renditions: /thumbnails/<slug>[@2x|@3x].(webp|avif|jpg)", () => {
	it("names the family's nine files and nothing else", () => {
		expect(parseFile("cat.webp")).toEqual({ slug: "cat", rendition: { format: "webp", density: 1 } });
		expect(parseFile("cat@3x.avif")).toEqual({ slug: "cat", rendition: { format: "avif", density: 3 } });
		expect(parseFile("a-b@2x.jpg")).toEqual({ slug: "a-b", rendition: { format: "jpg", density: 2 } });
		for (const file of [
			"cat@1x.webp",
			"cat@4x.webp",
			"cat.jpeg",
			"cat.png",
			"cat@2x",
			"@2x.webp",
			"Cat.webp",
			"cat@2x.webp.webp",
		]) {
			expect(parseFile(file), file).toBeNull();
		}
		expect(parseRenditionName("jpg@3x")).toEqual({ format: "jpg", density: 3 });
		expect(parseRenditionName("png@1x")).toBeNull();
	});

	it("reads EAGER_RENDITIONS in the family's order, the canonical always first; refuses a name outside it", () => {
		expect(EagerRenditions.parse(" avif@1x, webp@2x,avif@1x ").map(renditionName)).toEqual(["webp@1x", "webp@2x", "avif@1x"]);
		expect(EagerRenditions.parse("").map(renditionName)).toEqual(["webp@1x"]);
		expect(() => EagerRenditions.parse("webp@2x,png@1x")).toThrow(/png@1x/);
	});

	it("serves a stored rendition with its own type; 404 before its job is done; 410 once deleted", async () => {
		const slug = uniqueSlug("rend");
		const avif = parseRenditionName("avif@2x")!;
		await env.BUCKET.put(renditionKey(slug, avif), new Uint8Array([1, 2, 3]));
		const res = await request(`/thumbnails/${slug}@2x.avif`);
		expect(res.status).toBe(200);
		expect(res.headers.get("Content-Type")).toBe("image/avif");
		expect(res.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
		await res.arrayBuffer();
		await expectProblem(await request(`/thumbnails/${uniqueSlug("none")}@3x.jpg`), 404, "not_found");
		const deleted = uniqueSlug("gone");
		await env.BUCKET.put(`gone/${deleted}`, new Uint8Array(0));
		for (const file of [`${deleted}@3x.jpg`, `${deleted}.webp`]) {
			const gone = await request(`/thumbnails/${file}`, {}, null);
			expect(gone.status).toBe(410);
			expect(gone.headers.get("Cache-Control")).toBe("public, max-age=300"); // a 410 may be cached, briefly
			expect(await gone.json()).toMatchObject({ code: "gone" });
		}
	});

	it("answers 503 with Retry-After, never cached, when the origin cannot make a rendition now", async () => {
		const { stub } = await newJob();
		await stub.begin();
		const job = (await stub.storeThumbnail(CANONICAL_ONLY, NO_DETAILS, "0.5000,0.5000"))!;
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		const res = await request(`/thumbnails/${job.slug}@3x.avif`, {}, null);
		await expectProblem(res, 503, "unavailable");
		expect(res.headers.get("Retry-After")).toBe("30");
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		expect(warn).toHaveBeenCalledWith(expect.stringMatching(/could not make rendition avif@3x \(thumbor_unavailable\)/));
		warn.mockRestore();
	});

	it("keeps the original past its retention while the job's master cannot be made, and tries again", async () => {
		const { id, stub } = await newJob();
		await stub.begin();
		await stub.storeThumbnail(CANONICAL_ONLY, NO_DETAILS, null);
		// Ended long ago: its retention is due.
		await runInDurableObject(stub, (_o, state) => {
			state.storage.sql.exec("UPDATE job SET ended_at = ?", Date.now() - 365 * 86_400_000);
		});
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		await runDurableObjectAlarm(stub);
		warn.mockRestore();
		expect(await env.BUCKET.head(originalKey(id))).not.toBeNull();
		expect(await stub.get()).toMatchObject({ status: "done", originalDeletedAt: null });
		// Tried again in an hour, not in a loop.
		const alarm = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm());
		expect(alarm).toBeGreaterThan(Date.now() + 50 * 60_000);
		expect(alarm).toBeLessThan(Date.now() + 70 * 60_000);
	});
});
