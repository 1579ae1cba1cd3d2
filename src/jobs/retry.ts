/**
 * Acting again on a job that has ended: POST /jobs/<id>/retry and
 * POST /jobs/<id>/webhook/redeliver.
 */

import { admit } from "../access/limits";
import { mayRetry, RETRYABLE_ERRORS } from "../base/attempts";
import type { Caller, Job } from "../base/contracts";
import { ApiError } from "../http/errors";
import { jobStub, ownerStub } from "../objects";
import { jobNotFound, ownJob } from "./common";

/**
 * POST /jobs/<id>/retry: a job that failed for a reason that says nothing
 * against its image goes back in the queue, keeping its id and slug.
 */
export async function retryJob(env: Env, caller: Caller, id: string): Promise<Job> {
	const current = await ownJob(env, caller, id);
	if (!mayRetry(current)) throw notRetryable(current);
	await admit(env, caller.ownerId, id, { newUpload: false });
	const result = await jobStub(env, id).retry();
	if (!result?.requeued) {
		// Changed in the meantime (retried by another request, say).
		await ownerStub(env, caller.ownerId).release(id);
		throw notRetryable(result?.job ?? current);
	}
	return result.job;
}

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

/** POST /jobs/<id>/webhook/redeliver: the job's latest event goes out again. */
export async function redeliverWebhook(env: Env, caller: Caller, id: string): Promise<Job> {
	const current = await ownJob(env, caller, id);
	if (!current.callbackUrl || current.webhookEvents.length === 0) {
		throw new ApiError(
			409,
			"no_webhook",
			`Job "${id}" has no webhook event to send: it was uploaded without a callback_url, or has not ended yet.`,
		);
	}
	const job = await jobStub(env, id).redeliver();
	if (!job) throw jobNotFound(id);
	return job;
}
