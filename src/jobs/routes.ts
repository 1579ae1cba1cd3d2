import { Hono } from "hono";
import { IdempotencyKey, JobId, JobLookup, TERMINAL_STATUSES, UploadOptions, originalKey } from "../contracts";
import { settings } from "../config";
import { ulid } from "../crypto";
import { ApiError } from "../errors";
import { ingestUpload } from "../uploads";
import { valid } from "../validate";
import type { Claim } from "./claims";
import { idempotencyClaim, jobStub, slugClaim } from "./stubs";
import { jobView } from "./view";

/** Replays of an upload with the same Idempotency-Key return its job, for a day. */
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
/** A key whose request made no job within this long died on the way: the key is free again. */
const ABANDONED_CLAIM_MS = 60_000;

const slugTaken = (slug: string) =>
	new ApiError(409, "slug_taken", `The slug "${slug}" belongs to another job; choose another or omit it.`, { slug });
const jobNotFound = (id: string) => new ApiError(404, "not_found", `No job with id "${id}".`);
const inProgress = () =>
	new ApiError(409, "idempotency_in_progress", "An upload with this Idempotency-Key is still in progress; retry shortly.");

/** The request's Idempotency-Key, and what identifies the upload it was first sent with. */
function idempotencyOf(req: Request, slug: string | undefined) {
	const key = req.headers.get("Idempotency-Key");
	if (key === null) return null;
	const parsed = IdempotencyKey.safeParse(key);
	if (!parsed.success) throw ApiError.invalid(parsed.error, "Idempotency-Key");
	// Multipart boundaries differ between retries; the length and chosen slug do not.
	return { key: parsed.data, fingerprint: `${req.headers.get("content-length") ?? ""}|${slug ?? ""}` };
}

export const jobs = new Hono<{ Bindings: Env }>()
	/** Upload an image; the thumbnail is made in the background. */
	.post("/", valid("query", UploadOptions), async (c) => {
		const { MAX_UPLOAD_BYTES, MAX_PIXELS } = settings(c.env);
		const query = c.req.valid("query");
		const idempotency = idempotencyOf(c.req.raw, query.slug);

		/**
		 * The job an earlier request with this Idempotency-Key created, answered as it
		 * was then; null when that request died before making its job (claim released).
		 */
		const replay = async (held: Claim) => {
			if (held.fingerprint !== idempotency?.fingerprint) {
				throw new ApiError(422, "idempotency_key_reused", "This Idempotency-Key came with a different upload; use a new key.");
			}
			const job = await jobStub(c.env, held.owner).get();
			if (!job) {
				if (Date.now() - held.claimedAt < ABANDONED_CLAIM_MS) throw inProgress();
				await idempotencyClaim(c.env, idempotency.key).release(held.owner);
				return null;
			}
			return c.json(jobView(job, c.req.url), 202, {
				Location: `/jobs/${job.id}`,
				"Cache-Control": "no-store",
				"Idempotent-Replayed": "true",
			});
		};
		if (idempotency) {
			const held = await idempotencyClaim(c.env, idempotency.key).holder();
			const replayed = held && (await replay(held));
			if (replayed) return replayed;
		}
		// Cheap early answer for a taken slug; the claim below is what decides.
		if (query.slug && (await slugClaim(c.env, query.slug).holder()) !== null) throw slugTaken(query.slug);

		const id = ulid();
		const key = originalKey(id);
		const upload = await ingestUpload(c.req.raw, c.env.BUCKET, key, { maxBytes: MAX_UPLOAD_BYTES, maxPixels: MAX_PIXELS });
		const undo: (() => Promise<void>)[] = [async () => c.env.BUCKET.delete(key)];
		try {
			const fields = UploadOptions.safeParse(upload.fields);
			if (!fields.success) throw ApiError.invalid(fields.error, "form");
			if (query.slug && fields.data.slug && query.slug !== fields.data.slug) {
				throw new ApiError(400, "invalid_parameter", "The query string and the form name different slugs.");
			}
			if (idempotency) {
				const claim = idempotencyClaim(c.env, idempotency.key);
				const held = await claim.claim(id, { fingerprint: idempotency.fingerprint, ttlMs: IDEMPOTENCY_TTL_MS });
				if (held.owner !== id) {
					// A concurrent request with the same key got there first: this upload is not needed.
					// (Thrown answers go through `undo`, which deletes it.)
					const replayed = await replay(held);
					if (!replayed) throw inProgress();
					c.executionCtx.waitUntil(c.env.BUCKET.delete(key));
					return replayed;
				}
				undo.push(() => claim.release(id));
			}
			// Without a chosen slug the job id is the slug: no other job can hold it.
			const slug = query.slug ?? fields.data.slug ?? id;
			// A slug claim is never given back, even if what follows fails: the job may exist
			// after all, and two jobs must never share a slug.
			if (slug !== id && (await slugClaim(c.env, slug).claim(id)).owner !== id) throw slugTaken(slug);
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
			for (const step of undo) c.executionCtx.waitUntil(step());
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
