import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { z } from "zod";
import { rateLimit } from "../access/limits";
import { type AuthEnv, requireKey } from "../access/middleware";
import { settings } from "../base/config";
import { JobId, JobListQuery, JobLookup, TERMINAL_STATUSES } from "../base/contracts";
import { bearer, empty, idParam, json, KEYED, problem } from "../http/describe";
import { JobView, jobView, uploadingView } from "../http/job-view";
import { valid } from "../http/validate";
import { listJobs } from "../listing/list";
import { jobStub } from "../objects";
import { jobNotFound, ownJobOrUpload } from "./common";
import { deleteJob } from "./delete";
import { redeliverWebhook, retryJob } from "./retry";

const idPath = idParam("The job id (a ULID)");
const notFound = problem("No such job, or another owner's (`not_found`)");
const JobPage = z.object({ items: z.array(JobView), nextCursor: z.string().nullable() }).meta({ id: "JobPage" });

/** The job id in the path, or 404: a malformed id names no job. */
function jobIdParam(raw: string): JobId {
	const id = JobId.safeParse(raw);
	if (!id.success) throw jobNotFound(raw);
	return id.data;
}

const uploads = rateLimit("UPLOAD_RATE_LIMITER", "uploads");
const reads = rateLimit("READ_RATE_LIMITER", "requests");

/**
 * The caller's jobs; every route needs an API key, and sees only its owner's jobs. (POST /jobs,
 * which makes one, is the upload's: upload/routes.ts.)
 */
export const jobs = new Hono<AuthEnv>()
	.use(requireKey)
	/** The caller's jobs, newest first, a page at a time. */
	.get(
		"/",
		describeRoute({
			tags: ["jobs"],
			summary: "The caller's jobs, newest first",
			security: bearer,
			responses: {
				200: json(JobPage, "A page; follow `nextCursor` (or the Link header) for the next", "Link"),
				...KEYED,
				400: problem("A bad parameter, or a cursor not issued for this listing (`invalid_cursor`)"),
				404: problem("Listing is off here (OWNER_INDEX_SHARDS = 0)"),
			},
		}),
		reads,
		valid("query", JobListQuery),
		async (c) => {
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
		},
	)
	/** A job's state; `?wait=<s>` holds the answer until the status changes. */
	.get(
		"/:id",
		describeRoute({
			tags: ["jobs"],
			summary: "A job's state; `wait` long-polls until it changes (not while uploading)",
			security: bearer,
			parameters: [idPath],
			responses: { 200: json(JobView, "The job"), ...KEYED, 404: notFound },
		}),
		reads,
		valid("query", JobLookup),
		async (c) => {
			const id = jobIdParam(c.req.param("id"));
			const found = await ownJobOrUpload(c.env, c.var.caller, id);
			const base = settings(c.env).PUBLIC_BASE_URL;
			if ("upload" in found) {
				// Terminated by its owner: a deleted job, as DELETE /jobs/<id> leaves one; refused or expired: none.
				if (found.upload.status === "gone" && found.upload.problem?.code !== "terminated") throw jobNotFound(id);
				return c.json(uploadingView(found.upload, base), 200, { "Cache-Control": "no-store" });
			}
			let { job } = found;
			const { wait } = c.req.valid("query");
			if (wait && !TERMINAL_STATUSES.includes(job.status))
				job = (await jobStub(c.env, id).waitForChange(job.status, wait * 1000)) ?? job;
			return c.json(jobView(job, base), 200, { "Cache-Control": "no-store" });
		},
	)
	/** Delete a job: its original and thumbnail go, its slug stays reserved, its URL answers 410. */
	.delete(
		"/:id",
		describeRoute({
			tags: ["jobs"],
			summary: "Delete a job: its original and thumbnail go, its slug stays taken, its URL answers 410",
			security: bearer,
			parameters: [idPath],
			responses: { 204: empty("Deleted (again: still 204)"), ...KEYED, 404: notFound },
		}),
		uploads,
		async (c) => {
			await deleteJob(c.env, c.var.caller, jobIdParam(c.req.param("id")));
			return c.body(null, 204, { "Cache-Control": "no-store" });
		},
	)
	/** Send the job's latest webhook event again (same webhook-id), from the start of the schedule. */
	.post(
		"/:id/webhook/redeliver",
		describeRoute({
			tags: ["webhooks"],
			summary: "Send the job's latest webhook event again (same webhook-id)",
			security: bearer,
			parameters: [idPath],
			responses: {
				202: json(JobView, "Redelivery scheduled"),
				...KEYED,
				404: notFound,
				409: problem("The job has no webhook event (`no_webhook`)"),
			},
		}),
		uploads,
		async (c) => {
			const job = await redeliverWebhook(c.env, c.var.caller, jobIdParam(c.req.param("id")));
			return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, { "Cache-Control": "no-store" });
		},
	)
	/** Try a job again that failed for a passing reason; it keeps its slug. */
	.post(
		"/:id/retry",
		describeRoute({
			tags: ["jobs"],
			summary: "Try again a job that failed for a passing reason (it keeps its id and slug)",
			security: bearer,
			parameters: [idPath],
			responses: {
				202: json(JobView, "Queued again", "Location"),
				...KEYED,
				404: notFound,
				409: problem(
					"Not failed, failed for a reason another attempt would not change, or its original is gone (`not_retryable`)",
				),
				429: problem("Over the key's rate, or the owner's jobs in flight", "Retry-After"),
			},
		}),
		uploads,
		async (c) => {
			const job = await retryJob(c.env, c.var.caller, jobIdParam(c.req.param("id")));
			return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), 202, {
				Location: `/jobs/${job.id}`,
				"Cache-Control": "no-store",
			});
		},
	);
