import {
	createExecutionContext,
	createMessageBatch,
	getQueueResult,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AttemptError, type RetryPolicy, retryDelayMs } from "../../src/base/attempts";
import { settings } from "../../src/base/config";
import type { JobErrorCode, JobStatus } from "../../src/base/contracts";
import { ulid } from "../../src/base/ids";
import { originalKey } from "../../src/base/storage";
import worker from "../../src/index";
import { LEASE_MS, QUEUED_TIMEOUT_MS } from "../../src/jobs/job-object";
import { jobStub } from "../../src/objects";
import { classifyThumborAnswer, renderThumbnail, type ThumborOrigin } from "../../src/render/origin-client";
import { thumborOrigin } from "../../src/render/origins";
import { caller, env, expectProblem, pngLike, request, WEBP } from "./helpers";

const POLICY: RetryPolicy = settings(env).retry;

/** What the upload handler gives a new job's object: of this test's owner, no webhook, no digest. */
const newJobInput = (id: string, slug: string, contentType: "image/png" | "image/gif" = "image/png") => ({
	id,
	ownerId: caller.ownerId,
	keyHash: null,
	callbackUrl: null,
	sha256: null,
	indexShards: 8,
	slug,
	original: { contentType, bytes: 512, width: 1, height: 1 },
});

/** A job as the upload handler leaves it: original in R2, state in its object. Thumbor is unreachable here. */
async function newJob() {
	const id = ulid();
	await env.BUCKET.put(originalKey(id), pngLike(), { httpMetadata: { contentType: "image/png" } });
	const stub = jobStub(env, id);
	await stub.create(newJobInput(id, `s-${id}`));
	return { id, stub };
}

/** The queue message the job's object sends for job `jobId` (of this test's owner, no digest). */
const msg = (jobId: string) => ({ jobId, ownerId: caller.ownerId, sha256: null });

async function deliver(body: unknown, { attempts = 1, queue = "thumbnail-jobs", environment = env } = {}) {
	const batch = createMessageBatch(queue, [{ id: `m-${ulid()}`, timestamp: new Date(), attempts, body }]);
	const ctx = createExecutionContext();
	await worker.queue(batch, environment);
	return getQueueResult(batch, ctx);
}

const row = (stub: ReturnType<typeof jobStub>) =>
	runInDurableObject(stub, (_obj, state) => state.storage.sql.exec("SELECT * FROM job").one());

const setState = (stub: ReturnType<typeof jobStub>, status: JobStatus, attempts: number, leaseUntil: number | null = null) =>
	runInDurableObject(stub, (_obj, state) => {
		state.storage.sql.exec("UPDATE job SET status = ?, attempts = ?, lease_until = ?", status, attempts, leaseUntil);
	});

