/** What the consumer's, JobObject's and retry's tests share: a job as the upload leaves it, and its queue message handed over. */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import type { RetryPolicy } from "../../../src/base/attempts";
import { settings } from "../../../src/base/config";
import type { JobStatus } from "../../../src/base/contracts";
import { ulid } from "../../../src/base/ids";
import { originalKey } from "../../../src/base/storage";
import worker from "../../../src/index";
import { jobStub } from "../../../src/objects";
import { caller, digestOf, env, newTraceId, pngLike } from "../helpers";

export const POLICY: RetryPolicy = settings(env).retry;

/** What the upload handler gives a new job's object: of this test's owner, no webhook. */
export const newJobInput = (id: string, slug: string, contentType: "image/png" | "image/gif" = "image/png") => ({
	id,
	ownerId: caller.ownerId,
	keyHash: null,
	callbackUrl: null,
	sha256: digestOf(id),
	indexShards: 8,
	slug,
	traceId: newTraceId(),
	original: { contentType, bytes: 512, width: 1, height: 1 },
	createdAt: Date.now(),
});

/** A job as the upload handler leaves it: original in R2, state in its object. Thumbor is unreachable here. */
export async function newJob() {
	const id = ulid();
	await env.BUCKET.put(originalKey(id), pngLike(), { httpMetadata: { contentType: "image/png" } });
	const stub = jobStub(env, id);
	await stub.create(newJobInput(id, `s-${id}`));
	return { id, stub };
}

/** The queue message the job's object sends for job `jobId` (of this test's owner). */
export const msg = (jobId: string) => ({ jobId, ownerId: caller.ownerId, sha256: digestOf(jobId) });

export async function deliver(body: unknown, { attempts = 1, queue = "thumbnail-jobs", environment = env } = {}) {
	const batch = createMessageBatch(queue, [{ id: `m-${ulid()}`, timestamp: new Date(), attempts, body }]);
	const ctx = createExecutionContext();
	await worker.queue(batch, environment);
	return getQueueResult(batch, ctx);
}

export const row = (stub: ReturnType<typeof jobStub>) =>
	runInDurableObject(stub, (_obj, state) => state.storage.sql.exec("SELECT * FROM job").one());

export const setState = (
	stub: ReturnType<typeof jobStub>,
	status: JobStatus,
	attempts: number,
	leaseUntil: number | null = null,
) =>
	runInDurableObject(stub, (_obj, state) => {
		state.storage.sql.exec("UPDATE job SET status = ?, attempts = ?, lease_until = ?", status, attempts, leaseUntil);
	});
