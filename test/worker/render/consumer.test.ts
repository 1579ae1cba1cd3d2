import {
	createExecutionContext,
	createMessageBatch,
	getQueueResult,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { retryDelayMs } from "../../../src/base/attempts";
import { ulid } from "../../../src/base/ids";
import worker from "../../../src/index";
import { LEASE_MS, QUEUED_TIMEOUT_MS } from "../../../src/jobs/dispatch";
import { env, request, WEBP } from "../helpers";

import { deliver, msg, newJob, POLICY, setState } from "./support";

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
