/**
 * POST /jobs as a protocol: replay an Idempotency-Key, stream the upload into R2,
 * claim the key and the slug, make the job (its object enqueues it). Every step that can fail
 * after something was stored undoes what came before it.
 */

import { admit } from "../access/limits";
import { settings } from "../base/config";
import { type Caller, type Job, type JobId, pixelsOf, type Slug, UploadOptions } from "../base/contracts";
import { ulid } from "../base/ids";
import { originalKey } from "../base/storage";
import type { Steps } from "../base/timing";
import { annotate, currentTraceId } from "../base/tracing";
import { ApiError } from "../http/errors";
import { makeJob } from "../jobs/make";
import { checkCallbackUrl } from "../notify/url";
import { ownerStub, slugClaim } from "../objects";
import { claimKey, earlierJob, fingerprintOf, idempotencyKeyOf, releaseKey, replay } from "./idempotency";
import { ingestUpload, type Upload, uploadLimits } from "./ingest";

export const slugTaken = (slug: string) =>
	new ApiError(409, "slug_taken", `The slug "${slug}" belongs to another job; choose another or omit it.`, { slug });

/** Answers 409 when another job holds `slug` now. */
async function slugIsFree(env: Env, slug: Slug): Promise<void> {
	if ((await slugClaim(env, slug).holder()) !== null) throw slugTaken(slug);
}

/** Takes `slug` for job `id`, or answers 409 when another job holds it. */
export async function claimSlug(env: Env, slug: Slug, id: JobId): Promise<void> {
	if ((await slugClaim(env, slug).claim(id)).owner !== id) throw slugTaken(slug);
}

/** The options given in the query string or in form fields, before or after `file` (each in one place only). */
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

/** What a trace says of the image an upload carried. */
const imageAttributes = (upload: Upload) => ({
	"image.type": upload.contentType,
	"image.bytes": upload.bytes,
	"image.pixels": pixelsOf(upload),
});

const chosenSlug = (query: UploadOptions, upload: Upload) => chosenOptions(query, upload).slug;

/**
 * Makes a job of the upload in `req`; `replayed` when an Idempotency-Key named an earlier one.
 * With `waitMs`, a new job is returned once it has ended, or when the wait runs out.
 */
export async function submitUpload(
	env: Env,
	ctx: Pick<ExecutionContext, "waitUntil">,
	caller: Caller,
	req: Request,
	query: UploadOptions,
	steps: Steps,
	waitMs = 0,
): Promise<{ job: Job; replayed: boolean }> {
	const cfg = settings(env);
	const limits = uploadLimits(cfg);
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
	const id = ulid();
	// The job keeps this upload's trace id: its consumer runs, Thumbor requests and webhooks carry it.
	const traceId = currentTraceId();
	const about = { "job.id": id, "owner.id": ownerId };
	annotate(about);
	steps.tag(about);
	// The owner's object admits the upload while its bytes stream to R2, and a chosen slug is looked
	// up meanwhile (a cheap early answer; the claim below is what decides): neither waits for the
	// other, and the one that refuses stops the upload at its next chunk. The owner's object may be
	// far from here; the client's bytes take longer still.
	const admission = steps.time("admit", () => admit(env, ownerId, id));
	const slugFree = query.slug ? slugIsFree(env, query.slug) : Promise.resolve();
	const refused = new AbortController();
	for (const check of [admission, slugFree]) check.catch((err) => refused.abort(err));
	const [stored, admitted, free] = await Promise.allSettled([
		steps.time("store", () => ingestUpload(req, { bucket: env.BUCKET, key: originalKey(id) }, limits, refused.signal)),
		admission,
		slugFree,
	]);
	const undo: (() => Promise<void>)[] = [];
	if (admitted.status === "fulfilled") undo.push(() => ownerStub(env, ownerId).release(id));
	if (stored.status === "fulfilled") undo.push(() => env.BUCKET.delete(originalKey(id)));
	try {
		// A taken slug is answered first, then a refused admission, then what was wrong with the upload.
		for (const outcome of [free, admitted, stored]) if (outcome.status === "rejected") throw outcome.reason;
		const upload = (stored as PromiseFulfilledResult<Upload>).value;
		const image = imageAttributes(upload);
		annotate(image);
		steps.tag(image);
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
		if (slug !== id) await claimSlug(env, slug, id);
		// Made and waited for in one request to the job's object: one step, "wait", when the upload waits.
		const job = await steps.time(waitMs > 0 ? "wait" : "create", () =>
			makeJob(
				env,
				ctx,
				{
					id,
					ownerId,
					keyHash: caller.keyHash,
					callbackUrl,
					sha256: upload.sha256,
					slug,
					traceId,
					original: { contentType: upload.contentType, bytes: upload.bytes, width: upload.width, height: upload.height },
				},
				waitMs,
			),
		);
		return { job, replayed: false };
	} catch (err) {
		for (const step of undo) ctx.waitUntil(step());
		throw err;
	}
}
