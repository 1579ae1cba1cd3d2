import { Hono } from "hono";
import { rateLimit } from "../auth/limits";
import { type AuthEnv, requireKey } from "../auth/middleware";
import { JobId, JobListQuery, JobLookup, TERMINAL_STATUSES, UploadQuery } from "../contracts";
import { settings } from "../config";
import { valid } from "../validate";
import { listJobs } from "../listing/list";
import { deleteJob } from "./delete";
import { jobStub } from "./stubs";
import { jobNotFound, ownJob } from "./common";
import { redeliverWebhook, retryJob } from "./retry";
import { submitUpload } from "./submit";
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
	/**
	 * Upload an image; the thumbnail is made in the background. With `?wait=<s>` the answer
	 * waits (at most that long) for the job to end: 201 with the finished job, else 202.
	 */
	.post("/", uploads, valid("query", UploadQuery), async (c) => {
		const { wait, ...options } = c.req.valid("query");
		const submitted = await submitUpload(c.env, c.executionCtx, c.var.caller, c.req.raw, options, c.var.steps);
		const { replayed } = submitted;
		let { job } = submitted;
		if (wait && !TERMINAL_STATUSES.includes(job.status)) {
			job = (await c.var.steps.time("wait", () => jobStub(c.env, job.id).waitToEnd(wait * 1000))) ?? job;
		}
		// Without `wait` always 202, even for a replay of a job that has ended since.
		const ended = wait !== undefined && TERMINAL_STATUSES.includes(job.status);
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), ended ? 201 : 202, {
			Location: `/jobs/${job.id}`,
			"Cache-Control": "no-store",
			...(replayed && { "Idempotent-Replayed": "true" }),
		});
	})
	/** The caller's jobs, newest first, a page at a time. */
	.get("/", reads, valid("query", JobListQuery), async (c) => {
		const query = c.req.valid("query");
		const { items, nextCursor } = await listJobs(c.env, c.var.caller, query);
		const base = settings(c.env).PUBLIC_BASE_URL;
		const headers: Record<string, string> = { "Cache-Control": "no-store" };
		if (nextCursor) {
			const next = new URL("/jobs", base);
			next.searchParams.set("limit", String(query.limit));
			if (query.status) next.searchParams.set("status", query.status);
			next.searchParams.set("cursor", nextCursor);
			headers.Link = `<${next.pathname}${next.search}>; rel="next"`;
		}
		return c.json({ items: items.map((job) => jobView(job, base)), nextCursor }, 200, headers);
	})
	/** A job's state; `?wait=<s>` holds the answer until the status changes. */
	.get("/:id", reads, valid("query", JobLookup), async (c) => {
		const id = jobIdParam(c.req.param("id"));
		let job = await ownJob(c.env, c.var.caller, id);
		const { wait } = c.req.valid("query");
		if (wait && !TERMINAL_STATUSES.includes(job.status)) job = (await jobStub(c.env, id).waitForChange(job.status, wait * 1000)) ?? job;
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 200, { "Cache-Control": "no-store" });
	})
	/** Delete a job: its original and thumbnail go, its slug stays reserved, its URL answers 410. */
	.delete("/:id", uploads, async (c) => {
		await deleteJob(c.env, c.var.caller, jobIdParam(c.req.param("id")));
		return c.body(null, 204, { "Cache-Control": "no-store" });
	})
	/** Send the job's latest webhook event again (same webhook-id), from the start of the schedule. */
	.post("/:id/webhook/redeliver", uploads, async (c) => {
		const job = await redeliverWebhook(c.env, c.var.caller, jobIdParam(c.req.param("id")));
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, { "Cache-Control": "no-store" });
	})
	/** Try a job again that failed for a passing reason; it keeps its slug. */
	.post("/:id/retry", uploads, async (c) => {
		const job = await retryJob(c.env, c.var.caller, jobIdParam(c.req.param("id")));
		return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, {
			Location: `/jobs/${job.id}`,
			"Cache-Control": "no-store",
		});
	});
