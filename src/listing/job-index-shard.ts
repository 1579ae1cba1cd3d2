import type { Job, JobStatus } from "../base/contracts";
import { type SchemaVersions, SqliteObject } from "../base/sql";

/**
 * Version 1: one entry per job of the shard, by id (WITHOUT ROWID: its key is the job id, with no
 * index beside it), and the jobs not done indexed by status (done jobs, most of them, are listed
 * by status from the id order). A job's two reports, queued then done, write 3 rows.
 */
export const SCHEMA: SchemaVersions = [
	[
		`CREATE TABLE entry (
			job_id TEXT PRIMARY KEY,
			status TEXT NOT NULL,
			version INTEGER NOT NULL,
			job TEXT NOT NULL
		) WITHOUT ROWID`,
		"CREATE INDEX entry_unfinished ON entry (status, job_id) WHERE status <> 'done'",
	],
];

/**
 * One shard of one owner's job listing: the jobs whose id hashes here, each with its
 * latest state as its JobObject last reported it. An owner's jobs are spread over
 * OWNER_INDEX_SHARDS of these (listing/list.ts merges them), so neither the whole
 * service nor one busy owner funnels through a single object.
 */
export class JobIndexShard extends SqliteObject {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, SCHEMA);
	}

	/** Records a job's state, unless a newer one is already here (reports may arrive out of order). */
	async record(job: Job): Promise<void> {
		this.schema.ensure();
		this.sql.exec(
			`INSERT INTO entry (job_id, status, version, job) VALUES (?, ?, ?, ?)
			 ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, version = excluded.version, job = excluded.job
			 WHERE excluded.version > entry.version`,
			job.id,
			job.status,
			job.version,
			JSON.stringify(job),
		);
	}

	/** Drops job `jobId`'s entry if it is still at `version` (a job that was never made after all). */
	async forget(jobId: string, version: number): Promise<void> {
		if (this.schema.exists) this.sql.exec("DELETE FROM entry WHERE job_id = ? AND version <= ?", jobId, version);
	}

	/** Up to `limit` jobs with ids below `before` (newest first), of `status` if given. */
	async list(before: string | null, status: JobStatus | null, limit: number): Promise<Job[]> {
		if (!this.schema.exists) return [];
		// A status other than done is found through entry_unfinished, whose condition the query repeats word for word.
		const byStatus = status === null ? "" : status === "done" ? "AND status = ?" : `AND status = ? AND status <> 'done'`;
		const rows = this.sql.exec<{ job: string }>(
			`SELECT job FROM entry WHERE job_id < ? ${byStatus} ORDER BY job_id DESC LIMIT ?`,
			...(status ? [before ?? "~", status, limit] : [before ?? "~", limit]),
		);
		return rows.toArray().map((r) => JSON.parse(r.job) as Job);
	}
}
