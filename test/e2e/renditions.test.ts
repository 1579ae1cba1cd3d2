/**
 * Renditions, end to end through the real Thumbor: every member of the family decodes to its format
 * at its exact size, carries no metadata, and shows the same framing as the canonical; one not made
 * by the job is made on its first request, once however many ask at once; every URL the job lists
 * still answers after retention has deleted the original (made from the job's master); a delete
 * takes them all (410).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { uniqueJpeg } from "../../scripts/cost.mjs";
import type { JobView as Job } from "../../src/http/job-view";
import { api as apiOf, fixture, keyC } from "./jobs";
import { readLog, renditionsCheck, startOwnStack } from "./support.mjs";

const python = inject("python");
/** Owner C's API: these tests upload many jobs, which owner A's listing tests must not see. */
const api = (path: string, init: RequestInit = {}) => apiOf(path, init, keyC);
const logDir = inject("logDir");

/** Every rendition URL a job lists, in family order: webp, avif, jpg, each 1x, 2x, 3x. */
const urlsOf = (job: Job) =>
	(["webp", "avif", "jpg"] as const).flatMap((format) => (["1x", "2x", "3x"] as const).map((d) => job.renditions[format][d]));
const TYPES = ["image/webp", "image/avif", "image/jpeg"].flatMap((t) => [t, t, t]);
const FORMATS = ["WEBP", "AVIF", "JPEG"].flatMap((f) => [f, f, f]);
const SIDES = [100, 200, 300, 100, 200, 300, 100, 200, 300];

/** Owner C's upload of fixture `name` (with `unique`, its bytes made new: no other job's renditions to copy), taken to done. */
async function doneJob(name: string, { unique = false } = {}): Promise<Job> {
	const body = unique ? uniqueJpeg(Buffer.from(fixture(name)), `${name}-${Date.now()}`) : fixture(name);
	let job = (await (await api("/jobs?wait=30", { method: "POST", body })).json()) as Job;
	for (let i = 0; i < 4 && (job.status === "queued" || job.status === "processing"); i++) {
		job = (await (await api(`/jobs/${job.id}?wait=20`)).json()) as Job;
	}
	expect(job.status, JSON.stringify(job.error)).toBe("done");
	return job;
}

/** Thumbor's access-log lines for job `id` (its name ends the signed path). */
const originCalls = (id: string, dir = logDir) =>
	readLog(dir, "thumbor")
		.split("\n")
		.filter((line) => line.includes("edge.access") && line.includes(`/${id} `));

async function fetchAll(urls: string[]) {
	return Promise.all(
		urls.map(async (url) => {
			const res = await fetch(url);
			return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
		}),
	);
}

