/** What the job routes share: finding the caller's own job. */

import type { Caller, Job } from "../base/contracts";
import { ApiError } from "../http/errors";
import { jobStub } from "../objects";

export const jobNotFound = (id: string) => new ApiError(404, "not_found", `No job with id "${id}".`);

/** The caller's job `id`; another owner's job is as absent as one that never existed (404). */
export async function ownJob(env: Env, caller: Caller, id: string): Promise<Job> {
	const job = await jobStub(env, id).get();
	if (!job || job.ownerId !== caller.ownerId) throw jobNotFound(id);
	return job;
}