describe("queue consumer", () => {
	afterEach(() => vi.restoreAllMocks());

	it("acks a passing fault and leaves the backoff to the job's alarm, saying why and when", async () => {
		const { id, stub } = await newJob();
		const before = Date.now();
		const result = await deliver(msg(id));
		// Not a queue retry: those are capped in number, and an outage may last hours.
		expect(result.explicitAcks).toHaveLength(1);
		expect(result.retryMessages).toEqual([]);
		const alarm = (await runInDurableObject(stub, (_obj, state) => state.storage.getAlarm()))!;
		expect(alarm).toBeGreaterThanOrEqual(before + 0.8 * 4000);
		expect(alarm).toBeLessThanOrEqual(Date.now() + 1.2 * 4000);
		const job = await stub.get();
		expect(job).toMatchObject({ status: "queued", attempts: 1, error: { code: "thumbor_unavailable" }, nextAttemptAt: alarm });
		const view = await (await request(`/jobs/${id}`)).json();
		expect(view).toMatchObject({ nextAttemptAt: new Date(alarm).toISOString() });
	});

	it("starts the next attempt from the alarm once the backoff is over, then watches the job again", async () => {
		const { id, stub } = await newJob();
		await deliver(msg(id));
		// The backoff is over.
		await runInDurableObject(stub, (_obj, state) => {
			state.storage.sql.exec("UPDATE job SET next_attempt_at = ?", Date.now() - 1);
		});
		const warn = vi.spyOn(console, "warn");
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(warn).not.toHaveBeenCalled(); // a scheduled attempt, not a stuck job
		expect(await stub.get()).toMatchObject({ status: "queued", nextAttemptAt: null });
		const alarm = await runInDurableObject(stub, (_obj, state) => state.storage.getAlarm());
		expect(alarm).toBeGreaterThan(Date.now() + QUEUED_TIMEOUT_MS - 5000);
	});

	it("keeps a job through a long outage: many attempts, delays capped, still queued", async () => {
		const { id, stub } = await newJob();
		let due = 0;
		for (let i = 0; i < 12; i++) {
			await deliver(msg(id));
			due = (await stub.get())!.nextAttemptAt! - Date.now();
			// Time passes: the backoff is over and the alarm starts the next attempt.
			await runInDurableObject(stub, (_obj, state) => {
				state.storage.sql.exec("UPDATE job SET next_attempt_at = ?", Date.now() - 1);
			});
			await runDurableObjectAlarm(stub);
		}
		expect(await stub.get()).toMatchObject({ status: "queued", attempts: 12, error: { code: "thumbor_unavailable" } });
		// The 12th delay is capped at RETRY_MAX_DELAY_SECONDS (with its jitter).
		expect(due).toBeLessThanOrEqual(1.2 * POLICY.maxDelaySeconds * 1000);
		expect(due).toBeGreaterThanOrEqual(0.8 * POLICY.maxDelaySeconds * 1000 - 1000);
	});

	it("fails the job with a reason once its retry window is over, and acks the message", async () => {
		const { id, stub } = await newJob();
		const since = Date.now() - POLICY.windowSeconds * 1000 + 1000; // the next delay would pass the window
		await runInDurableObject(stub, (_obj, state) => {
			state.storage.sql.exec("UPDATE job SET attempts = 7, retries_since = ?", since);
		});
		const result = await deliver(msg(id));
		expect(result.explicitAcks).toHaveLength(1);
		const job = await stub.get();
		expect(job).toMatchObject({ status: "failed", attempts: 8, error: { code: "thumbor_unavailable" } });
		expect(job?.error?.message).toMatch(/Gave up after 8 attempts over 24 h 0 min/);
	});

	it("backs off exponentially with jitter, capped", () => {
		const mid = () => 0.5;
		expect([1, 2, 3, 4, 5, 8, 20].map((n) => retryDelayMs(n, POLICY, mid))).toEqual([
			4000, 8000, 16000, 32000, 64000, 512000, 600000,
		]);
		expect(retryDelayMs(1, POLICY, () => 0)).toBe(3200);
		expect(retryDelayMs(1, POLICY, () => 0.999_999)).toBeCloseTo(4800, -1);
	});

	it("finishes a job whose thumbnail an earlier attempt stored but did not record, without asking Thumbor again", async () => {
		const { id, stub } = await newJob();
		await setState(stub, "queued", 1);
		const bytes = WEBP.lossy100;
		const put = await env.BUCKET.put(`thumbnails/s-${id}.webp`, bytes, {
			customMetadata: { jobId: id, width: "100", height: "100" },
		});
		const result = await deliver(msg(id)); // Thumbor is unreachable here: any call would fail
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
		expect((await deliver(msg(id))).explicitAcks).toHaveLength(1);
		expect(await stub.get()).toMatchObject({ status: "failed", error: { code: "internal_error" } });
		expect((await env.BUCKET.head(`thumbnails/s-${id}.webp`))?.customMetadata?.jobId).not.toBe(id);
	});

	it("acks without work a job that is finished, leased by another delivery, or unknown", async () => {
		const done = await newJob();
		await setState(done.stub, "done", 1);
		const leased = await newJob();
		await setState(leased.stub, "processing", 1, Date.now() + LEASE_MS);
		for (const jobId of [done.id, leased.id, ulid()]) {
			const result = await deliver(msg(jobId));
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
		const result = await deliver(msg(id), { queue: "thumbnail-jobs-dlq" });
		expect(result.explicitAcks).toHaveLength(1);
		expect(await stub.get()).toMatchObject({ status: "failed", error: { code: "timed_out" } });
		// A dead letter for a job that never existed is simply dropped.
		expect((await deliver(msg(ulid()), { queue: "thumbnail-jobs-dlq" })).explicitAcks).toHaveLength(1);
	});

	it("handles each dead letter on its own: one whose job cannot be reached does not hold back the rest", async () => {
		const ok = await newJob();
		const unreachable = ulid();
		// A stand-in binding: the one fault a live object cannot be made to show on demand.
		const JOBS = new Proxy(env.JOBS, {
			get(target, prop) {
				if (prop === "get") {
					return (id: DurableObjectId) => {
						if (id.equals(target.idFromName(unreachable))) throw new Error("object unreachable");
						return target.get(id);
					};
				}
				const value = Reflect.get(target, prop);
				return typeof value === "function" ? value.bind(target) : value;
			},
		});
		const error = vi.spyOn(console, "error").mockImplementation(() => {});
		const batch = createMessageBatch("thumbnail-jobs-dlq", [
			{ id: "down", timestamp: new Date(), attempts: 1, body: msg(unreachable) },
			{ id: "ok", timestamp: new Date(), attempts: 1, body: msg(ok.id) },
		]);
		const ctx = createExecutionContext();
		await worker.queue(batch, { ...env, JOBS });
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual(["ok"]);
		expect(result.retryMessages.map((m) => m.msgId)).toEqual(["down"]);
		expect(error).toHaveBeenCalledWith(expect.stringMatching(/dead letter down/), expect.any(Error));
		expect(await ok.stub.get()).toMatchObject({ status: "failed" });
	});

	it("keeps the messages of one batch independent", async () => {
		const a = await newJob();
		const b = await newJob();
		await setState(b.stub, "done", 1);
		const batch = createMessageBatch("thumbnail-jobs", [
			{ id: "a", timestamp: new Date(), attempts: 1, body: msg(a.id) },
			{ id: "b", timestamp: new Date(), attempts: 1, body: msg(b.id) },
		]);
		const ctx = createExecutionContext();
		await worker.queue(batch, env);
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks.sort()).toEqual(["a", "b"]);
		expect(await b.stub.get()).toMatchObject({ status: "done", attempts: 1 });
		expect(await a.stub.get()).toMatchObject({ status: "queued", attempts: 1, error: { code: "thumbor_unavailable" } });
	});
});

