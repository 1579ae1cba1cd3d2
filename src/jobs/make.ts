/**
 * Making a job of an upload stored in R2 and checked (POST /jobs, and a finished resumable
 * upload alike): its object records it and sends it to the queue while the owner's listing
 * index is told of it, two requests side by side. The job's object is new, made near this
 * Worker; the listing's shard is the owner's, wherever that lives. Both are done before the
 * upload is answered, so the job is listed by then.
 */
import { settings } from "../base/config";
import type { Job, NewJob } from "../base/contracts";
import { indexShard, jobStub } from "../objects";
import { newJobRow, toJob } from "./schema";

/**
 * The job, once made and listed; with `waitMs`, once it has ended (or the wait ran out), asked
 * of its object in the same request that makes it.
 */
export async function makeJob(
	env: Env,
	ctx: Pick<ExecutionContext, "waitUntil">,
	job: Omit<NewJob, "indexShards" | "createdAt">,
	waitMs = 0,
): Promise<Job> {
	const input: NewJob = { ...job, indexShards: settings(env).OWNER_INDEX_SHARDS, createdAt: Date.now() };
	const row = newJobRow(input);
	const shard = row.index_shard === null ? null : indexShard(env, row.owner_id, row.index_shard);
	const stub = jobStub(env, input.id);
	const [created, listed] = await Promise.allSettled([stub.create(input, waitMs), shard?.record(toJob(row, []))]);
	// The call may have failed after the job was made (while it waited, say): then the job stands.
	const made = created.status === "fulfilled" ? created.value : await stub.get().catch(() => null);
	if (!made) {
		// No job: its entry goes, unless the job, made after all, has reported since.
		if (shard && listed.status === "fulfilled") ctx.waitUntil(shard.forget(row.id, row.version).catch(() => {}));
		throw (created as PromiseRejectedResult).reason;
	}
	if (listed.status === "rejected") {
		console.error(`job ${row.id}: could not list it; its object tries again`, listed.reason);
		ctx.waitUntil(stub.relist().catch(() => {}));
	}
	return made;
}
