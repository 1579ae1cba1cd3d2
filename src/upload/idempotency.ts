/**
 * Idempotency-Key on POST /jobs: a retried upload gets the job its first request
 * made, for a day, instead of a second job. Keys are per owner. The key is claimed in a ClaimObject
 * with the upload's fingerprint: the SHA-256 of the file's bytes and the chosen slug.
 */
import type { Job } from "../base/contracts";
import { IdempotencyKey } from "../base/contracts";
import { ApiError } from "../http/errors";
import { idempotencyClaim, jobStub } from "../objects";
import type { Claim } from "./claim-object";

/** Replays of an upload with the same Idempotency-Key return its job, for a day. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
/** A key whose request made no job within this long died on the way: the key is free again. */
export const ABANDONED_CLAIM_MS = 60_000;

export const inProgress = () =>
	new ApiError(409, "idempotency_in_progress", "An upload with this Idempotency-Key is still in progress; retry shortly.");

const reused = () =>
	new ApiError(422, "idempotency_key_reused", "This Idempotency-Key came with a different upload; use a new key.");

/** The request's Idempotency-Key, validated, or null when it has none. */
export function idempotencyKeyOf(req: Request): string | null {
	const key = req.headers.get("Idempotency-Key");
	if (key === null) return null;
	const parsed = IdempotencyKey.safeParse(key);
	if (!parsed.success) throw ApiError.invalid(parsed.error, "Idempotency-Key");
	return parsed.data;
}

/** What identifies an upload across retries (a multipart boundary differs between them; the bytes and slug do not). */
export const fingerprintOf = (sha256: string, slug: string | undefined) => `sha256:${sha256}|slug:${slug ?? ""}`;

/**
 * Where a request with key `key` stands before it reads its body: the job an
 * earlier request made (to be replayed if the upload is the same), or null when
 * the key is free. A key whose request died before making its job is freed here
 * once it is old enough; a younger one is still in progress (409).
 */
export async function earlierJob(env: Env, ownerId: string, key: string): Promise<{ job: Job; claim: Claim } | null> {
	const claims = idempotencyClaim(env, ownerId, key);
	const held = await claims.holder();
	if (!held) return null;
	const job = await jobStub(env, held.owner).get();
	if (job) return { job, claim: held };
	if (Date.now() - held.claimedAt < ABANDONED_CLAIM_MS) throw inProgress();
	await claims.release(held.owner);
	return null;
}

/** The earlier job, if this upload is the one the key first came with; 422 if it is not. */
export function replay(earlier: { job: Job; claim: Claim }, fingerprint: string): Job {
	if (earlier.claim.fingerprint !== fingerprint) throw reused();
	return earlier.job;
}

/**
 * Claims `key` for job `id` (about to be made) with this upload's fingerprint.
 * Returns null when the claim is ours; otherwise a concurrent request with the
 * same key got there first, and its job (for a replay) is returned.
 */
export async function claimKey(env: Env, ownerId: string, key: string, id: string, fingerprint: string): Promise<Job | null> {
	const held = await idempotencyClaim(env, ownerId, key).claim(id, { fingerprint, ttlMs: IDEMPOTENCY_TTL_MS });
	if (held.owner === id) return null;
	const job = await jobStub(env, held.owner).get();
	if (!job) throw inProgress();
	return replay({ job, claim: held }, fingerprint);
}

/** Gives the key back: the request that claimed it failed before making its job. */
export const releaseKey = (env: Env, ownerId: string, key: string, id: string) => idempotencyClaim(env, ownerId, key).release(id);
