/**
 * The address book: how to reach every Durable Object, one function a namespace, each
 * object named deterministically. The bottom floor of the house: every room may ask it,
 * and it knows nothing but the names.
 */
import { getContainer } from "@cloudflare/containers";
import type { JobId, Slug } from "./base/contracts";

/** The Durable Object that holds job `id`'s state. */
export const jobStub = (env: Env, id: JobId) => env.JOBS.get(env.JOBS.idFromName(id));

/** The Durable Object of the resumable (tus) upload that becomes job `id` (resumable/upload-object.ts). */
export const uploadStub = (env: Env, id: JobId) => env.UPLOADS.get(env.UPLOADS.idFromName(id));

/** The Durable Object that records which job owns `slug`. */
export const slugClaim = (env: Env, slug: Slug) => env.CLAIMS.get(env.CLAIMS.idFromName(`slug:${slug}`));

/** The Durable Object that records which job an owner's Idempotency-Key created (keys are per owner). */
export const idempotencyClaim = (env: Env, ownerId: string, key: string) =>
	env.CLAIMS.get(env.CLAIMS.idFromName(`idempotency:${ownerId}:${key}`));

/** The Durable Object that counts an owner's jobs in flight and knows who holds its bytes (access/owner-object.ts). */
export const ownerStub = (env: Env, ownerId: string) => env.OWNERS.get(env.OWNERS.idFromName(`owner:${ownerId}`));

/** Which of an owner's jobs makes thumbnails of these bytes (thumbnail reuse), kept by the owner's object. */
export const digestClaim = (env: Env, ownerId: string, sha256: string) => {
	const owner = ownerStub(env, ownerId);
	return {
		/** Claims the bytes for `jobId` unless a job holds them; the holder afterwards. */
		claim: (jobId: string) => owner.claimDigest(sha256, jobId),
		handOver: (from: string, to: string) => owner.handOverDigest(sha256, from, to),
		release: (jobId: string) => owner.releaseDigest(sha256, jobId),
	};
};

/** One shard of an owner's listing index (listing/job-index-shard.ts). */
export const indexShard = (env: Env, ownerId: string, shard: number) =>
	env.JOB_INDEX.get(env.JOB_INDEX.idFromName(`index:${ownerId}:${shard}`));

/** The object of one API key, named by the key's SHA-256 (access/key-object.ts). */
export const keyObject = (env: Env, hash: string) => env.KEYS.get(env.KEYS.idFromName(`key:${hash}`));

/** The one registry of every key, for the admin API (access/key-object.ts). */
export const keyRegistry = (env: Env) => env.KEY_REGISTRY.get(env.KEY_REGISTRY.idFromName("registry"));

/** Thumbor container instance `n` (render/thumbor-container.ts). */
export const thumborContainer = (env: Env, n: number) => getContainer(env.THUMBOR, `thumbor-${n}`);
