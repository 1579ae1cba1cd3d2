/** An owner's listing (src/listing/): GET /jobs over the sharded index, and what the index hears from each job. */
import { createExecutionContext, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { NO_DETAILS } from "../../../src/base/contracts";
import { ulid } from "../../../src/base/ids";
import type { JobView } from "../../../src/http/job-view";
import { makeJob } from "../../../src/jobs/make";
import { PROCESSING_REPORT_DELAY_MS } from "../../../src/listing/reporter";
import { jobStub } from "../../../src/objects";
import { CANONICAL_ONLY, caller, digestOf, env, expectProblem, newKey, newTraceId, request } from "../helpers";

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
		expect((await stub.storeThumbnail(CANONICAL_ONLY, NO_DETAILS, null))?.status).toBe("done");
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
