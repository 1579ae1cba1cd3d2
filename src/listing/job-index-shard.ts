import type { Job, JobStatus } from "../base/contracts";
import { type SchemaVersions, SqliteObject, withLatest } from "../base/sql";

/** A shard's entries as version 2 keeps them (see SCHEMA). */
const ENTRY_V2 = (name: string) => `CREATE TABLE ${name} (
	job_id TEXT PRIMARY KEY,
	status TEXT NOT NULL,
	version INTEGER NOT NULL,
	job TEXT NOT NULL
) WITHOUT ROWID`;
const UNFINISHED_INDEX = `CREATE INDEX entry_unfinished ON entry (status, job_id) WHERE status <> 'done'`;

/**
 * Version 1: one entry per job of the shard, found by id or by status. Version 2 keeps the same
 * entries for fewer rows written (they are billed): the table is WITHOUT ROWID (its key is the
 * job id, with no index beside it), and only jobs not done are indexed by status. A job's two
 * reports, queued then done, write 3 rows instead of 5; a done job is listed by status from the
 * id order, where done jobs are most of them. A version-1 shard is rebuilt; a new one is made
 * at version 2 directly.
 */
export const SCHEMA: SchemaVersions = withLatest(
	[
		[
			`CREATE TABLE entry (
				job_id TEXT PRIMARY KEY,
				status TEXT NOT NULL,
				version INTEGER NOT NULL,
				job TEXT NOT NULL
			)`,
			"CREATE INDEX entry_status ON entry (status, job_id)",
		],
		[
			ENTRY_V2("entry_v2"),
			"INSERT INTO entry_v2 (job_id, status, version, job) SELECT job_id, status, version, job FROM entry",
			"DROP TABLE entry",
			"ALTER TABLE entry_v2 RENAME TO entry",
			UNFINISHED_INDEX,
		],
	],
	[ENTRY_V2("entry"), UNFINISHED_INDEX],
);

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
