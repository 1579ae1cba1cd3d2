/**
 * POST /jobs as a protocol: replay an Idempotency-Key, stream the upload into R2,
 * claim the key and the slug, make the job, enqueue it. Every step that can fail
 * after something was stored undoes what came before it.
 */
import { RETRYABLE_ERRORS } from "../attempts";
import { type Caller, type Job, UploadOptions } from "../contracts";
import { settings } from "../config";
import { ApiError } from "../errors";
import { ulid } from "../ids";
import { originalKey } from "../storage";
import { type Upload, type UploadLimits, ingestUpload } from "../uploads/ingest";
import { checkCallbackUrl } from "../webhooks/url";
import { claimKey, earlierJob, fingerprintOf, idempotencyKeyOf, releaseKey, replay } from "./idempotency";
import { jobStub, ownerStub, slugClaim } from "./stubs";

export const slugTaken = (slug: string) =>
	new ApiError(409, "slug_taken", `The slug "${slug}" belongs to another job; choose another or omit it.`, { slug });
export const jobNotFound = (id: string) => new ApiError(404, "not_found", `No job with id "${id}".`);

/** Reserves a place among the owner's jobs in flight for job `id`, or answers 429. */
async function admit(env: Env, ownerId: string, id: string): Promise<void> {
	const max = settings(env).MAX_JOBS_IN_FLIGHT;
	if (!(await ownerStub(env, ownerId).admit(id, max))) {
		throw new ApiError(
			429,
			"too_many_jobs_in_flight",
			`You have ${max} jobs queued or processing, the most one owner may have; wait for some to finish.`,
			{ limit: max },
			{ "Retry-After": "10" },
		);
	}
}

/** The caller's job `id`; another owner's job is as absent as one that never existed (404). */
export async function ownJob(env: Env, caller: Caller, id: string): Promise<Job> {
	const job = await jobStub(env, id).get();
	if (!job || job.ownerId !== caller.ownerId) throw jobNotFound(id);
	return job;
}

/** The options given in the query string or in form fields before `file` (each in one place only). */
function chosenOptions(query: UploadOptions, upload: Upload): UploadOptions {
	const fields = UploadOptions.safeParse(upload.fields);
	if (!fields.success) throw ApiError.invalid(fields.error, "form");
	for (const name of ["slug", "callback_url"] as const) {
		if (query[name] !== undefined && fields.data[name] !== undefined && query[name] !== fields.data[name]) {
			throw new ApiError(400, "invalid_parameter", `The query string and the form give different values for ${name}.`);
		}
	}
	return { slug: query.slug ?? fields.data.slug, callback_url: query.callback_url ?? fields.data.callback_url };
}

const chosenSlug = (query: UploadOptions, upload: Upload) => chosenOptions(query, upload).slug;

