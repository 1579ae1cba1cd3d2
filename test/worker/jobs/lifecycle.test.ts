import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NO_DETAILS } from "../../../src/base/contracts";
import { ulid } from "../../../src/base/ids";
import { originalKey, thumbnailCacheKey, thumbnailKey } from "../../../src/base/storage";
import type { JobView } from "../../../src/http/job-view";
import { makeJob } from "../../../src/jobs/make";
import { PROCESSING_REPORT_DELAY_MS } from "../../../src/listing/reporter";
import { jobStub } from "../../../src/objects";
import { caller, digestOf, env, expectProblem, newKey, newTraceId, pngLike, request, uniqueSlug, upload, WEBP } from "../helpers";

type Page = { items: JobView[]; nextCursor: string | null };

/** A job of `ownerId` as the upload path leaves it (listed as it is made). */
async function seed(ownerId: string) {
	const id = ulid();
	await makeJob(env, createExecutionContext(), {
		id,
		ownerId,
		keyHash: null,
		callbackUrl: null,
		sha256: digestOf(id),
		slug: id,
		traceId: newTraceId(),
		original: { contentType: "image/png", bytes: 512, width: 16, height: 16 },
	});
	return id;
}

async function page(query: string, key = caller.secret) {
	const res = await request(`/jobs${query}`, {}, key);
	expect(res.status, await res.clone().text()).toBe(200);
	return { res, body: (await res.json()) as Page };
}

describe("GET /jobs", () => {
	it("pages through 250 jobs while 50 more arrive: every job exactly once, newest first", async () => {
		const seeded: string[] = [];
		for (let i = 0; i < 250; i += 25) seeded.push(...(await Promise.all(Array.from({ length: 25 }, () => seed(caller.ownerId)))));
		const arriving = (async () => {
			for (let i = 0; i < 50; i++) await seed(caller.ownerId);
		})();
		const seen: string[] = [];
		let query = "?limit=40";
		for (;;) {
			const { res, body } = await page(query);
			seen.push(...body.items.map((j) => j.id));
			if (!body.nextCursor) {
				expect(res.headers.get("Link")).toBeNull();
				break;
			}
			expect(res.headers.get("Link")).toBe(`</jobs?limit=40&cursor=${encodeURIComponent(body.nextCursor)}>; rel="next"`);
			query = `?limit=40&cursor=${encodeURIComponent(body.nextCursor)}`;
		}
		await arriving;
		expect(new Set(seen).size).toBe(seen.length);
		expect([...seen].sort().reverse()).toEqual(seen);
		for (const id of seeded) expect(seen).toContain(id);
	}, 60_000);

	it("filters by status, shows the job view, and shows another owner nothing", async () => {
		const ids = [await seed(caller.ownerId), await seed(caller.ownerId), await seed(caller.ownerId)];
		const failed = jobStub(env, ids[1]!);
		await failed.begin();
		await failed.fail({ code: "unprocessable_image", message: "test" });
		const { body } = await page("?status=failed");
		expect(body.items.map((j) => j.id)).toEqual([ids[1]]);
		expect(body.items[0]).toMatchObject({ status: "failed", error: { code: "unprocessable_image" }, slug: ids[1] });
		expect((await page("?status=queued")).body.items.map((j) => j.id)).toEqual([ids[2], ids[0]]);
		const other = await newKey();
		expect((await page("", other.secret)).body).toEqual({ items: [], nextCursor: null });
	});

	it("defaults to 50 a page, at most 100, and refuses a cursor it did not issue for this listing", async () => {
		await Promise.all(Array.from({ length: 60 }, () => seed(caller.ownerId)));
		const first = await page("");
		expect(first.body.items).toHaveLength(50);
		const cursor = first.body.nextCursor!;
		await expectProblem(await request("/jobs?limit=101"), 400, "invalid_parameter");
		const tampered = cursor.replace(/^./, (c) => (c === "A" ? "B" : "A"));
		await expectProblem(await request(`/jobs?cursor=${encodeURIComponent(tampered)}`), 400, "invalid_cursor");
		await expectProblem(await request(`/jobs?cursor=${encodeURIComponent(cursor)}&status=done`), 400, "invalid_cursor");
		const other = await newKey();
		await expectProblem(await request(`/jobs?cursor=${encodeURIComponent(cursor)}`, {}, other.secret), 400, "invalid_cursor");
		expect((await page(`?cursor=${encodeURIComponent(cursor)}`)).body.items).toHaveLength(10);
	});
});

