import { Hono } from "hono";
import { JobId, JobLookup, TERMINAL_STATUSES, UploadOptions, originalKey } from "../contracts";
import { settings } from "../config";
import { ulid } from "../crypto";
import { ApiError } from "../errors";
import { ingestUpload } from "../uploads";
import { valid } from "../validate";
import { jobStub, slugStub } from "./stubs";
import { jobView } from "./view";

const slugTaken = (slug: string) =>
	new ApiError(409, "slug_taken", `The slug "${slug}" belongs to another job; choose another or omit it.`, { slug });
const jobNotFound = (id: string) => new ApiError(404, "not_found", `No job with id "${id}".`);

export const jobs = new Hono<{ Bindings: Env }>()
	/** Upload an image; the thumbnail is made in the background. */
	.post("/", valid("query", UploadOptions), async (c) => {
		const { MAX_UPLOAD_BYTES, MAX_PIXELS } = settings(c.env);
		const query = c.req.valid("query");
		// Cheap early answer for a taken slug; the claim below is what decides.
		if (query.slug && (await slugStub(c.env, query.slug).owner()) !== null) throw slugTaken(query.slug);

		const id = ulid();
		const key = originalKey(id);
		const upload = await ingestUpload(c.req.raw, c.env.BUCKET, key, { maxBytes: MAX_UPLOAD_BYTES, maxPixels: MAX_PIXELS });
		try {
			const fields = UploadOptions.safeParse(upload.fields);
			if (!fields.success) throw ApiError.invalid(fields.error, "form");
			if (query.slug && fields.data.slug && query.slug !== fields.data.slug) {
				throw new ApiError(400, "invalid_parameter", "The query string and the form name different slugs.");
			}
			// Without a chosen slug the job id is the slug: no other job can hold it.
			const slug = query.slug ?? fields.data.slug ?? id;
			if (slug !== id && !(await slugStub(c.env, slug).claim(id))) throw slugTaken(slug);
			const job = await jobStub(c.env, id).create({
				id,
				slug,
				original: { contentType: upload.contentType, bytes: upload.bytes, width: upload.width, height: upload.height },
			});
			try {
				await c.env.JOB_QUEUE.send({ jobId: id });
			} catch (err) {
				// The job's watchdog alarm sends it again; the upload itself succeeded.
				console.error(`job ${id}: enqueue failed, leaving it to the watchdog`, err);
			}
			return c.json(jobView(job, c.req.url), 202, { Location: `/jobs/${id}`, "Cache-Control": "no-store" });
		} catch (err) {
			c.executionCtx.waitUntil(c.env.BUCKET.delete(key));
			throw err;
		}
	})
	/** A job's state; `?wait=<s>` holds the answer until the status changes. */
	.get("/:id", valid("query", JobLookup), async (c) => {
		const id = JobId.safeParse(c.req.param("id"));
		if (!id.success) throw jobNotFound(c.req.param("id"));
		const stub = jobStub(c.env, id.data);
		let job = await stub.get();
		if (!job) throw jobNotFound(id.data);
		const { wait } = c.req.valid("query");
		if (wait && !TERMINAL_STATUSES.includes(job.status)) job = (await stub.waitForChange(job.status, wait * 1000)) ?? job;
		return c.json(jobView(job, c.req.url), 200, { "Cache-Control": "no-store" });
	});
