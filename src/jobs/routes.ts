import { Hono } from "hono";
import { rateLimit } from "../auth/limits";
import { type AuthEnv, requireKey } from "../auth/middleware";
import { JobId, JobLookup, TERMINAL_STATUSES, UploadOptions } from "../contracts";
import { settings } from "../config";
import { valid } from "../validate";
import { jobStub } from "./stubs";
import { jobNotFound, ownJob, retryJob, submitUpload } from "./submit";
import { jobView } from "./view";

/** The job id in the path, or 404: a malformed id names no job. */
function jobIdParam(raw: string): JobId {
	const id = JobId.safeParse(raw);
	if (!id.success) throw jobNotFound(raw);
	return id.data;
}

const uploads = rateLimit("UPLOAD_RATE_LIMITER", "uploads");
const reads = rateLimit("READ_RATE_LIMITER", "requests");

/** The caller's jobs; every route needs an API key, and sees only its owner's jobs. */
export const jobs = new Hono<AuthEnv>()
	.use(requireKey)
	/** Upload an image; the thumbnail is made in the background. */
	.post("/", uploads, valid("query", UploadOptions), async (c) => {
		const { job, replayed } = await submitUpload(c.env, c.executionCtx, c.var.caller, c.req.raw, c.req.valid("query"));
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, {
			Location: `/jobs/${job.id}`,
			"Cache-Control": "no-store",
			...(replayed && { "Idempotent-Replayed": "true" }),
		});
	})
	/** A job's state; `?wait=<s>` holds the answer until the status changes. */
	.get("/:id", reads, valid("query", JobLookup), async (c) => {
		const id = jobIdParam(c.req.param("id"));
		let job = await ownJob(c.env, c.var.caller, id);
		const { wait } = c.req.valid("query");
		if (wait && !TERMINAL_STATUSES.includes(job.status)) job = (await jobStub(c.env, id).waitForChange(job.status, wait * 1000)) ?? job;
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 200, { "Cache-Control": "no-store" });
	})
	/** Try a job again that failed for a passing reason; it keeps its slug. */
	.post("/:id/retry", uploads, async (c) => {
		const job = await retryJob(c.env, c.var.caller, jobIdParam(c.req.param("id")));
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, {
			Location: `/jobs/${job.id}`,
			"Cache-Control": "no-store",
		});
	});
