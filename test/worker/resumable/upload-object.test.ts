/**
 * The upload's object (resumable/upload-object.ts) as a client that misbehaves, or a runtime
 * that evicts it, would find it: the lock and the bytes survive eviction, a PATCH past
 * Upload-Length is refused whole, the last PATCH may be sent again, and the job's place is
 * taken before the last bytes are read.
 */
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ulid } from "../../../src/base/ids";
import { originalKey } from "../../../src/base/storage";
import { ownerStub, uploadStub } from "../../../src/objects";
import { caller, env, expectProblem, pngLike, request, slowly } from "../helpers";
import { created, head, jobOf, lockOf, madeLarge, offsetOf, patch, places } from "./support";

const MiB = 1024 * 1024;

describe("the upload's lock and bytes outlive its object's eviction", () => {
	it("a PATCH under way keeps the upload across an eviction: a second PATCH gets 423, the first ends 204", async () => {
		const image = pngLike(3000);
		const { url, id } = await created(image.length);
		// Ten pieces 150 ms apart: under the idle limit (1 s here), over a second in all.
		const first = patch(url, 0, slowly(image, 10, 150));
		await expect.poll(async () => (await lockOf(id)).token).not.toBeNull();
		await evictDurableObject(uploadStub(env, id));
		await expectProblem(await patch(url, 0, image), 423, "upload_locked");
		await evictDurableObject(uploadStub(env, id));
		expect((await first).status).toBe(204);
		expect((await jobOf(id)).status).toBe("queued");
	});

	it("a PATCH that stalls keeps every byte that came, though the object was evicted meanwhile (408)", async () => {
		const image = pngLike(6000);
		const { url, id } = await created(image.length);
		const first = patch(url, 0, slowly(image, 4, 10, { stallAfter: 2 }));
		await expect.poll(async () => (await lockOf(id)).token).not.toBeNull();
		await evictDurableObject(uploadStub(env, id));
		const problem = await expectProblem(await first, 408, "upload_stalled");
		expect(problem.offset).toBe(3000);
		expect(await offsetOf(url)).toBe(3000);
		expect((await patch(url, 3000, image.slice(3000))).status).toBe(204);
		expect(new Uint8Array(await (await env.BUCKET.get(originalKey(id)))!.arrayBuffer())).toEqual(image);
	});
});

describe("a PATCH past Upload-Length is refused whole", () => {
	it("declared (Content-Length): 413 before a byte is read, nothing kept, no job", async () => {
		const image = pngLike(4 * MiB, 1500, 1000);
		const { url, id } = await madeLarge(3 * MiB);
		await expectProblem(await patch(url, 0, image), 413, "payload_too_large");
		expect(await offsetOf(url)).toBe(0);
		expect((await request(`/jobs/${id}`)).status).toBe(200); // uploading, not a job
		expect((await jobOf(id)).status).toBe("uploading");
		expect(await lockOf(id)).toEqual({ token: null, pending: 0 });
	});

	it("not declared (a chunked body): 413 when the excess comes, and the slices kept before it are taken back", async () => {
		const image = pngLike(Math.floor(2.5 * MiB), 1500, 1000);
		const { url, id } = await madeLarge(Math.floor(1.5 * MiB));
		// A stream has no length: the Worker sees the excess only as it comes, after a slice went in.
		await expectProblem(await patch(url, 0, slowly(image, 5, 0)), 413, "payload_too_large");
		expect(await offsetOf(url)).toBe(0);
		expect(await lockOf(id)).toEqual({ token: null, pending: 0 });
		// The next PATCH starts from nothing, its head checked anew.
		const fits = image.slice(0, Math.floor(1.5 * MiB));
		expect((await patch(url, 0, slowly(fits, 3, 0))).status).toBe(204);
		expect(await jobOf(id)).toMatchObject({ status: "queued", original: { bytes: fits.length } });
	});
});

describe("the last PATCH", () => {
	it("sent again with no bytes, once the upload is finished: 204 with the same offset, as many times as it likes", async () => {
		const image = pngLike(3000);
		const { url } = await created(image.length);
		expect((await patch(url, 0, image)).status).toBe(204);
		for (let i = 0; i < 2; i++) {
			const again = await patch(url, 3000, new Uint8Array(0));
			expect(again.status).toBe(204);
			expect(again.headers.get("Upload-Offset")).toBe("3000");
		}
		await expectProblem(await patch(url, 3000, new Uint8Array(10)), 413, "payload_too_large");
	});

	it("takes a job's place before its bytes are read: with the owner's jobs at their cap, 429 and nothing changes", async () => {
		const image = pngLike(3000);
		const { url, id } = await created(image.length);
		expect((await patch(url, 0, image.slice(0, 1000))).status).toBe(204);
		const owner = ownerStub(env, caller.ownerId);
		for (let i = 0; i < 20; i++) expect(await owner.admit(ulid())).toBeNull(); // MAX_JOBS_IN_FLIGHT is 20 here
		const refused = await patch(url, 1000, image.slice(1000));
		expect(refused.headers.get("Retry-After")).toBe("10");
		await expectProblem(refused, 429, "too_many_jobs_in_flight");
		expect(await offsetOf(url)).toBe(1000);
		expect((await head(url)).status).toBe(200);
		expect(await places()).toEqual({ inFlight: 20, uploading: 1 });
		// Room again: the same PATCH goes through, and the upload becomes a job in a job's place.
		for (const job of (await owner.inFlightJobs()).slice(0, 5)) await owner.release(job);
		expect((await patch(url, 1000, image.slice(1000))).status).toBe(204);
		expect(await jobOf(id)).toMatchObject({ status: "queued" });
		expect(await places()).toEqual({ inFlight: 16, uploading: 0 });
	});
});
