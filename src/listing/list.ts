/**
 * GET /jobs: one owner's jobs, newest first, read from all of the owner's index
 * shards at once and merged. Job ids sort by creation time, so "ids below the last
 * one shown" is a stable cursor: jobs made later are never on a later page, and a
 * status change does not move a job.
 */

import { settings } from "../base/config";
import type { Caller, Job, JobListQuery } from "../base/contracts";
import { ApiError } from "../http/errors";
import { indexShard } from "../objects";
import { readCursor, writeCursor } from "./cursor";

export async function listJobs(
	env: Env,
	caller: Caller,
	query: JobListQuery,
): Promise<{ items: Job[]; nextCursor: string | null }> {
	const cfg = settings(env);
	if (cfg.OWNER_INDEX_SHARDS === 0)
		throw new ApiError(404, "not_found", "Listing is turned off on this deployment (OWNER_INDEX_SHARDS = 0).");
	const key = cfg.CURSOR_SIGNING_KEY;
	const status = query.status ?? null;
	const before = query.cursor ? await readCursor(key, query.cursor, caller.ownerId, status) : null;
	// One more than asked for from each shard: then whether another page exists is known.
	const pages = await Promise.all(
		Array.from({ length: cfg.OWNER_INDEX_SHARDS }, (_, i) =>
			indexShard(env, caller.ownerId, i).list(before, status, query.limit + 1),
		),
	);
	const merged = pages.flat().sort((a, b) => (a.id < b.id ? 1 : -1));
	const items = merged.slice(0, query.limit);
	const last = items.at(-1);
	const nextCursor =
		merged.length > query.limit && last ? await writeCursor(key, { before: last.id, owner: caller.ownerId, status }) : null;
	return { items, nextCursor };
}
