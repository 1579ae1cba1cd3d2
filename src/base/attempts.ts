/**
 * Why a processing attempt did not produce a thumbnail, and when to try again.
 * Shared by the Thumbor client (which says what an answer means) and the queue
 * consumer and job object (which act on it).
 */
import type { Job, JobError, JobErrorCode } from "./contracts";

/** Why an attempt failed; `permanent` failures are not retried. */
export class AttemptError extends Error {
	constructor(
		readonly error: JobError,
		readonly permanent: boolean,
	) {
		super(error.message);
		this.name = "AttemptError";
	}
}

/** How passing faults are retried: capped exponential backoff, for a bounded time. */
export interface RetryPolicy {
	/** Delay before the second attempt. */
	baseSeconds: number;
	/** No delay is longer than this. */
	maxDelaySeconds: number;
	/** A job keeps being retried this long after its first attempt (or its last manual retry). */
	windowSeconds: number;
}

/**
 * Milliseconds to wait after `attempts` failed attempts: base·2^(attempts-1), capped,
 * then spread by ±20% so that jobs failed together by an outage do not all return at once.
 */
export function retryDelayMs(attempts: number, policy: RetryPolicy, random = Math.random): number {
	return jittered(Math.min(policy.maxDelaySeconds, policy.baseSeconds * 2 ** Math.max(0, attempts - 1)), random);
}

/** `seconds` in milliseconds, spread by ±20% so that things failed together do not all come back at once. */
export function jittered(seconds: number, random = Math.random): number {
	return Math.round(seconds * 1000 * (0.8 + 0.4 * random()));
}

/** Why a job failed for good after its retries: the last attempt's reason, how many there were, over how long. */
export function gaveUp(reason: string, attempts: number, elapsedMs: number): string {
	return `${reason} Gave up after ${attempts} attempts over ${duration(elapsedMs)}.`;
}

/** Failures that say nothing against the image: its owner may retry the job (POST /jobs/<id>/retry). */
export const RETRYABLE_ERRORS: readonly JobErrorCode[] = [
	"thumbor_unavailable",
	"thumbor_misconfigured",
	"timed_out",
	"internal_error",
	"unexpected_output",
];

/** Whether its owner may retry a job (POST /jobs/<id>/retry): it failed for a reason another attempt may change, its original kept. */
export const mayRetry = (job: Pick<Job, "status" | "originalDeletedAt" | "error">) =>
	job.status === "failed" && job.originalDeletedAt === null && job.error !== null && RETRYABLE_ERRORS.includes(job.error.code);

/** "3 h 5 min", "42 s": how long a job was retried, for its failure message. */
export function duration(ms: number): string {
	const s = Math.round(ms / 1000);
	if (s < 120) return `${s} s`;
	const min = Math.round(s / 60);
	return min < 120 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}