describe("renditions", () => {
	it.each([
		["photo-640x480.jpg"],
		["subject-right-1200x600.png"],
		["rotated-exif6.jpg"],
		["alpha-300x200.png"],
		["photo-1200x900.heic"],
		["p3-leaf.jpg"],
	])("%s: all nine decode to their format at their exact size, with no metadata and one framing", async (name) => {
		const job = await doneJob(name);
		const urls = urlsOf(job);
		expect(job.renditions.webp.srcset).toBe(`${urls[0]} 1x, ${urls[1]} 2x, ${urls[2]} 3x`);
		const fetched = await fetchAll(urls);
		for (const [i, { res }] of fetched.entries()) {
			expect(res.status, urls[i]).toBe(200);
			expect(res.headers.get("Content-Type")).toBe(TYPES[i]);
			expect(res.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
		}
		const checks = renditionsCheck(
			python,
			fetched.map((f) => f.bytes),
		);
		checks.forEach((check, i) => {
			expect(check, urls[i]).toMatchObject({ format: FORMATS[i], width: SIDES[i], height: SIDES[i], metadata: [] });
			if (check.format === "JPEG") expect(check.chroma).toBe("4:4:4");
			// The same crop at every size and in every format: a few levels apart once brought to one size.
			expect(check.framing, `${urls[i]} against the canonical`).toBeLessThan(6);
		});
		console.log(
			`${name}: ${fetched.map((f, i) => `${urls[i]!.split("/").pop()!.replace(job.slug, "")} ${f.bytes.length}`).join(", ")}`,
		);
	});

	it("frames an off-centre subject the same at 1x, 2x and 3x: the crop follows it, and stays put", async () => {
		const original = fixture("subject-right-1200x600.png");
		const job = await doneJob("subject-right-1200x600.png");
		const fetched = await fetchAll(urlsOf(job));
		const checks = renditionsCheck(
			python,
			fetched.map((f) => f.bytes),
			original,
		);
		// The renditions agree with one another, and none is the centred square a crop blind to the subject gives.
		expect(Math.max(...checks.map((c) => c.framing))).toBeLessThan(6);
		expect(Math.min(...checks.map((c) => c.centre!))).toBeGreaterThan(15);
	});

	it("makes a rendition on its first request once, however many ask at once; then serves it like the canonical", async () => {
		const job = await doneJob("photo-640x480.jpg", { unique: true });
		const url = job.renditions.avif["3x"];
		await expect.poll(() => originCalls(job.id).length).toBe(1); // the eager set's call, logged
		const before = 1;
		const answers = await fetchAll(Array.from({ length: 30 }, () => url));
		expect(answers.map((a) => a.res.status)).toEqual(Array(30).fill(200));
		expect(new Set(answers.map((a) => a.res.headers.get("ETag"))).size).toBe(1);
		expect(new Set(answers.map((a) => a.bytes.length)).size).toBe(1);
		await expect.poll(() => originCalls(job.id).length).toBe(before + 1);
		expect(originCalls(job.id).at(-1)).toMatch(/300x300\/smart\/filters:format\(avif\):quality\(\d+\):focus\([\d.]+,[\d.]+\)\//);

		const etag = answers[0]!.res.headers.get("ETag")!;
		const head = await fetch(url, { method: "HEAD" });
		expect(head.status).toBe(200);
		expect(head.headers.get("Content-Length")).toBe(String(answers[0]!.bytes.length));
		const notModified = await fetch(url, { headers: { "If-None-Match": etag } });
		expect(notModified.status).toBe(304);
		// A HEAD makes one too (it must say its length), and a URL outside the family is no rendition.
		const headFirst = await fetch(job.renditions.jpg["2x"], { method: "HEAD" });
		expect(headFirst.status).toBe(200);
		expect(headFirst.headers.get("Content-Type")).toBe("image/jpeg");
		for (const file of [`${job.slug}@4x.webp`, `${job.slug}@1x.webp`, `${job.slug}.png`, `${job.slug}@2x.gif`]) {
			expect((await fetch(`${job.thumbnailUrl.replace(/[^/]+$/, file)}`)).status, file).toBe(404);
		}
		await expect.poll(() => originCalls(job.id).length).toBe(before + 2);
	});

	it("an iPhone-like HEIC (a 320 px thumbnail stored): the job makes its canonical from the thumbnail, the @2x on request", async () => {
		const job = await doneJob("rotated-exif6.heic");
		// The eager call made the canonical only: a sharp @2x needs the whole HEVC decode, left to its first request.
		await expect.poll(() => originCalls(job.id).length).toBe(1);
		const x2 = await fetch(job.renditions.webp["2x"]);
		expect(x2.status).toBe(200);
		const [canonical, double] = await Promise.all(
			[job.thumbnailUrl, job.renditions.webp["2x"]].map(async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer())),
		);
		const checks = renditionsCheck(python, [canonical!, double!]);
		expect(checks.map((c) => [c.format, c.width, c.height])).toEqual([
			["WEBP", 100, 100],
			["WEBP", 200, 200],
		]);
		expect(checks[1]!.framing).toBeLessThan(6);
		await expect.poll(() => originCalls(job.id).length).toBe(2);
	});

	it("deletes every rendition with the job: made, made on request or never made, each answers 410", async () => {
		const job = await doneJob("photo-640x480.jpg");
		expect((await fetch(job.renditions.avif["1x"])).status).toBe(200);
		expect((await api(`/jobs/${job.id}`, { method: "DELETE" })).status).toBe(204);
		const after = await Promise.all(urlsOf(job).map((url) => fetch(url)));
		expect(after.map((r) => r.status)).toEqual(Array(9).fill(410));
	});
});

describe("renditions after retention", () => {
	let stack: Awaited<ReturnType<typeof startOwnStack>>;
	// Originals go 2 s after their job ends (ORIGINAL_RETENTION_DAYS is a number of days).
	beforeAll(async () => {
		stack = await startOwnStack({ ORIGINAL_RETENTION_DAYS: String(2 / 86_400) });
	});
	afterAll(async () => stack?.stop());

	it("every URL the job lists still answers once its original is gone: made from the job's master", async () => {
		const request = (path: string, init: RequestInit = {}) =>
			fetch(`${stack.baseUrl}${path}`, { ...init, headers: { Authorization: `Bearer ${stack.apiKey}` } });
		const original = fixture("subject-right-1200x600.png");
		const job = (await (await request("/jobs?wait=30", { method: "POST", body: original })).json()) as Job;
		expect(job.status).toBe("done");
		// One rendition asked for while the original is there, from it.
		const early = await fetch(job.renditions.jpg["3x"]);
		expect(early.status).toBe(200);
		await early.arrayBuffer();
		await expect
			.poll(async () => ((await (await request(`/jobs/${job.id}`)).json()) as Job).original?.deletedAt, { timeout: 20_000 })
			.toBeDefined();
		// The eager set, the JPEG, then the master (lossless, 300 px, the job's crop), before the original went.
		await expect.poll(() => originCalls(job.id, stack.logDir)).toHaveLength(3);
		expect(originCalls(job.id, stack.logDir)[2]).toMatch(/300x300\/smart\/filters:format\(webp\):quality\(100\):focus\(/);
		const fetched = await fetchAll(urlsOf(job));
		expect(fetched.map((f) => f.res.status)).toEqual(Array(9).fill(200));
		const checks = renditionsCheck(
			python,
			fetched.map((f) => f.bytes),
			original,
		);
		expect(checks.map((c) => [c.format, c.width, c.height])).toEqual(FORMATS.map((f, i) => [f, SIDES[i], SIDES[i]]));
		// The same framing, made from the master or not: the subject's, never the centred square.
		expect(Math.max(...checks.map((c) => c.framing))).toBeLessThan(6);
		expect(Math.min(...checks.map((c) => c.centre!))).toBeGreaterThan(15);
		// The six not made yet, each made once from the master (the eager two and the JPEG are stored).
		await expect.poll(() => originCalls(job.id, stack.logDir)).toHaveLength(9);
	});
});
