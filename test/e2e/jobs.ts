/** What the e2e tests of jobs share: the API as owner A (or B), waiting for a job's end, checking its thumbnail. */
import { thumbHashToAverageRGBA } from "thumbhash";
import { expect, inject } from "vitest";
import { fromBase64 } from "../../src/base/crypto";
import type { JobView as Job } from "../../src/http/job-view";
import { readWebpInfo } from "../../src/images/webp";
import { inspectImage, readFixture } from "./support.mjs";

export const base = inject("baseUrl");
export const { a: keyA, b: keyB, c: keyC } = inject("apiKeys");
export const auth = (key = keyA) => ({ Authorization: `Bearer ${key}` });

/** A request to the API with owner A's key (or `key`). */
export const api = (path: string, init: RequestInit = {}, key = keyA) =>
	fetch(`${base}${path}`, { ...init, headers: { ...auth(key), ...(init.headers as Record<string, string>) } });

export const fixture = (name: string) => readFixture(inject("fixtures"), name);

/** Long-polls the job until it is done or failed. */
export async function settle(id: string): Promise<Job> {
	const deadline = Date.now() + 80_000;
	for (;;) {
		const res = await api(`/jobs/${id}?wait=20`);
		expect(res.status).toBe(200);
		const job = (await res.json()) as Job;
		if (job.status === "done" || job.status === "failed") return job;
		if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}: ${JSON.stringify(job)}`);
	}
}

/**
 * Fetches a finished job's thumbnail and checks it really is a 100x100 WebP, and that the job's
 * placeholder paints it: the reference ThumbHash decoder reads it back to the thumbnail's own
 * average colour, within 0.05 a channel (ThumbHash keeps about 6 bits of each). With `original`,
 * the job's facts must say what Pillow reads from it.
 */
export async function thumbnailOf(job: Job, original?: Uint8Array) {
	const res = await fetch(job.thumbnailUrl);
	expect(res.status).toBe(200);
	expect(res.headers.get("Content-Type")).toBe("image/webp");
	expect(res.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
	expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]+"$/);
	const bytes = new Uint8Array(await res.arrayBuffer());
	expect(readWebpInfo(bytes)).toEqual({ width: 100, height: 100, animated: false });
	const decoded = inspectImage(inject("python"), bytes);
	expect(decoded).toMatchObject({ format: "WEBP", width: 100, height: 100, frames: 1 });
	expect(job.thumbnail).toEqual({ width: 100, height: 100, bytes: bytes.length });
	expect(job.placeholder?.color).toMatch(/^#[0-9a-f]{6}$/);
	const painted = thumbHashToAverageRGBA(fromBase64(job.placeholder!.thumbhash));
	const apart = [painted.r, painted.g, painted.b].map((v, i) => Math.abs(v - decoded.mean[i]! / 255));
	expect(Math.max(...apart), `${job.placeholder!.thumbhash} against ${decoded.mean}`).toBeLessThan(0.05);
	if (original) {
		const read = inspectImage(inject("python"), original);
		const turned = read.orientation >= 5;
		expect(job.original?.facts).toMatchObject({
			format: read.format.toLowerCase(),
			width: read.width,
			height: read.height,
			displayWidth: turned ? read.height : read.width,
			displayHeight: turned ? read.width : read.height,
			orientation: read.orientation,
			rotated: read.orientation !== 1,
			frames: read.frames,
			animated: read.frames > 1,
			alpha: read.alpha,
		});
	}
	return { res, bytes, decoded };
}
