/**
 * DELETE /jobs/<id>: the job becomes a tombstone and its bytes go (a job still uploading: its
 * upload is terminated). Order matters:
 * the job's object is marked first (so the consumer stores nothing from then on, and a
 * write already under way is waited for), then the slug's gone-marker is written (its
 * URLs answer 410 from here on), then every rendition, the original and the master are deleted from R2
 * and the renditions leave this data centre's edge cache. Deleting again redoes the
 * R2 and cache steps, so a delete cut short is finished by the next one.
 */

import { settings } from "../base/config";
import type { Caller } from "../base/contracts";
import { ALL_RENDITIONS } from "../base/renditions";
import { allRenditionKeys, goneKey, masterKey, originalKey, renditionCacheKey } from "../base/storage";
import { orThrow } from "../http/errors";
import { digestClaim, jobStub, uploadStub } from "../objects";
import { jobNotFound, ownJobOrUpload } from "./common";

export async function deleteJob(env: Env, caller: Caller, id: string): Promise<void> {
	const found = await ownJobOrUpload(env, caller, id);
	if ("upload" in found) {
		// A job still uploading: its upload is terminated, and nothing of it stays.
		if (found.upload.status === "gone") return;
		orThrow(await uploadStub(env, id).terminate(caller.ownerId));
		return;
	}
	const stub = jobStub(env, id);
	const deleted = await stub.delete();
	if (!deleted) throw jobNotFound(id);
	const { job } = deleted;
	await env.BUCKET.put(goneKey(job.slug), new Uint8Array(0), {
		customMetadata: { jobId: job.id, deletedAt: String(job.deletedAt) },
	});
	await env.BUCKET.delete([...allRenditionKeys(job.slug), originalKey(job.id), masterKey(job.id)]);
	// The Cache API reaches this data centre only; other colos' copies are purged with the zone
	// purge API (docs/api.md), or age out — the 410 itself is cached for minutes only.
	const base = settings(env).PUBLIC_BASE_URL;
	await Promise.all(ALL_RENDITIONS.map((r) => caches.default.delete(renditionCacheKey(base, job.slug, r))));
	await stub.originalDeleted();
	// Later uploads of the same bytes no longer copy from this job (those that did keep their copy).
	await digestClaim(env, job.ownerId, job.sha256).release(job.id);
}