/** Makes a job of the upload in `req`; `replayed` when an Idempotency-Key named an earlier one. */
export async function submitUpload(
	env: Env,
	ctx: Pick<ExecutionContext, "waitUntil">,
	caller: Caller,
	req: Request,
	query: UploadOptions,
): Promise<{ job: Job; replayed: boolean }> {
	const cfg = settings(env);
	const limits: UploadLimits = { maxBytes: cfg.MAX_UPLOAD_BYTES, maxPixels: cfg.MAX_PIXELS, maxJpegScans: cfg.MAX_JPEG_SCANS };
	const { ownerId } = caller;
	// A bad callback URL in the query is refused before the body is read.
	if (query.callback_url !== undefined) checkCallbackUrl(query.callback_url, cfg.webhookDevHosts);
	const key = idempotencyKeyOf(req);
	const earlier = key ? await earlierJob(env, ownerId, key) : null;
	if (earlier) {
		// Same key again: read the body only to compare it with the first one; store nothing.
		const upload = await ingestUpload(req, null, limits);
		return { job: replay(earlier, fingerprintOf(upload.sha256, chosenSlug(query, upload))), replayed: true };
	}
	// Cheap early answer for a taken slug; the claim below is what decides.
	if (query.slug && (await slugClaim(env, query.slug).holder()) !== null) throw slugTaken(query.slug);

	const id = ulid();
	await admit(env, ownerId, id);
	const undo: (() => Promise<void>)[] = [() => ownerStub(env, ownerId).release(id)];
	try {
		const upload = await ingestUpload(req, { bucket: env.BUCKET, key: originalKey(id) }, limits);
		undo.push(() => env.BUCKET.delete(originalKey(id)));
		const options = chosenOptions(query, upload);
		const chosen = options.slug;
		const callbackUrl = options.callback_url === undefined ? null : checkCallbackUrl(options.callback_url, cfg.webhookDevHosts);
		if (key) {
			const winner = await claimKey(env, ownerId, key, id, fingerprintOf(upload.sha256, chosen));
			if (winner) {
				// A concurrent request with the same key made the job: this upload is not needed.
				for (const step of undo) ctx.waitUntil(step());
				return { job: winner, replayed: true };
			}
			undo.push(() => releaseKey(env, ownerId, key, id));
		}
		// Without a chosen slug the job id is the slug: no other job can hold it.
		const slug = chosen ?? id;
		// A slug claim is never given back, even if what follows fails: the job may exist
		// after all, and two jobs must never share a slug.
		if (slug !== id && (await slugClaim(env, slug).claim(id)).owner !== id) throw slugTaken(slug);
		const job = await jobStub(env, id).create({
			id,
			ownerId,
			keyHash: caller.keyHash,
			callbackUrl,
			indexShards: cfg.OWNER_INDEX_SHARDS,
			slug,
			original: { contentType: upload.contentType, bytes: upload.bytes, width: upload.width, height: upload.height },
		});
		await enqueue(env, id);
		return { job, replayed: false };
	} catch (err) {
		for (const step of undo) ctx.waitUntil(step());
		throw err;
	}
}

/**
 * POST /jobs/<id>/retry: a job that failed for a reason that says nothing
 * against its image goes back in the queue, keeping its id and slug.
 */
export async function retryJob(env: Env, caller: Caller, id: string): Promise<Job> {
	const current = await ownJob(env, caller, id);
	if (!isRetryable(current)) throw notRetryable(current);
	await admit(env, caller.ownerId, id);
	const result = await jobStub(env, id).retry(RETRYABLE_ERRORS);
	if (!result?.requeued) {
		// Changed in the meantime (retried by another request, say).
		await ownerStub(env, caller.ownerId).release(id);
		throw notRetryable(result?.job ?? current);
	}
	await enqueue(env, id);
	return result.job;
}

const isRetryable = (job: Job) =>
	job.status === "failed" && job.originalDeletedAt === null && job.error !== null && RETRYABLE_ERRORS.includes(job.error.code);

function notRetryable(job: Job): ApiError {
	const why =
		job.status !== "failed"
			? `it is ${job.status}; only a failed job can be retried`
			: job.originalDeletedAt !== null
				? "its original has been deleted (ORIGINAL_RETENTION_DAYS); upload the image again"
				: `it failed with ${job.error?.code}, which another attempt would not change; upload a different image`;
	return new ApiError(409, "not_retryable", `Job "${job.id}" cannot be retried: ${why}.`, {
		jobStatus: job.status,
		retryable: RETRYABLE_ERRORS,
	});
}

/** Sends the job to the queue; if that fails the job's watchdog alarm sends it later. */
async function enqueue(env: Env, id: string): Promise<void> {
	try {
		await env.JOB_QUEUE.send({ jobId: id });
	} catch (err) {
		console.error(`job ${id}: enqueue failed, leaving it to the watchdog`, err);
	}
}

/** POST /jobs/<id>/webhook/redeliver: the job's latest event goes out again. */
export async function redeliverWebhook(env: Env, caller: Caller, id: string): Promise<Job> {
	const current = await ownJob(env, caller, id);
	if (!current.callbackUrl || current.webhookEvents.length === 0) {
		throw new ApiError(409, "no_webhook", `Job "${id}" has no webhook event to send: it was uploaded without a callback_url, or has not ended yet.`);
	}
	const job = await jobStub(env, id).redeliver();
	if (!job) throw jobNotFound(id);
	return job;
}
