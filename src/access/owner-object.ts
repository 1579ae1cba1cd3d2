import { TERMINAL_STATUSES } from "../base/contracts";
import { SqliteObject } from "../base/sql";
import { jobStub } from "../objects";

/**
 * Version 1. Both tables are WITHOUT ROWID: keyed by their key alone, with no index beside
 * them (one row written per admission or claim, not two).
 */
export const SCHEMA = [
	[
		// The owner's jobs queued or processing.
		`CREATE TABLE in_flight (
			job_id TEXT PRIMARY KEY,
			admitted_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		// Which of the owner's jobs makes thumbnails of these bytes (SHA-256 of the original): the
		// first processed; later uploads of the same bytes copy its thumbnail once it is done.
		`CREATE TABLE digest (
			sha256 TEXT PRIMARY KEY,
			job_id TEXT NOT NULL,
			claimed_at INTEGER NOT NULL
		) WITHOUT ROWID`,
	],
];

/** An entry this old is checked against its job before a new one is refused (a lost release). */
const STALE_MS = 60_000;

/**
 * One owner's jobs in flight (queued or processing), in an object named by the
 * owner: what keeps one caller from filling the queue. A job is admitted before its
 * upload is stored and leaves when it ends. Releases are best-effort, so when the
 * owner is at the cap, older entries are checked against their jobs first.
 * Also which job holds each of the owner's originals' bytes (dedupe, per owner only:
 * across owners, "identical bytes" would tell one owner what another uploaded).
 */
export class OwnerObject extends SqliteObject {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, SCHEMA);
	}

	/** Admits job `jobId` unless `max` are in flight already; true when admitted. */
	async admit(jobId: string, max: number): Promise<boolean> {
		this.schema.ensure();
		if (this.#count() >= max) await this.#sweep();
		if (this.#count() >= max) return false;
		this.sql.exec("INSERT OR IGNORE INTO in_flight (job_id, admitted_at) VALUES (?, ?)", jobId, Date.now());
		return true;
	}

	/**
	 * Job `jobId` ended (or never started). The empty table stays: an owner uploads again,
	 * and making the schema anew for each job would be most of the rows this object writes.
	 */
	async release(jobId: string): Promise<void> {
		if (this.schema.exists) this.sql.exec("DELETE FROM in_flight WHERE job_id = ?", jobId);
	}

	/** Claims bytes `sha256` for job `jobId` unless a job holds them; returns the holder afterwards. */
	async claimDigest(sha256: string, jobId: string): Promise<string> {
		this.schema.ensure();
		this.sql.exec("INSERT OR IGNORE INTO digest (sha256, job_id, claimed_at) VALUES (?, ?, ?)", sha256, jobId, Date.now());
		return this.sql.exec<{ job_id: string }>("SELECT job_id FROM digest WHERE sha256 = ?", sha256).one().job_id;
	}

	/** Gives bytes `sha256` from job `from` to job `to`, if `from` still holds them (a holder that will never be done). */
	async handOverDigest(sha256: string, from: string, to: string): Promise<void> {
		if (this.schema.exists) {
			this.sql.exec("UPDATE digest SET job_id = ?, claimed_at = ? WHERE sha256 = ? AND job_id = ?", to, Date.now(), sha256, from);
		}
	}

	/** Job `jobId` no longer holds bytes `sha256` (it was deleted). */
	async releaseDigest(sha256: string, jobId: string): Promise<void> {
		if (this.schema.exists) this.sql.exec("DELETE FROM digest WHERE sha256 = ? AND job_id = ?", sha256, jobId);
	}

	/** How many jobs are in flight now. */
	async inFlight(): Promise<number> {
		return this.schema.exists ? this.#count() : 0;
	}

	/** The ids of the jobs in flight now, oldest first. */
	async inFlightJobs(): Promise<string[]> {
		if (!this.schema.exists) return [];
		return this.sql
			.exec<{ job_id: string }>("SELECT job_id FROM in_flight ORDER BY admitted_at")
			.toArray()
			.map((r) => r.job_id);
	}

	#count(): number {
		return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM in_flight").one().n;
	}

	/** Drops entries whose jobs have ended or never came to be. */
	async #sweep(): Promise<void> {
		const stale = this.sql
			.exec<{ job_id: string }>("SELECT job_id FROM in_flight WHERE admitted_at < ?", Date.now() - STALE_MS)
			.toArray();
		const ended = await Promise.all(
			stale.map(async ({ job_id }) => {
				const job = await jobStub(this.env, job_id).get();
				return !job || TERMINAL_STATUSES.includes(job.status) ? job_id : null;
			}),
		);
		for (const id of ended) if (id) this.sql.exec("DELETE FROM in_flight WHERE job_id = ?", id);
	}
}
