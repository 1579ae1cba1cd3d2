/** What the job routes share: finding the caller's own job. */

import type { Caller, Job, UploadState } from "../base/contracts";
import { ApiError } from "../http/errors";
import { jobStub, uploadStub } from "../objects";

export const jobNotFound = (id: string) => new ApiError(404, "not_found", `No job with id "${id}".`);

/** The caller's job `id`; another owner's job is as absent as one that never existed (404). */
export async function ownJob(env: Env, caller: Caller, id: string): Promise<Job> {
	const job = await jobStub(env, id).get();
	if (!job || job.ownerId !== caller.ownerId) throw jobNotFound(id);
	return job;
}

/**
 * The caller's job `id` or, while the resumable upload it is made from has not finished
 * (POST /uploads), that upload: its job does not exist yet.
 */
export async function ownJobOrUpload(env: Env, caller: Caller, id: string): Promise<{ job: Job } | { upload: UploadState }> {
	const job = await jobStub(env, id).get();
	if (job) {
		if (job.ownerId !== caller.ownerId) throw jobNotFound(id);
		return { job };
	}
	const upload = await uploadStub(env, id).get();
	if (!upload || upload.ownerId !== caller.ownerId || upload.status === "finished") throw jobNotFound(id);
	return { upload };
}
