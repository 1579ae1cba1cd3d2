import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JobView } from "../../../src/http/job-view";
import { jobStub } from "../../../src/objects";
import { env, expectProblem, pngLike, request, upload } from "../helpers";

type JobBody = JobView;

describe("GET /jobs/:id", () => {
	it("returns the job, and 404 for ids that do not exist or are not ids", async () => {
		const created = (await (await upload(pngLike(777))).json()) as JobBody;
		const res = await request(`/jobs/${created.id}`);
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		const job = (await res.json()) as JobBody;
		expect(job).toMatchObject({ id: created.id, slug: created.slug, original: { contentType: "image/png", bytes: 777 } });
		await expectProblem(await request("/jobs/01m8fr21cf4tp221dyc5rnn9yd"), 404, "not_found");
		await expectProblem(await request("/jobs/not-an-id"), 404, "not_found");
	});

	it("validates ?wait", async () => {
		const created = (await (await upload(pngLike())).json()) as JobBody;
		await expectProblem(await request(`/jobs/${created.id}?wait=600`), 400, "invalid_parameter");
		await expectProblem(await request(`/jobs/${created.id}?wait=soon`), 400, "invalid_parameter");
	});
});

describe("public URLs", () => {
	it("builds thumbnail URLs on PUBLIC_BASE_URL, never on the request's Host", async () => {
		const res = await request("/jobs", { method: "POST", body: pngLike(), headers: { Host: "evil.example" } });
		const job = (await res.json()) as JobBody;
		expect(job.thumbnailUrl).toBe(`https://img.example/thumbnails/${job.slug}.webp`);
		const again = (await (await request(`/jobs/${job.id}`, { headers: { Host: "evil.example" } })).json()) as JobBody;
		expect(again.thumbnailUrl).toBe(job.thumbnailUrl);
	});

	it("lists every rendition's URL and a ready srcset per format", async () => {
		const job = (await (await upload(pngLike())).json()) as JobBody;
		const at = (file: string) => `https://img.example/thumbnails/${job.slug}${file}`;
		expect(job.renditions.webp).toEqual({
			type: "image/webp",
			"1x": at(".webp"),
			"2x": at("@2x.webp"),
			"3x": at("@3x.webp"),
			srcset: `${at(".webp")} 1x, ${at("@2x.webp")} 2x, ${at("@3x.webp")} 3x`,
		});
		expect(job.renditions.webp["1x"]).toBe(job.thumbnailUrl);
		expect(job.renditions.avif).toMatchObject({ type: "image/avif", "3x": at("@3x.avif") });
		expect(job.renditions.jpg.srcset).toBe(`${at(".jpg")} 1x, ${at("@2x.jpg")} 2x, ${at("@3x.jpg")} 3x`);
	});
});

describe("GET /jobs/:id?wait", () => {
	it("answers as soon as the status changes", async () => {
		const created = (await (await upload(pngLike())).json()) as JobBody;
		const started = Date.now();
		const waiting = request(`/jobs/${created.id}?wait=20`);
		// Changed once the request is waiting on the job (not after a guess at how long it takes to get there).
		const stub = jobStub(env, created.id);
		await expect.poll(() => runInDurableObject(stub, (job) => job.longPolls)).toBe(1);
		await stub.begin();
		const job = (await (await waiting).json()) as JobBody;
		expect(job.status).toBe("processing");
		expect(Date.now() - started).toBeLessThan(10_000);
	});
});