describe("POST /jobs/:id/retry", () => {
	const failWith = async (stub: ReturnType<typeof jobStub>, code: JobErrorCode) => {
		await stub.begin(POLICY);
		await stub.fail({ code, message: "test" });
	};

	it("puts a job failed for a passing reason back in the queue, keeping its slug and attempt count", async () => {
		const { id, stub } = await newJob();
		await failWith(stub, "thumbor_unavailable");
		const res = await request(`/jobs/${id}/retry`, { method: "POST" });
		expect(res.status).toBe(202);
		expect(await res.json()).toMatchObject({ id, slug: `s-${id}`, status: "queued", attempts: 1 });
		expect((await stub.get())?.error).toBeNull();
		// A fresh retry window starts now.
		expect((await row(stub)).retries_since).toBeGreaterThan(Date.now() - 5000);
		const alarm = await runInDurableObject(stub, (_obj, state) => state.storage.getAlarm());
		expect(alarm).toBeGreaterThan(Date.now());
	});

	it("refuses jobs another attempt would not change (409), and unknown ids (404)", async () => {
		const bad = await newJob();
		await failWith(bad.stub, "unprocessable_image");
		const refused = await expectProblem(await request(`/jobs/${bad.id}/retry`, { method: "POST" }), 409, "not_retryable");
		expect(refused.detail).toMatch(/unprocessable_image/);
		const queued = await newJob();
		expect(
			(await expectProblem(await request(`/jobs/${queued.id}/retry`, { method: "POST" }), 409, "not_retryable")).detail,
		).toMatch(/it is queued/);
		await expectProblem(await request(`/jobs/${ulid()}/retry`, { method: "POST" }), 404, "not_found");
		await expectProblem(await request("/jobs/nope/retry", { method: "POST" }), 404, "not_found");
	});
});

