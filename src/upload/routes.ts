/**
 * POST /jobs: an upload that becomes a job. Mounted at /jobs beside the job routes
 * (jobs/routes.ts): the upload is taken here, and the job it makes flows down into jobs/.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { rateLimit } from "../access/limits";
import { type AuthEnv, requireKey } from "../access/middleware";
import { settings } from "../base/config";
import { TERMINAL_STATUSES, UploadQuery } from "../base/contracts";
import { bearer, json, KEYED, problem } from "../http/describe";
import { JobView, jobView } from "../http/job-view";
import { valid } from "../http/validate";
import { jobStub } from "../objects";
import { submitUpload } from "./submit";

const image = { type: "string" as const, contentMediaType: "application/octet-stream" };
const uploads = rateLimit("UPLOAD_RATE_LIMITER", "uploads");

/**
 * Mounted before the job routes: its own key check runs for this route alone, and its answer
 * ends the request before theirs would run.
 */
export const submissions = new Hono<AuthEnv>()
	/**
	 * Upload an image; the thumbnail is made in the background. With `?wait=<s>` the answer
	 * waits (at most that long) for the job to end: 201 with the finished job, else 202.
	 */
	.post(
		"/",
		describeRoute({
			tags: ["jobs"],
			summary: "Upload an image",
			description:
				"The body is the image (JPEG, PNG, GIF, WebP, AVIF, HEIC or TIFF, typed by its bytes), raw or as the `file` part of a " +
				"multipart form (`slug` and `callback_url` may be form fields before it). " +
				"Answers 202 at once, or with `wait` 201 once the job has ended.",
			security: bearer,
			parameters: [
				{
					name: "Idempotency-Key",
					in: "header",
					required: false,
					schema: { type: "string", maxLength: 255 },
					description: "Makes a retried upload return the first one's job (24 hours)",
				},
			],
			requestBody: {
				required: true,
				content: {
					"image/*": { schema: image },
					"application/octet-stream": { schema: image },
					"multipart/form-data": {
						schema: {
							type: "object",
							required: ["file"],
							properties: { slug: { type: "string" }, callback_url: { type: "string" }, file: image },
						},
					},
				},
			},
			responses: {
				201: json(JobView, "With `wait`: the job has ended (done or failed)", "Location", "Idempotent-Replayed"),
				202: json(JobView, "The job is queued (or, with `wait`, still at work)", "Location", "Idempotent-Replayed"),
				...KEYED,
				400: problem("Empty body, malformed multipart, a bad parameter or callback URL, or the body ended early"),
				409: problem("The slug is taken (`slug_taken`), or a request with this Idempotency-Key is under way"),
				413: problem("Over MAX_UPLOAD_BYTES, or a form over its limits (`payload_too_large`)"),
				415: problem("Not a supported raster image (`unsupported_media_type`)"),
				422: problem("Too many pixels or JPEG scans, a zero-sized header, or an Idempotency-Key reused for another upload"),
				429: problem(
					"Over the key's upload rate (`rate_limited`), the owner's jobs in flight (`too_many_jobs_in_flight`) " +
						"or, with MONTHLY_UPLOAD_QUOTA, its month's uploads (`quota_exceeded`, with `limit`, `used`, `resetsAt`)",
					"Retry-After",
				),
			},
		}),
		requireKey,
		uploads,
		valid("query", UploadQuery),
		async (c) => {
			const { wait, ...options } = c.req.valid("query");
			const waitMs = (wait ?? 0) * 1000;
			const submitted = await submitUpload(c.env, c.executionCtx, c.var.caller, c.req.raw, options, c.var.steps, waitMs);
			const { replayed } = submitted;
			let { job } = submitted;
			// A new job has been waited for as it was made; a replayed one is waited for here.
			if (replayed && waitMs > 0 && !TERMINAL_STATUSES.includes(job.status)) {
				job = (await c.var.steps.time("wait", () => jobStub(c.env, job.id).waitToEnd(waitMs))) ?? job;
			}
			c.set("uploaded", job);
			// Without `wait` always 202, even for a replay of a job that has ended since.
			const ended = wait !== undefined && TERMINAL_STATUSES.includes(job.status);
			return c.json(jobView(job, settings(c.env).PUBLIC_BASE_URL), ended ? 201 : 202, {
				Location: `/jobs/${job.id}`,
				"Cache-Control": "no-store",
				...(replayed && { "Idempotent-Replayed": "true" }),
			});
		},
	);
