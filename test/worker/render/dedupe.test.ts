import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ImageDetails } from "../../../src/base/contracts";
import type { JobView } from "../../../src/http/job-view";
import worker from "../../../src/index";
import { digestClaim, jobStub } from "../../../src/objects";
import { CANONICAL_ONLY, caller, env, newKey, pngLike, request, upload, WEBP } from "../helpers";

type Deduped = JobView & { deduplicated?: boolean; deduplicatedFrom?: string };

/** Hands job `jobId`'s queue message to the consumer, as its object sends it. */
async function consume(jobId: string) {
	const job = (await jobStub(env, jobId).get())!;
	const body = { jobId, ownerId: job.ownerId, sha256: job.sha256 };
	const batch = createMessageBatch("thumbnail-jobs", [{ id: `m-${jobId}`, timestamp: new Date(), attempts: 1, body }]);
	const ctx = createExecutionContext();
	await worker.queue(batch, env);
	await getQueueResult(batch, ctx);
}

/** A job made from `image` and taken to done as the consumer does after Thumbor, bytes remembered. */
async function doneThroughThumbor(image: Uint8Array, key = caller.secret) {
	const job = (await (await upload(image, { key })).json()) as JobView;
	const stub = jobStub(env, job.id);
	await stub.begin();
	const done = (await stub.storeThumbnail(CANONICAL_ONLY, DETAILS, null))!;
	await digestClaim(env, done.ownerId, done.sha256!).claim(done.id);
	return done;
}

/** What Thumbor said of the first job's image. */
const DETAILS: ImageDetails = {
	placeholder: { thumbhash: "1QcSHQRnh493V4dIh4eXh1h4kJUI", color: "#3f6fa8" },
	facts: {
		format: "png",
		width: 16,
		height: 16,
		displayWidth: 16,
		displayHeight: 16,
		orientation: 1,
		rotated: false,
		frames: 1,
		animated: false,
		alpha: true,
		bitDepth: 8,
		colorSpace: "rgb",
		iccProfile: null,
	},
};

const view = async (id: string, key = caller.secret) => (await (await request(`/jobs/${id}`, {}, key)).json()) as Deduped;

describe("the same bytes twice", () => {
	it("copy the first job's thumbnail without asking Thumbor, and survive the first job's deletion", async () => {
		const image = pngLike(3000);
		const first = await doneThroughThumbor(image);
		const second = (await (await upload(image)).json()) as JobView;
		await consume(second.id); // Thumbor answers 503 in these tests: done means it was not asked
		expect(await view(second.id)).toMatchObject({ status: "done", attempts: 1, deduplicated: true, deduplicatedFrom: first.id });
		// The same bytes: the same placeholder and facts, though Thumbor was not asked.
		expect(await view(second.id)).toMatchObject({ placeholder: DETAILS.placeholder, original: { facts: DETAILS.facts } });
		const copy = await request(`/thumbnails/${second.slug}.webp`, {}, null);
		expect(new Uint8Array(await copy.arrayBuffer())).toEqual(WEBP.lossy100);

		expect((await request(`/jobs/${first.id}`, { method: "DELETE" })).status).toBe(204);
		expect((await request(`/thumbnails/${second.slug}.webp`, {}, null)).status).toBe(200);
		// The deleted job is no longer a source: a third upload goes to Thumbor (down here: it waits).
		const third = (await (await upload(image)).json()) as JobView;
		await consume(third.id);
		expect(await view(third.id)).toMatchObject({ status: "queued", error: { code: "thumbor_unavailable" } });
		expect((await view(third.id)).deduplicated).toBeUndefined();
	});

	it("are not shared across owners", async () => {
		const image = pngLike(2000);
		await doneThroughThumbor(image);
		const other = await newKey();
		const theirs = (await (await upload(image, { key: other.secret })).json()) as JobView;
		await consume(theirs.id);
		expect(await view(theirs.id, other.secret)).toMatchObject({ status: "queued", error: { code: "thumbor_unavailable" } });
	});
});