describe("Thumbor answers", () => {
	const context = (attempt: number, previous: JobErrorCode | null = null) => ({ attempt, previousError: previous });

	// Stand-ins for faults a live Thumbor cannot be made to show on demand.
	const answering = (...answers: (Response | Error)[]): ThumborOrigin & { bodies: string[] } => {
		const bodies: string[] = [];
		return {
			bodies,
			async render(_path, original) {
				bodies.push(await new Response(original).text());
				const next = answers.shift();
				if (!next) throw new Error("no more answers");
				if (next instanceof Error) throw next;
				return next;
			},
			healthy: async () => true,
		};
	};
	const silent = (healthy: boolean): ThumborOrigin => ({
		render: (_path, _original, signal) =>
			new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
		healthy: async () => healthy,
	});
	/** The original, opened afresh on each call (as the consumer streams it from R2). */
	const original = () => async () => new Response("original bytes").body!;
	const webp = (bytes: Uint8Array) => new Response(bytes, { headers: { "Content-Type": "image/webp" } });

	it("sends the original in the request, and once more at once when a connection drops (a pooled connection to a restarted Thumbor)", async () => {
		const origin = answering(new Error("Network connection lost."), webp(WEBP.lossy100));
		const rendered = await renderThumbnail(origin, "/x", original(), context(1));
		expect(rendered.info).toEqual({ width: 100, height: 100, animated: false });
		expect(origin.bodies).toEqual(["original bytes", "original bytes"]);
		await expect(
			renderThumbnail(
				answering(new Error("Network connection lost."), new Error("Network connection lost.")),
				"/x",
				original(),
				context(1),
			),
		).rejects.toMatchObject({ permanent: false, error: { code: "thumbor_unavailable" } });
	});

	it("fails for good, without asking Thumbor, when the original is gone", async () => {
		const origin = answering(webp(WEBP.lossy100));
		const gone = async (): Promise<ReadableStream<Uint8Array>> => {
			throw new AttemptError({ code: "original_missing", message: "The original upload no longer exists." }, true);
		};
		await expect(renderThumbnail(origin, "/x", gone, context(1))).rejects.toMatchObject({
			permanent: true,
			error: { code: "original_missing" },
		});
		expect(origin.bodies).toEqual([]);
	});

	it("refuses output that is not a still 100x100 WebP", async () => {
		for (const bytes of [WEBP.lossless3x7, WEBP.animated5x4, pngLike()]) {
			await expect(renderThumbnail(answering(webp(bytes)), "/x", original(), context(1))).rejects.toMatchObject({
				permanent: true,
				error: { code: "unexpected_output" },
			});
		}
	});

	it("maps each answer to what it means for the job: our engine's refusals are about the image, the rest never is", () => {
		const classify = (status: number, refusal: string | null, ctx = context(1)) => classifyThumborAnswer(status, refusal, ctx);
		expect(classify(400, "undecodable")).toMatchObject({ permanent: true, error: { code: "unprocessable_image" } });
		expect(classify(400, "empty")).toMatchObject({ permanent: true, error: { code: "unprocessable_image" } });
		expect(classify(422, "too_large")).toMatchObject({ permanent: true, error: { code: "image_too_large" } });
		expect(classify(422, "too_complex")).toMatchObject({ permanent: true, error: { code: "image_too_complex" } });
		// Thumbor had the image and choked on it; final once a retry agrees.
		expect(classify(500, "crashed")).toMatchObject({ permanent: false, error: { code: "unprocessable_image" } });
		expect(classify(500, "crashed", context(5, "unprocessable_image"))).toMatchObject({
			permanent: true,
			error: { code: "unprocessable_image" },
		});
		// A second attempt after an outage has seen nothing against the image yet.
		expect(classify(500, "crashed", context(2, "thumbor_unavailable"))).toMatchObject({ permanent: false });
		expect(classify(503, "busy")).toMatchObject({ permanent: false, error: { code: "thumbor_unavailable" } });
		// Refused without a look at the image: a wrong key (Thumbor's 400 "Malformed URL"), a stock
		// Thumbor or one started without our thumbor.conf. Jobs wait for the fix, never fail as corrupt.
		for (const status of [400, 403, 404, 405]) {
			expect(classify(status, null, context(4, "thumbor_misconfigured"))).toMatchObject({
				permanent: false,
				error: { code: "thumbor_misconfigured", message: expect.stringMatching(/THUMBOR_SECURITY_KEY/) },
			});
		}
		// Without our header, even a 500 says nothing against the image.
		for (const status of [500, 502, 503, 504]) {
			expect(classify(status, null, context(3, "unprocessable_image"))).toMatchObject({
				permanent: false,
				error: { code: "thumbor_unavailable" },
			});
		}
	});

	it("blames the image when Thumbor, healthy, never answered it, twice; Thumbor itself when it does not answer its health check", async () => {
		await expect(renderThumbnail(silent(true), "/x", original(), context(1), 50)).rejects.toMatchObject({
			permanent: false,
			error: { code: "image_too_complex" },
		});
		await expect(renderThumbnail(silent(true), "/x", original(), context(2, "image_too_complex"), 50)).rejects.toMatchObject({
			permanent: true,
			error: { code: "image_too_complex" },
		});
		await expect(renderThumbnail(silent(false), "/x", original(), context(2, "image_too_complex"), 50)).rejects.toMatchObject({
			permanent: false,
			error: { code: "thumbor_unavailable" },
		});
	});
});

