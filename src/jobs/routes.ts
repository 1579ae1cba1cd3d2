import { Hono } from "hono";
import { JobId, JobLookup, TERMINAL_STATUSES, UploadOptions } from "../contracts";
import { settings } from "../config";
import { valid } from "../validate";
import { jobStub } from "./stubs";
import { jobNotFound, retryJob, submitUpload } from "./submit";
import { jobView } from "./view";

/** The job id in the path, or 404: a malformed id names no job. */
function jobIdParam(raw: string): JobId {
	const id = JobId.safeParse(raw);
	if (!id.success) throw jobNotFound(raw);
	return id.data;
}

export const jobs = new Hono<{ Bindings: Env }>()
	/** Upload an image; the thumbnail is made in the background. */
	.post("/", valid("query", UploadOptions), async (c) => {
		const { job, replayed } = await submitUpload(c.env, c.executionCtx, c.req.raw, c.req.valid("query"));
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, {
			Location: `/jobs/${job.id}`,
			"Cache-Control": "no-store",
			...(replayed && { "Idempotent-Replayed": "true" }),
		});
	})
	/** A job's state; `?wait=<s>` holds the answer until the status changes. */
	.get("/:id", valid("query", JobLookup), async (c) => {
		const id = jobIdParam(c.req.param("id"));
		const stub = jobStub(c.env, id);
		let job = await stub.get();
		if (!job) throw jobNotFound(id);
		const { wait } = c.req.valid("query");
		if (wait && !TERMINAL_STATUSES.includes(job.status)) job = (await stub.waitForChange(job.status, wait * 1000)) ?? job;
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 200, { "Cache-Control": "no-store" });
	})
	/** Try a job again that failed for a passing reason; it keeps its slug. */
	.post("/:id/retry", async (c) => {
		const job = await retryJob(c.env, jobIdParam(c.req.param("id")));
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, {
			Location: `/jobs/${job.id}`,
			"Cache-Control": "no-store",
		});
	});
