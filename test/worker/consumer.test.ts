import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type JobStatus, originalKey } from "../../src/contracts";
import { ulid } from "../../src/crypto";
import worker from "../../src/index";
import { backoffSeconds } from "../../src/jobs/consumer";
import { LEASE_MS, QUEUED_TIMEOUT_MS } from "../../src/jobs/object";
import { jobStub } from "../../src/jobs/stubs";
import { type ThumborOrigin, classifyThumborStatus, renderThumbnail } from "../../src/thumbor/client";
import { thumborOrigin } from "../../src/thumbor/origin";
import { settings } from "../../src/config";
import { WEBP, env, pngLike } from "./helpers";

/** A job as the upload handler leaves it: original in R2, state in its object. Thumbor is unreachable here. */
async function newJob() {
	const id = ulid();
	await env.BUCKET.put(originalKey(id), pngLike(), { httpMetadata: { contentType: "image/png" } });
	const stub = jobStub(env, id);
	await stub.create({ id, slug: `s-${id}`, original: { contentType: "image/png", bytes: 512, width: 1, height: 1 } });
	return { id, stub };
}

async function deliver(body: unknown, { attempts = 1, queue = "thumbnail-jobs" } = {}) {
	const batch = createMessageBatch(queue, [{ id: `m-${ulid()}`, timestamp: new Date(), attempts, body }]);
	const ctx = createExecutionContext();
	await worker.queue(batch, env);
	return getQueueResult(batch, ctx);
}

const setState = (stub: ReturnType<typeof jobStub>, status: JobStatus, attempts: number, leaseUntil: number | null = null) =>
	runInDurableObject(stub, (_obj, state) => {
		state.storage.sql.exec("UPDATE job SET status = ?, attempts = ?, lease_until = ?", status, attempts, leaseUntil);
	});

