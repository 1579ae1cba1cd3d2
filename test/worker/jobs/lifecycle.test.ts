import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NO_DETAILS } from "../../../src/base/contracts";
import { ulid } from "../../../src/base/ids";
import { CANONICAL } from "../../../src/base/renditions";
import { originalKey, renditionCacheKey, thumbnailKey } from "../../../src/base/storage";
import type { JobView } from "../../../src/http/job-view";
import { jobStub } from "../../../src/objects";
import { CANONICAL_ONLY, env, expectProblem, newKey, pngLike, request, uniqueSlug, upload } from "../helpers";

/** A job taken to done as the consumer would: its thumbnail stored and recorded. */
async function doneJob() {
	const slug = uniqueSlug("del");
	const job = (await (await upload(pngLike(), { query: `?slug=${slug}` })).json()) as JobView;
	const stub = jobStub(env, job.id);
	await stub.begin();
	expect((await stub.storeThumbnail(CANONICAL_ONLY, NO_DETAILS, null))?.status).toBe("done");
	return { ...job, stub };
}

describe("DELETE /jobs/:id", () => {
	it("leaves a tombstone, deletes both objects, answers 410 for the thumbnail and purges the cached copy", async () => {
		const job = await doneJob();
		// Served once, so the edge cache holds it.
		expect((await request(`/thumbnails/${job.slug}.webp`)).status).toBe(200);
		const cacheKey = renditionCacheKey(env.PUBLIC_BASE_URL, job.slug, CANONICAL);
		await expect.poll(async () => (await caches.default.match(cacheKey)) !== undefined).toBe(true);

		const res = await request(`/jobs/${job.id}`, { method: "DELETE" });
		expect(res.status).toBe(204);
		const view = (await (await request(`/jobs/${job.id}`)).json()) as JobView & { deletedAt: string };
		expect(view).toMatchObject({ status: "deleted", original: { deletedAt: expect.any(String) } });
		expect(Date.parse(view.deletedAt)).toBeGreaterThan(Date.now() - 60_000);
		expect(await env.BUCKET.head(originalKey(job.id))).toBeNull();
		expect(await env.BUCKET.head(thumbnailKey(job.slug))).toBeNull();
		expect(await caches.default.match(cacheKey)).toBeUndefined();
		const gone = await request(`/thumbnails/${job.slug}.webp`, {}, null);
		expect(gone.status).toBe(410);
		expect(gone.headers.get("Cache-Control")).toBe("public, max-age=300");
		expect(await gone.json()).toMatchObject({ code: "gone" });
		// Listed as deleted.
		const listed = (await (await request("/jobs?status=deleted")).json()) as { items: JobView[] };
		expect(listed.items.map((j) => j.id)).toEqual([job.id]);
	});

	it("is idempotent, keeps the slug reserved, and is 404 for another owner", async () => {
		const job = await doneJob();
		const other = await newKey();
		await expectProblem(await request(`/jobs/${job.id}`, { method: "DELETE" }, other.secret), 404, "not_found");
		expect((await request(`/jobs/${job.id}`, { method: "DELETE" })).status).toBe(204);
		expect((await request(`/jobs/${job.id}`, { method: "DELETE" })).status).toBe(204);
		await expectProblem(await upload(pngLike(), { query: `?slug=${job.slug}` }), 409, "slug_taken");
		await expectProblem(await request(`/jobs/${ulid()}`, { method: "DELETE" }), 404, "not_found");
	});

	it("wins over a job being processed: the consumer stores nothing after the delete answered", async () => {
		// Deleted while Thumbor works: the consumer's write is refused.
		const a = (await (await upload(pngLike())).json()) as JobView;
		const stubA = jobStub(env, a.id);
		await stubA.begin();
		expect((await request(`/jobs/${a.id}`, { method: "DELETE" })).status).toBe(204);
		expect(await stubA.storeThumbnail(CANONICAL_ONLY, NO_DETAILS, null)).toBeNull();
		expect(await env.BUCKET.head(thumbnailKey(a.slug))).toBeNull();

		// Deleted while the thumbnail is being written (the delete reaches the job's object while
		// it waits for R2): the delete waits for the write, and what was written is removed again.
		const b = (await (await upload(pngLike())).json()) as JobView;
		const stubB = jobStub(env, b.id);
		await stubB.begin();
		const [stored, deleted] = await Promise.all([stubB.storeThumbnail(CANONICAL_ONLY, NO_DETAILS, null), stubB.delete()]);
		expect(stored?.status).toBe("deleted"); // written, then removed (null would mean refused before writing)
		expect(deleted).toMatchObject({ already: false, job: { status: "deleted" } });
		expect(await env.BUCKET.head(thumbnailKey(b.slug))).toBeNull();
		expect((await request(`/jobs/${b.id}`, { method: "DELETE" })).status).toBe(204);
		expect((await request(`/thumbnails/${b.slug}.webp`, {}, null)).status).toBe(410);
	});
});