describe("JobObject", () => {
	afterEach(() => vi.restoreAllMocks());

	it("moves queued → processing with a lease, and refuses a second claim while it holds", async () => {
		const { stub } = await newJob();
		const first = await stub.begin(POLICY);
		expect(first).toMatchObject({ proceed: true, job: { status: "processing", attempts: 1 } });
		expect(await stub.begin(POLICY)).toEqual({ proceed: false, reason: "leased" });
	});

	it("is created once: a second create returns the first job", async () => {
		const { id, stub } = await newJob();
		const again = await stub.create(newJobInput(id, "another", "image/gif"));
		expect(again).toMatchObject({ slug: `s-${id}`, original: { contentType: "image/png" } });
	});

	it("wakes a long-poll when the status changes, and times out otherwise", async () => {
		const { stub } = await newJob();
		const waiting = stub.waitForChange("queued", 10_000);
		await stub.begin(POLICY);
		expect(await waiting).toMatchObject({ status: "processing" });
		const started = Date.now();
		expect(await stub.waitForChange("processing", 200)).toMatchObject({ status: "processing" });
		expect(Date.now() - started).toBeGreaterThanOrEqual(150);
	});

	it("has a watchdog that sends a stuck job again, and fails it once its retry window has passed", async () => {
		const { stub } = await newJob();
		await setState(stub, "processing", 1, Date.now() - 1);
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(warn).toHaveBeenCalledWith(expect.stringMatching(/found processing by its watchdog/));
		expect(await stub.get()).toMatchObject({ status: "queued", attempts: 1 });
		// Attempts that keep dying: once the window has passed the job fails instead of looping.
		await runInDurableObject(stub, (_obj, state) => {
			state.storage.sql.exec("UPDATE job SET retries_since = ?", Date.now() - POLICY.windowSeconds * 1000 - 1);
		});
		expect(await stub.begin(POLICY)).toEqual({ proceed: false, reason: "exhausted" });
		expect(await stub.get()).toMatchObject({ status: "failed", error: { code: "timed_out" } });
		// No more watchdog: the one alarm left is the original's retention, days away.
		expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 86_400_000);
	});

	it("stops its watchdog once done, leaving only the retention alarm", async () => {
		const { stub } = await newJob();
		await stub.begin(POLICY);
		await stub.succeed({ width: 100, height: 100, bytes: 300, etag: '"abc"' });
		expect(await stub.get()).toMatchObject({ status: "done", thumbnail: { width: 100, height: 100, bytes: 300 }, error: null });
		// The only alarm left is the original's retention, ORIGINAL_RETENTION_DAYS away; firing early changes nothing.
		expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 86_400_000);
		await runDurableObjectAlarm(stub);
		expect(await stub.get()).toMatchObject({ status: "done", originalDeletedAt: null });
	});
});

describe("where Thumbor is", () => {
	afterEach(() => vi.restoreAllMocks());

	it("POSTs the original to THUMBOR_URL when it is set", async () => {
		const fetch = vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("WORKING"));
		const origin = thumborOrigin({ ...env, THUMBOR_URL: "http://thumbor.internal:8888/" }, "job:1");
		const body = new Response("original").body!;
		expect(await (await origin.render("/sig/op/name", body, AbortSignal.timeout(5000))).text()).toBe("WORKING");
		expect(fetch).toHaveBeenCalledWith(
			"http://thumbor.internal:8888/sig/op/name",
			expect.objectContaining({ method: "POST", body }),
		);
		expect(await origin.healthy()).toBe(true);
		expect(fetch).toHaveBeenLastCalledWith("http://thumbor.internal:8888/healthcheck", expect.anything());
	});

	it("routes to a ThumborContainer instance when THUMBOR_URL is empty", async () => {
		const origin = thumborOrigin({ ...env, THUMBOR_URL: "" }, "job:1");
		// The test runtime has no container engine: reaching the object is what is checked here.
		const res = await origin.render("/sig/op/name", new Response("original").body!, AbortSignal.timeout(5000));
		expect(res.status).toBe(503);
		expect(await res.text()).toMatch(/has no container/);
		expect(await origin.healthy()).toBe(false);
	});
});
