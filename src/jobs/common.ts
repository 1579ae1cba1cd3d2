/**
 * What the job routes share: finding the caller's own job, and a place among the
 * owner's jobs in flight.
 */

import { settings } from "../config";
import type { Caller, Job } from "../contracts";
import { ApiError } from "../errors";
import { jobStub, ownerStub } from "../objects";

export const jobNotFound = (id: string) => new ApiError(404, "not_found", `No job with id "${id}".`);

/** The caller's job `id`; another owner's job is as absent as one that never existed (404). */
export async function ownJob(env: Env, caller: Caller, id: string): Promise<Job> {
	const job = await jobStub(env, id).get();
	if (!job || job.ownerId !== caller.ownerId) throw jobNotFound(id);
	return job;
}

/** Reserves a place among the owner's jobs in flight for job `id`, or answers 429. */
export async function admit(env: Env, ownerId: string, id: string): Promise<void> {
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