describe("retention", () => {
	it("deletes an ended job's original after ORIGINAL_RETENTION_DAYS, says so, and then refuses a retry", async () => {
		const job = (await (await upload(pngLike())).json()) as JobView;
		const stub = jobStub(env, job.id);
		await stub.begin();
		await stub.fail({ code: "thumbor_unavailable", message: "test" });
		expect(await env.BUCKET.head(originalKey(job.id))).not.toBeNull();
		// 31 days later.
		await runInDurableObject(stub, (_o, state) => {
			state.storage.sql.exec("UPDATE job SET ended_at = ?", Date.now() - 31 * 86_400_000);
		});
		await runDurableObjectAlarm(stub);
		expect(await env.BUCKET.head(originalKey(job.id))).toBeNull();
		const view = (await (await request(`/jobs/${job.id}`)).json()) as JobView;
		expect(view.original).toMatchObject({ deletedAt: expect.any(String) });
		const refused = await expectProblem(await request(`/jobs/${job.id}/retry`, { method: "POST" }), 409, "not_retryable");
		expect(refused.detail).toMatch(/original has been deleted/);
	});
});

describe("jobs whose queue message may be lost (POST /admin/jobs/requeue)", () => {
	const admin = (body: unknown) =>
		request(
			"/admin/jobs/requeue",
			{ method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } },
			env.ADMIN_TOKEN,
		);

	it("requeues a queued job at once, leaves one in backoff to its alarm, breaks a lease only after a restart", async () => {
		const { ownerId } = await newKey();
		const waiting = jobStub(env, await uploadAs(ownerId));
		const leased = jobStub(env, await uploadAs(ownerId));
		const backoff = jobStub(env, await uploadAs(ownerId));
		expect((await leased.begin()).proceed).toBe(true);
		expect((await backoff.begin()).proceed).toBe(true);
		// A passing fault: the job's object puts it in backoff; its next attempt moved a minute away.
		expect((await backoff.attemptFailed({ code: "thumbor_unavailable", message: "down" }, false)).decision).toBe("retry");
		await runInDurableObject(backoff, async (_obj, state) => {
			state.storage.sql.exec("UPDATE job SET next_attempt_at = ?", Date.now() + 60_000);
			await state.storage.setAlarm(Date.now() + 60_000);
		});
		const version = async (stub: ReturnType<typeof jobStub>) => (await stub.get())!.version;
		const before = { waiting: await version(waiting), backoff: await version(backoff) };

		// Respecting leases (what an operator would run in production): the queued job only.
		expect(((await (await admin({})).json()) as { requeued: number }).requeued).toBeGreaterThanOrEqual(1);
		expect(await version(waiting)).toBeGreaterThan(before.waiting);
		expect((await leased.get())!.status).toBe("processing");
		expect(await version(backoff)).toBe(before.backoff);
		// After a restart (npm run dev): the lease is taken as held by a dead attempt.
		expect(((await (await admin({ abandonLeases: true })).json()) as { requeued: number }).requeued).toBeGreaterThanOrEqual(2);
		expect((await leased.get())!.status).toBe("queued");
		expect((await backoff.get())!.status).toBe("queued");
		expect((await backoff.get())!.nextAttemptAt).not.toBeNull();
		// The watchdog is armed for the queue's delivery, as for a new job.
		const alarm = await runInDurableObject(leased, (_obj, state) => state.storage.getAlarm());
		expect(alarm).toBeGreaterThan(Date.now() + 60_000);
	});

	it("needs ADMIN_TOKEN", async () => {
		await expectProblem(await request("/admin/jobs/requeue", { method: "POST", body: "{}" }), 401, "unauthorized");
	});
});

/** A job uploaded by a new key of `ownerId`: admitted in the owner's object, as every upload is. */
async function uploadAs(ownerId: string): Promise<string> {
	const { secret } = await newKey(ownerId);
	const res = await upload(pngLike(), { key: secret });
	expect(res.status).toBe(202);
	return ((await res.json()) as JobView).id;
}
