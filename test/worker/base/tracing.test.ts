import { tracing } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { currentTraceId, inSpan, traceparent } from "../../../src/base/tracing";
import type { JobView } from "../../../src/http/job-view";
import { pngLike, upload } from "../helpers";
import { deliver, msg, newJob } from "../render/support";

/**
 * The test runtime does not record traces (every span context is zeros), so what our code asks
 * of the tracing API is recorded here instead: each span entered (through the real API) and
 * the attributes, exceptions and status set on it.
 */
function recordSpans() {
	const spans: { name: string; attributes: Record<string, unknown>; exceptions: unknown[]; status?: unknown }[] = [];
	const enterSpan = tracing.enterSpan.bind(tracing);
	vi.spyOn(tracing, "enterSpan").mockImplementation(((name: string, callback: (span: Span) => unknown) =>
		enterSpan(name, (span) => {
			const record = {
				name,
				attributes: {} as Record<string, unknown>,
				exceptions: [] as unknown[],
				status: undefined as unknown,
			};
			spans.push(record);
			const setAttributes = span.setAttributes.bind(span);
			vi.spyOn(span, "setAttributes").mockImplementation((attributes) => {
				Object.assign(record.attributes, attributes);
				return setAttributes(attributes);
			});
			vi.spyOn(span, "recordException").mockImplementation((e) => void record.exceptions.push(e));
			vi.spyOn(span, "setStatus").mockImplementation((s) => {
				record.status = s;
				return span;
			});
			return callback(span);
		})) as typeof tracing.enterSpan);
	return spans;
}

describe("tracing", () => {
	afterEach(() => vi.restoreAllMocks());

	it("gives an untraced invocation a trace id of its own, and W3C traceparents in it", () => {
		const id = currentTraceId();
		expect(id).toMatch(/^[0-9a-f]{32}$/);
		expect(id).not.toMatch(/^0+$/);
		expect(currentTraceId()).not.toBe(id); // nothing traced here: each call draws afresh
		expect(traceparent(id)).toMatch(new RegExp(`^00-${id}-[0-9a-f]{16}-00$`));
	});

	it("records a failed step's error on its span, and drops attributes without a value", async () => {
		const spans = recordSpans();
		await expect(
			inSpan("step", { "job.id": "j1", "image.pixels": undefined, "error.code": null }, async () => {
				throw new Error("Thumbor went away");
			}),
		).rejects.toThrow("Thumbor went away");
		expect(spans).toEqual([
			{
				name: "step",
				attributes: { "job.id": "j1" },
				exceptions: [expect.objectContaining({ message: "Thumbor went away" })],
				status: { code: "error", message: "Thumbor went away" },
			},
		]);
	});

	it("makes a span of each step of an upload, with the job's facts", async () => {
		const spans = recordSpans();
		const res = await upload(pngLike(600, 20, 10));
		expect(res.status).toBe(202);
		const job = (await res.json()) as JobView;
		const names = spans.map((s) => s.name);
		expect(names).toEqual(expect.arrayContaining(["request.auth", "request.admit", "request.store", "request.create"]));
		const create = spans.find((s) => s.name === "request.create")!;
		expect(create.attributes).toEqual({
			"job.id": job.id,
			"owner.id": expect.any(String),
			"image.type": "image/png",
			"image.bytes": 600,
			"image.pixels": 200,
		});
		expect(job.traceId).toMatch(/^[0-9a-f]{32}$/);
	});

	it("makes one span per consumer run, carrying the upload's trace id and how the attempt ended", async () => {
		const { id, stub } = await newJob();
		const job = (await stub.get())!;
		const spans = recordSpans();
		await deliver(msg(id));
		const run = spans.find((s) => s.name === "render.job")!;
		// Thumbor is down in these runs: the attempt waits for a retry.
		expect(run.attributes).toMatchObject({
			"job.id": id,
			"upload.trace_id": job.traceId,
			"job.attempt": 1,
			"job.outcome": "retry",
			"error.code": "thumbor_unavailable",
		});
		expect(spans.map((s) => s.name)).toEqual(expect.arrayContaining(["render.begin", "render.thumbor"]));
		expect(spans.find((s) => s.name === "render.thumbor")!.status).toMatchObject({ code: "error" });
	});
});
