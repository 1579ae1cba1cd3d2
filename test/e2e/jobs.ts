/** What the e2e tests of jobs share: the API as owner A (or B), waiting for a job's end, checking its thumbnail. */
import { expect, inject } from "vitest";
import type { JobView as Job } from "../../src/http/job-view";
import { readWebpInfo } from "../../src/images/webp";
import { inspectImage, readFixture } from "./support.mjs";

export const base = inject("baseUrl");
export const { a: keyA, b: keyB } = inject("apiKeys");
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

/** Fetches a finished job's thumbnail and checks it really is a 100x100 WebP. */
export async function thumbnailOf(job: Job) {
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
	return { res, bytes, decoded };
}