describe("queue consumer", () => {
	it("retries a job with backoff while Thumbor is unreachable, and says why", async () => {
		const { id, stub } = await newJob();
		const before = Date.now();
		const result = await deliver({ jobId: id });
		// (getQueueResult does not report the delay; the job's watchdog is set past it.)
		expect(result.retryMessages).toEqual([{ msgId: expect.any(String) }]);
		expect(result.explicitAcks).toEqual([]);
		const alarm = await runInDurableObject(stub, (_obj, state) => state.storage.getAlarm());
		expect(alarm).toBeGreaterThanOrEqual(before + backoffSeconds(1) * 1000 + QUEUED_TIMEOUT_MS);
		expect(await stub.get()).toMatchObject({
			status: "queued",
			attempts: 1,
			error: { code: "thumbor_unavailable" },
		});
	});

	it("fails the job with a reason once its attempts are used up, and acks the message", async () => {
		const { id, stub } = await newJob();
		await setState(stub, "queued", Number(env.MAX_ATTEMPTS) - 1);
		const result = await deliver({ jobId: id }, { attempts: 5 });
		expect(result.explicitAcks).toHaveLength(1);
		expect(result.retryMessages).toEqual([]);
		const job = await stub.get();
		expect(job).toMatchObject({ status: "failed", attempts: Number(env.MAX_ATTEMPTS), error: { code: "thumbor_unavailable" } });
		expect(job?.error?.message).toMatch(/Gave up after 5 attempts/);
	});

	it("finishes a job whose thumbnail an earlier attempt stored but did not record, without asking Thumbor again", async () => {
		const { id, stub } = await newJob();
		await setState(stub, "queued", 1);
		const bytes = WEBP.lossy100;
		const put = await env.BUCKET.put(`thumbnails/s-${id}.webp`, bytes, {
			customMetadata: { jobId: id, width: "100", height: "100" },
		});
		const result = await deliver({ jobId: id }); // Thumbor is unreachable here: any call would fail
		expect(result.explicitAcks).toHaveLength(1);
		expect(await stub.get()).toMatchObject({
			status: "done",
			attempts: 2,
			thumbnail: { width: 100, height: 100, bytes: bytes.length, etag: put.httpEtag },
		});
	});

	it("never overwrites a thumbnail that belongs to another job", async () => {
		const { id, stub } = await newJob();
		await setState(stub, "queued", 1);
		await env.BUCKET.put(`thumbnails/s-${id}.webp`, WEBP.lossy100, { customMetadata: { jobId: ulid() } });
		expect((await deliver({ jobId: id })).explicitAcks).toHaveLength(1);
		expect(await stub.get()).toMatchObject({ status: "failed", error: { code: "internal_error" } });
		expect((await env.BUCKET.head(`thumbnails/s-${id}.webp`))?.customMetadata?.jobId).not.toBe(id);
	});

	it("acks without work a job that is finished, leased by another delivery, or unknown", async () => {
		const done = await newJob();
		await setState(done.stub, "done", 1);
		const leased = await newJob();
		await setState(leased.stub, "processing", 1, Date.now() + LEASE_MS);
		for (const jobId of [done.id, leased.id, ulid()]) {
			const result = await deliver({ jobId });
			expect(result.explicitAcks).toHaveLength(1);
		}
		expect(await leased.stub.get()).toMatchObject({ status: "processing", attempts: 1 });
		expect(await done.stub.get()).toMatchObject({ status: "done", attempts: 1 });
	});

	it("drops malformed messages instead of retrying them forever", async () => {
		for (const body of [null, "x", { jobId: "../etc" }, { id: ulid() }]) {
			const result = await deliver(body);
			expect(result.explicitAcks).toHaveLength(1);
			expect(result.retryMessages).toEqual([]);
		}
	});

	it("fails jobs whose messages reach the dead-letter queue", async () => {
		const { id, stub } = await newJob();
		const result = await deliver({ jobId: id }, { queue: "thumbnail-jobs-dlq" });
		expect(result.explicitAcks).toHaveLength(1);
		expect(await stub.get()).toMatchObject({ status: "failed", error: { code: "timed_out" } });
		// A dead letter for a job that never existed is simply dropped.
		expect((await deliver({ jobId: ulid() }, { queue: "thumbnail-jobs-dlq" })).explicitAcks).toHaveLength(1);
	});

	it("keeps the messages of one batch independent", async () => {
		const a = await newJob();
		const b = await newJob();
		await setState(b.stub, "done", 1);
		const batch = createMessageBatch("thumbnail-jobs", [
			{ id: "a", timestamp: new Date(), attempts: 1, body: { jobId: a.id } },
			{ id: "b", timestamp: new Date(), attempts: 1, body: { jobId: b.id } },
		]);
		const ctx = createExecutionContext();
		await worker.queue(batch, env);
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual(["b"]);
		expect(result.retryMessages.map((m) => m.msgId)).toEqual(["a"]);
	});
});

describe("Thumbor answers", () => {
	const context = (attempt: number, { served = false, exists = true } = {}) => ({
		attempt,
		originalServed: async () => served,
		originalExists: async () => exists,
	});

	// Stand-ins for faults a live Thumbor cannot be made to show on demand.
	const answering = (...answers: (Response | Error)[]): ThumborOrigin => {
		return async () => {
			const next = answers.shift();
			if (!next) throw new Error("no more answers");
			if (next instanceof Error) throw next;
			return next;
		};
	};
	const webp = (bytes: Uint8Array) => new Response(bytes, { headers: { "Content-Type": "image/webp" } });

	it("asks once more at once when a connection drops (a pooled connection to a restarted Thumbor)", async () => {
		const rendered = await renderThumbnail(answering(new Error("Network connection lost."), webp(WEBP.lossy100)), "/x", context(1));
		expect(rendered.info).toEqual({ width: 100, height: 100, animated: false });
		await expect(
			renderThumbnail(answering(new Error("Network connection lost."), new Error("Network connection lost.")), "/x", context(1)),
		).rejects.toMatchObject({ permanent: false, error: { code: "thumbor_unavailable" } });
	});

	it("refuses output that is not a still 100x100 WebP", async () => {
		for (const bytes of [WEBP.lossless3x7, WEBP.animated5x4, pngLike()]) {
			await expect(renderThumbnail(answering(webp(bytes)), "/x", context(1))).rejects.toMatchObject({
				permanent: true,
				error: { code: "unexpected_output" },
			});
		}
	});

	it("maps each status, with what the Worker saw, to what it means for the job", async () => {
		expect(await classifyThumborStatus(400, context(1))).toMatchObject({ permanent: true, error: { code: "unprocessable_image" } });
		// 500 after Thumbor fetched the original: the image is at fault, once a retry agrees.
		expect(await classifyThumborStatus(500, context(1, { served: true }))).toMatchObject({
			permanent: false,
			error: { code: "unprocessable_image" },
		});
		expect(await classifyThumborStatus(500, context(2, { served: true }))).toMatchObject({
			permanent: true,
			error: { code: "unprocessable_image" },
		});
		// 500 without a fetch: Thumbor could not reach the Worker, however often it happens.
		expect(await classifyThumborStatus(500, context(4))).toMatchObject({ permanent: false, error: { code: "thumbor_unavailable" } });
		expect(await classifyThumborStatus(404, context(1))).toMatchObject({ permanent: false, error: { code: "original_missing" } });
		expect(await classifyThumborStatus(404, context(1, { exists: false }))).toMatchObject({
			permanent: true,
			error: { code: "original_missing" },
		});
		for (const status of [502, 503, 504]) expect((await classifyThumborStatus(status, context(3))).permanent).toBe(false);
	});
});

