import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NO_DETAILS } from "../../../src/base/contracts";
import { columns, JOB, UPLOAD, WEBHOOK } from "../../../src/base/metrics";
import type { JobView } from "../../../src/http/job-view";
import { jobStub } from "../../../src/objects";
import { caller, env, expectProblem, pngLike, upload } from "../helpers";
import { deliver, msg, newJob } from "../render/support";

/** The data points written to the METRICS dataset, read back by column name. */
let written: Record<string, string | number | null>[];
beforeEach(() => {
	written = [];
	vi.spyOn(env.METRICS, "writeDataPoint").mockImplementation((point) => {
		const kind = [UPLOAD, JOB, WEBHOOK].find((k) => k.event === point?.blobs?.[0]);
		if (!kind) throw new Error(`an event of no known kind: ${JSON.stringify(point)}`);
		const named: Record<string, string | number | null> = { index: String(point?.indexes?.[0]) };
		for (const [name, column] of Object.entries(columns(kind))) {
			const [type, n] = [column.replace(/\d+$/, ""), Number(column.replace(/^\D+/, "")) - 1];
			named[name] = (type === "blob" ? point?.blobs?.[n] : point?.doubles?.[n]) as string | number | null;
		}
		written.push(named);
	});
});
afterEach(() => vi.restoreAllMocks());

describe("metrics (Analytics Engine)", () => {
	it("writes one event per upload answered: accepted with the image's facts, refused with its code", async () => {
		const res = await upload(pngLike(600, 20, 10));
		expect(res.status).toBe(202);
		await expectProblem(await upload(new TextEncoder().encode("not an image at all")), 415, "unsupported_media_type");
		await expectProblem(await upload(pngLike(), { key: "et_live_forged" }), 401, "unauthorized");
		expect(written).toEqual([
			{
				index: caller.ownerId,
				event: "upload",
				outcome: "accepted",
				code: null,
				imageType: "image/png",
				owner: caller.ownerId,
				status: 202,
				bytes: 600,
				pixels: 200,
				ms: expect.any(Number),
			},
			expect.objectContaining({ event: "upload", outcome: "refused", code: "unsupported_media_type", owner: caller.ownerId }),
			// Refused before the key was known: no owner.
			expect.objectContaining({ index: "", event: "upload", outcome: "refused", code: "unauthorized", owner: null, status: 401 }),
		]);
	});

	it("writes each job outcome with its steps' milliseconds, and each webhook attempt", async () => {
		const { id } = await newJob();
		await deliver(msg(id)); // Thumbor is down here: the attempt waits for a retry
		expect(written).toEqual([
			expect.objectContaining({
				index: caller.ownerId,
				event: "job",
				outcome: "retry",
				code: "thumbor_unavailable",
				imageType: "image/png",
				attempt: 1,
				originalBytes: 512,
				pixels: 1,
				thumborMs: expect.any(Number),
				beginMs: expect.any(Number),
			}),
		]);

		written = [];
		const created = (await (
			await upload(pngLike(), { query: `?callback_url=${encodeURIComponent("https://hooks.example/200")}` })
		).json()) as JobView;
		const stub = jobStub(env, created.id);
		await stub.begin();
		await stub.succeed({ width: 100, height: 100, bytes: 10, etag: '"e"' }, NO_DETAILS);
		await runDurableObjectAlarm(stub);
		expect(written.filter((w) => w.event === "webhook")).toEqual([
			{
				index: caller.ownerId,
				event: "webhook",
				result: "delivered",
				eventType: "job.done",
				owner: caller.ownerId,
				status: 200,
				ms: expect.any(Number),
				attempt: 1,
			},
		]);
	});
});
