import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JobErrorCode } from "../../../src/base/contracts";
import { ulid } from "../../../src/base/ids";
import type { jobStub } from "../../../src/objects";
import { expectProblem, request } from "../helpers";

import { newJob, row } from "../render/support";

describe("POST /jobs/:id/retry", () => {
	const failWith = async (stub: ReturnType<typeof jobStub>, code: JobErrorCode) => {
		await stub.begin();
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
