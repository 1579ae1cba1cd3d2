/**
 * One id finds everything about a job. An upload through the real `wrangler dev` and Thumbor,
 * then its story read back the way an operator would: the upload's spans and the consumer's
 * run from wrangler dev's local observability store (its query endpoint, the same SQL an
 * operator runs), linked by the job's trace id; the same id in Thumbor's access log and in the
 * job's log line.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { uniqueJpeg } from "../../scripts/cost.mjs";
import type { JobView } from "../../src/http/job-view";
import { readFixture, readLog, startOwnStack } from "./support.mjs";

// A stack of this test's own, with wrangler dev's trace store on (the shared stack runs without it).
let stack: Awaited<ReturnType<typeof startOwnStack>>;
let base: string;
let auth: Record<string, string>;
beforeAll(async () => {
	// The rest of the suite runs without wrangler dev's trace store (global-setup.mjs); this stack needs it.
	process.env.X_LOCAL_OBSERVABILITY = "true";
	stack = await startOwnStack();
	base = stack.baseUrl;
	auth = { Authorization: `Bearer ${stack.apiKey}` };
});
afterAll(async () => stack?.stop());

type Span = { trace_id: string; name: string; duration_ms: number; attributes: Record<string, unknown> };

/** Spans from wrangler dev's local store that `where` selects (SQL over its `spans` table). */
async function spans(where: string): Promise<Span[]> {
	const res = await fetch(`${base}/cdn-cgi/local/explorer/api/local/observability/query`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ sql: `SELECT trace_id, name, duration_ms, json(attributes) FROM spans WHERE ${where}` }),
	});
	const body = (await res.json()) as { success: boolean; result: { rows: [string, string, number, string | null][] } };
	expect(body.success, JSON.stringify(body)).toBe(true);
	return body.result.rows.map(([trace_id, name, duration_ms, attributes]) => ({
		trace_id,
		name,
		duration_ms,
		attributes: attributes ? JSON.parse(attributes) : {},
	}));
}

/** Whether spans named each of `names` are among `found`. */
const has = (found: Span[], names: string[]) => names.every((name) => found.some((s) => s.name === name));

/** Polls until `ready` holds of the spans `where` selects (the store is written as invocations end). */
async function spansUntil(where: string, ready: (found: Span[]) => boolean): Promise<Span[]> {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const found = await spans(where);
		if (ready(found) || Date.now() > deadline) return found;
		await new Promise((r) => setTimeout(r, 200));
	}
}

describe("one trace id per job", () => {
	it("links the upload's spans, the consumer's run, Thumbor's log line and the job's log line", async () => {
		const photo = uniqueJpeg(readFixture(inject("fixtures"), "photo-640x480.jpg"), `trace-${Date.now()}`);
		const res = await fetch(`${base}/jobs?wait=30`, { method: "POST", body: photo, headers: auth });
		expect(res.status).toBe(201);
		const job = (await res.json()) as JobView;
		expect(job.status).toBe("done");
		const id = job.traceId;
		expect(id).toMatch(/^[0-9a-f]{32}$/);

		// The upload's trace: its own steps, each a span, the job's facts on the request's root span
		// (with ?wait, the job is made and waited for in one step). The store records each span as its
		// invocation reports it: wait until they are in.
		const uploadSteps = ["POST", "request.auth", "request.ratelimit", "request.admit", "request.store", "request.wait"];
		const upload = await spansUntil(`trace_id = '${id}'`, (s) => has(s, uploadSteps));
		expect(upload.map((s) => s.name)).toEqual(expect.arrayContaining(uploadSteps));
		const root = upload.find((s) => s.name === "POST")!;
		expect(root.attributes).toMatchObject({
			"job.id": job.id,
			"owner.id": expect.any(String),
			"image.type": "image/jpeg",
			"image.bytes": photo.length,
			"image.pixels": 640 * 480,
			"http.response.status_code": 201,
		});
		expect(upload.find((s) => s.name === "request.store")!.attributes).toMatchObject({ "job.id": job.id });

		// The consumer's run is a trace of its own (a queue delivery), found by the upload's id.
		const linked = `json_extract(attributes, '$."upload.trace_id"') = '${id}'`;
		const run = await spansUntil(linked, (s) => has(s, ["render.job"]));
		const jobSpan = run.find((s) => s.name === "render.job")!;
		expect(jobSpan.attributes).toMatchObject({
			"job.id": job.id,
			"job.attempt": 1,
			"job.outcome": "done",
			"upload.trace_id": id,
			"image.type": "image/jpeg",
		});
		expect(jobSpan.trace_id).not.toBe(id);
		// Its steps are in that trace, under it.
		const runSteps = ["queue", "render.job", "render.begin", "render.thumbor", "render.store"];
		const inRun = await spansUntil(`trace_id = '${jobSpan.trace_id}'`, (s) => has(s, runSteps));
		expect(inRun.map((s) => s.name)).toEqual(expect.arrayContaining(runSteps));

		// Thumbor wrote the id in its access line for this job's request; the job's log line has it too.
		const thumborLine = readLog(stack.logDir, "thumbor")
			.split("\n")
			.find((line) => line.includes(`trace=${id}`));
		expect(thumborLine).toMatch(new RegExp(`edge.access:INFO POST /<signature>/.*/${job.id} 200 [\\d.]+ms in=${photo.length} `));
		expect(readLog(stack.logDir, "wrangler")).toMatch(new RegExp(`"event":"job.done","jobId":"${job.id}","traceId":"${id}"`));
	});
});
