import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { NO_DETAILS } from "../../../src/base/contracts";
import { newJob, newJobInput, POLICY, setState } from "../render/support";

describe("JobObject", () => {
	afterEach(() => vi.restoreAllMocks());

	it("moves queued → processing with a lease, and refuses a second claim while it holds", async () => {
		const { stub } = await newJob();
		const first = await stub.begin();
		expect(first).toMatchObject({ proceed: true, job: { status: "processing", attempts: 1 } });
		expect(await stub.begin()).toEqual({ proceed: false, reason: "leased" });
	});

	it("holds an attempt's lease in memory: nothing is written until its outcome, which stores its count", async () => {
		const { stub } = await newJob();
		const stored = () =>
			runInDurableObject(stub, (_o, state) => state.storage.sql.exec("SELECT status, attempts, version FROM job").one());
		const queued = await stored();
		expect((await stub.begin()).proceed).toBe(true);
		expect(await stored()).toEqual(queued);
		expect(await stub.get()).toMatchObject({ status: "processing", attempts: 1, version: Number(queued.version) + 1 });
		// The outcome's write stores the attempt with it, at a version past the one the listing saw processing.
		await stub.succeed({ width: 100, height: 100, bytes: 300, etag: '"abc"' }, NO_DETAILS);
		expect(await stored()).toEqual({ status: "done", attempts: 1, version: Number(queued.version) + 2 });

		// An object evicted mid-attempt loses the lease: at worst a second render, never a stuck job.
		const { stub: other } = await newJob();
		await other.begin();
		await evictDurableObject(other);
		expect(await other.get()).toMatchObject({ status: "queued", attempts: 0 });
		expect(await other.begin()).toMatchObject({ proceed: true, job: { status: "processing", attempts: 1 } });
	});

	it("is created once: a second create returns the first job", async () => {
		const { id, stub } = await newJob();
		const again = await stub.create(newJobInput(id, "another", "image/gif"));
		expect(again).toMatchObject({ slug: `s-${id}`, original: { contentType: "image/png" } });
	});

	it("wakes a long-poll when the status changes, and times out otherwise", async () => {
		const { stub } = await newJob();
		const waiting = stub.waitForChange("queued", 10_000);
		await stub.begin();
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
		expect(await stub.begin()).toMatchObject({ proceed: false, reason: "exhausted", job: { status: "failed" } });
		expect(await stub.get()).toMatchObject({ status: "failed", error: { code: "timed_out" } });
		// No more watchdog: the one alarm left is the original's retention, days away.
		expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 86_400_000);
	});

	it("stops its watchdog once done, leaving only the retention alarm", async () => {
		const { stub } = await newJob();
		await stub.begin();
		await stub.succeed({ width: 100, height: 100, bytes: 300, etag: '"abc"' }, NO_DETAILS);
		expect(await stub.get()).toMatchObject({ status: "done", thumbnail: { width: 100, height: 100, bytes: 300 }, error: null });
		// The only alarm left is the original's retention, ORIGINAL_RETENTION_DAYS away; firing early changes nothing.
		expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 86_400_000);
		await runDurableObjectAlarm(stub);
		expect(await stub.get()).toMatchObject({ status: "done", originalDeletedAt: null });
	});
});