describe("JobObject", () => {
	it("moves queued → processing with a lease, and refuses a second claim while it holds", async () => {
		const { stub } = await newJob();
		const first = await stub.begin(5);
		expect(first).toMatchObject({ proceed: true, job: { status: "processing", attempts: 1 } });
		expect(await stub.begin(5)).toEqual({ proceed: false, reason: "leased" });
	});

	it("is created once: a second create returns the first job", async () => {
		const { id, stub } = await newJob();
		const again = await stub.create({ id, slug: "another", original: { contentType: "image/gif", bytes: 1, width: null, height: null } });
		expect(again).toMatchObject({ slug: `s-${id}`, original: { contentType: "image/png" } });
	});

	it("wakes a long-poll when the status changes, and times out otherwise", async () => {
		const { stub } = await newJob();
		const waiting = stub.waitForChange("queued", 10_000);
		await stub.begin(5);
		expect(await waiting).toMatchObject({ status: "processing" });
		const started = Date.now();
		expect(await stub.waitForChange("processing", 200)).toMatchObject({ status: "processing" });
		expect(Date.now() - started).toBeGreaterThanOrEqual(150);
	});

	it("has a watchdog that sends a stuck job again, and fails it once attempts run out", async () => {
		const { stub } = await newJob();
		await setState(stub, "processing", 1, Date.now() - 1);
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await stub.get()).toMatchObject({ status: "queued", attempts: 1 });
		// The re-sent message finds no attempts left: the job fails instead of looping.
		await setState(stub, "queued", 5);
		expect(await stub.begin(5)).toEqual({ proceed: false, reason: "exhausted" });
		expect(await stub.get()).toMatchObject({ status: "failed", error: { code: "timed_out" } });
		expect(await runDurableObjectAlarm(stub)).toBe(false);
	});

	it("stops its watchdog once done", async () => {
		const { stub } = await newJob();
		await stub.begin(5);
		await stub.succeed({ width: 100, height: 100, bytes: 300, etag: '"abc"' });
		expect(await stub.get()).toMatchObject({ status: "done", thumbnail: { width: 100, height: 100, bytes: 300 }, error: null });
		expect(await runDurableObjectAlarm(stub)).toBe(false);
	});
});

describe("where Thumbor is", () => {
	it("refuses a loopback ORIGINALS_BASE_URL when Thumbor runs in containers, which could never reach it", () => {
		expect(() => settings({ ...env, THUMBOR_URL: "", ORIGINALS_BASE_URL: "http://127.0.0.1:8787" })).toThrow(
			/public URL[\s\S]*ORIGINALS_BASE_URL/,
		);
	});

	it("uses THUMBOR_URL when it is set", async () => {
		const origin = thumborOrigin(env, "job:1");
		await expect(origin("/healthcheck", AbortSignal.timeout(5000))).rejects.toThrow();
	});

	it("routes to a ThumborContainer instance when THUMBOR_URL is empty", async () => {
		const origin = thumborOrigin({ ...env, THUMBOR_URL: "", ORIGINALS_BASE_URL: "https://thumbs.example" }, "job:1");
		// The test runtime has no container engine: reaching the object is what is checked here.
		await expect(origin("/healthcheck", AbortSignal.timeout(5000))).rejects.toThrow(/has no container/);
	});
});
