/**
 * The address book: how to reach every Durable Object, one function a namespace, each
 * object named deterministically. The bottom floor of the house: every room may ask it,
 * and it knows nothing but the names.
 *
 * Every object is reached through `resident`: with DATA_JURISDICTION set (a deployment for one
 * jurisdiction, `[env.eu]`), each is made and addressed in that jurisdiction, so no object can
 * be made outside it by a path that forgot to ask.
 */
import { getContainer } from "@cloudflare/containers";
import type { JobId, Slug } from "./base/contracts";

/** The jurisdictions Cloudflare places Durable Objects, R2 buckets, queues and containers in. */
export const JURISDICTIONS = ["eu", "fedramp"] as const;

/**
 * `ns` as this deployment uses it: restricted to DATA_JURISDICTION when that is set (object ids
 * then carry it), else as it is. (workerd does not implement jurisdictions: locally it stays unset.)
 */
export function resident<T extends Rpc.DurableObjectBranded | undefined>(
	env: Pick<Env, "DATA_JURISDICTION">,
	ns: DurableObjectNamespace<T>,
): DurableObjectNamespace<T> {
	const jurisdiction = env.DATA_JURISDICTION;
	if (!jurisdiction) return ns;
	if (!(JURISDICTIONS as readonly string[]).includes(jurisdiction)) {
		throw new Error(`DATA_JURISDICTION = "${jurisdiction}" is not one of ${JURISDICTIONS.join(", ")}`);
	}
	return ns.jurisdiction(jurisdiction as DurableObjectJurisdiction);
}

/** The object named `name` in `ns`, in this deployment's jurisdiction. */
const named = <T extends Rpc.DurableObjectBranded | undefined>(env: Env, ns: DurableObjectNamespace<T>, name: string) => {
	const here = resident(env, ns);
	return here.get(here.idFromName(name));
};

/** The Durable Object that holds job `id`'s state. */
export const jobStub = (env: Env, id: JobId) => named(env, env.JOBS, id);

/** The Durable Object of the resumable (tus) upload that becomes job `id` (resumable/upload-object.ts). */
export const uploadStub = (env: Env, id: JobId) => named(env, env.UPLOADS, id);

/** The Durable Object that records which job owns `slug`. */
export const slugClaim = (env: Env, slug: Slug) => named(env, env.CLAIMS, `slug:${slug}`);

/** The Durable Object that records which job an owner's Idempotency-Key created (keys are per owner). */
export const idempotencyClaim = (env: Env, ownerId: string, key: string) =>
	named(env, env.CLAIMS, `idempotency:${ownerId}:${key}`);

/** The Durable Object that counts an owner's jobs in flight and knows who holds its bytes (access/owner-object.ts). */
export const ownerStub = (env: Env, ownerId: string) => named(env, env.OWNERS, `owner:${ownerId}`);

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
export const indexShard = (env: Env, ownerId: string, shard: number) => named(env, env.JOB_INDEX, `index:${ownerId}:${shard}`);

/** The object of one API key, named by the key's SHA-256 (access/key-object.ts). */
export const keyObject = (env: Env, hash: string) => named(env, env.KEYS, `key:${hash}`);

/** The one registry of every key, for the admin API (access/key-object.ts). */
export const keyRegistry = (env: Env) => named(env, env.KEY_REGISTRY, "registry");

/** Thumbor container instance `n` (render/thumbor-container.ts). */
export const thumborContainer = (env: Env, n: number) => getContainer(resident(env, env.THUMBOR), `thumbor-${n}`);