describe("the listing index", () => {
	it("hears that a job is processing once its attempt has run a while; of one done sooner, only that it is done", async () => {
		const listed = async (id: string) => (await page("")).body.items.find((j) => j.id === id)?.status;
		const slow = await seed(caller.ownerId);
		await jobStub(env, slow).begin();
		expect(await listed(slow)).toBe("queued");
		await expect.poll(() => listed(slow), { timeout: PROCESSING_REPORT_DELAY_MS * 5 }).toBe("processing");

		const fast = await seed(caller.ownerId);
		const stub = jobStub(env, fast);
		await stub.begin();
		expect((await stub.storeThumbnail(WEBP.lossy100, { width: 100, height: 100 }, NO_DETAILS))?.status).toBe("done");
		await expect.poll(() => listed(fast)).toBe("done");
		// Nothing more comes: the put-off report of "processing" was dropped (only waiting shows that).
		await scheduler.wait(PROCESSING_REPORT_DELAY_MS + 300);
		expect(await listed(fast)).toBe("done");
	});

	it("hears again from the job's alarm of a change whose report was lost; leaves a waiting job alone", async () => {
		const id = await seed(caller.ownerId);
		const stub = jobStub(env, id);
		// A change the index never heard of (as if its report had failed).
		await runInDurableObject(stub, (_o, state) => {
			state.storage.sql.exec("UPDATE job SET status = 'failed', error_code = 'timed_out', version = version + 1");
			state.storage.sql.exec("UPDATE job SET status = 'queued', error_code = NULL, next_attempt_at = ?", Date.now() + 60_000);
		});
		expect((await page("?status=queued")).body.items.map((j) => j.id)).toContain(id);
		expect((await page("")).body.items.find((j) => j.id === id)?.error ?? null).toBeNull();
		// Its report failed: the job's object noted it (report_due), as #sendReport does.
		await runInDurableObject(stub, (_o, state) =>
			state.storage.sql.exec("UPDATE job SET error_code = 'thumbor_unavailable', report_due = version"),
		);
		await runDurableObjectAlarm(stub);
		expect((await page("")).body.items.find((j) => j.id === id)?.error?.code).toBe("thumbor_unavailable");
		// Woken before its next attempt was due: still queued, nothing sent, the alarm set for the attempt.
		expect((await stub.get())?.status).toBe("queued");
		expect(
			await runInDurableObject(stub, (_o, state) => state.storage.sql.exec("SELECT report_due FROM job").one().report_due),
		).toBeNull();
		const due = await runInDurableObject(
			stub,
			(_o, state) => state.storage.sql.exec<{ t: number }>("SELECT next_attempt_at AS t FROM job").one().t,
		);
		expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBe(due);
	});
});

/** A job taken to done as the consumer would: its thumbnail stored and recorded. */
async function doneJob() {
	const slug = uniqueSlug("del");
	const job = (await (await upload(pngLike(), { query: `?slug=${slug}` })).json()) as JobView;
	const stub = jobStub(env, job.id);
	await stub.begin();
	expect((await stub.storeThumbnail(WEBP.lossy100, { width: 100, height: 100 }, NO_DETAILS))?.status).toBe("done");
	return { ...job, stub };
}

describe("DELETE /jobs/:id", () => {
	it("leaves a tombstone, deletes both objects, answers 410 for the thumbnail and purges the cached copy", async () => {
		const job = await doneJob();
		// Served once, so the edge cache holds it.
		expect((await request(`/thumbnails/${job.slug}.webp`)).status).toBe(200);
		const cacheKey = thumbnailCacheKey(env.PUBLIC_BASE_URL, job.slug);
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
		expect((await page("?status=deleted")).body.items.map((j) => j.id)).toEqual([job.id]);
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
		expect(await stubA.storeThumbnail(WEBP.lossy100, { width: 100, height: 100 }, NO_DETAILS)).toBeNull();
		expect(await env.BUCKET.head(thumbnailKey(a.slug))).toBeNull();

		// Deleted while the thumbnail is being written (the delete reaches the job's object while
		// it waits for R2): the delete waits for the write, and what was written is removed again.
		const b = (await (await upload(pngLike())).json()) as JobView;
		const stubB = jobStub(env, b.id);
		await stubB.begin();
		const [stored, deleted] = await Promise.all([
			stubB.storeThumbnail(WEBP.lossy100, { width: 100, height: 100 }, NO_DETAILS),
			stubB.delete(),
		]);
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
