import { settings } from "../base/config";
import { type JobEnd, jobEnd, TERMINAL_STATUSES, type UsageDay } from "../base/contracts";
import { SqliteObject } from "../base/sql";
import { jobStub, uploadStub } from "../objects";

/**
 * Version 1. Both tables are WITHOUT ROWID: keyed by their key alone, with no index beside
 * them (one row written per admission or claim, not two).
 */
export const SCHEMA = [
	[
		// The owner's places: jobs queued or processing (`job`), and resumable uploads still
		// receiving their bytes (`upload`), each kind under a cap of its own.
		`CREATE TABLE in_flight (
			job_id TEXT PRIMARY KEY,
			admitted_at INTEGER NOT NULL,
			place TEXT NOT NULL
		) WITHOUT ROWID`,
		// Which of the owner's jobs makes thumbnails of these bytes (SHA-256 of the original): the
		// first processed; later uploads of the same bytes copy its thumbnail once it is done.
		`CREATE TABLE digest (
			sha256 TEXT PRIMARY KEY,
			job_id TEXT NOT NULL,
			claimed_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		// The owner's usage by day (UTC) of upload, counted as its jobs end (one row per day: the
		// release that frees a job's place in flight adds it, at one row written).
		`CREATE TABLE usage (
			day TEXT PRIMARY KEY,
			uploads INTEGER NOT NULL,
			thumbnails INTEGER NOT NULL,
			failures INTEGER NOT NULL,
			deleted INTEGER NOT NULL,
			bytes_received INTEGER NOT NULL,
			bytes_stored INTEGER NOT NULL
		) WITHOUT ROWID`,
	],
];

/** The day (UTC, YYYY-MM-DD) of instant `ms`. */
export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The first day (YYYY-MM-DD) of the month (UTC) of instant `ms`. */
const monthStart = (ms: number) => `${dayOf(ms).slice(0, 8)}01`;

/** When the month of instant `ms` ends (UTC): a monthly quota starts again then. */
export function monthEnd(ms: number): number {
	const d = new Date(ms);
	return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * What a place is held for: a job queued or processing, or a resumable upload whose bytes are
 * still arriving (it becomes a job, and takes a job's place, once they are all in).
 */
export type Place = "job" | "upload";

/** Why an upload was not admitted: its kind of place is full, or the month's quota is used up. */
export type Refusal = { reason: "in_flight" } | { reason: "uploads" } | { reason: "quota"; used: number; resetsAt: number };

/** An entry this old is checked against its job before a new one is refused (a lost release). */
const STALE_MS = 60_000;

/**
 * One owner's jobs in flight (queued or processing) and resumable uploads in progress, in an
 * object named by the owner: what keeps one caller from filling the queue, and abandoned uploads
 * from taking the places of jobs. A job is admitted before its upload is stored and leaves when
 * it ends; a resumable upload is admitted as an upload, and becomes a job (`promote`) when its
 * last bytes come. Releases are best-effort, so when a cap is reached, older entries are checked
 * against their jobs and uploads first.
 * Also which job holds each of the owner's originals' bytes (dedupe, per owner only:
 * across owners, "identical bytes" would tell one owner what another uploaded).
 */
export class OwnerObject extends SqliteObject {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, SCHEMA);
	}

	/**
	 * Admits job (or resumable upload) `jobId` unless its kind of place is full (MAX_JOBS_IN_FLIGHT,
	 * MAX_UPLOADS_IN_PROGRESS), or — for a new upload, with MONTHLY_UPLOAD_QUOTA set — the owner's
	 * uploads this month, ended, in flight and in progress, have reached the quota; null when
	 * admitted. A job its owner retries is no new upload (`newUpload` false): the quota counted it.
	 * The caps are this object's to apply (from its environment): callers say only what is asked.
	 */
	async admit(jobId: string, place: Place = "job", { newUpload = true } = {}): Promise<Refusal | null> {
		this.schema.ensure();
		if (!(await this.#roomFor(place))) return { reason: place === "job" ? "in_flight" : "uploads" };
		const now = Date.now();
		const monthlyQuota = newUpload ? settings(this.env).MONTHLY_UPLOAD_QUOTA : 0;
		if (monthlyQuota > 0) {
			const used = this.#uploadsSince(monthStart(now)) + this.#count();
			if (used >= monthlyQuota) return { reason: "quota", used, resetsAt: monthEnd(now) };
		}
		this.sql.exec("INSERT OR IGNORE INTO in_flight (job_id, admitted_at, place) VALUES (?, ?, ?)", jobId, now, place);
		return null;
	}

	/**
	 * Resumable upload `jobId` has its bytes and becomes a job: it takes a job's place, unless
	 * MAX_JOBS_IN_FLIGHT are in flight (then it keeps its upload's place). Again for a job: null,
	 * nothing written.
	 */
	async promote(jobId: string): Promise<Refusal | null> {
		this.schema.ensure();
		const held = this.sql.exec<{ place: Place }>("SELECT place FROM in_flight WHERE job_id = ?", jobId).toArray()[0];
		if (held?.place === "job") return null;
		if (!(await this.#roomFor("job"))) return { reason: "in_flight" };
		this.sql.exec(
			`INSERT INTO in_flight (job_id, admitted_at, place) VALUES (?, ?, 'job')
			 ON CONFLICT (job_id) DO UPDATE SET place = 'job', admitted_at = excluded.admitted_at`,
			jobId,
			Date.now(),
		);
		return null;
	}

	/** Whether one more place of kind `place` fits under its cap, stale entries swept first when it does not. */
	async #roomFor(place: Place): Promise<boolean> {
		const cfg = settings(this.env);
		const max = place === "job" ? cfg.MAX_JOBS_IN_FLIGHT : cfg.MAX_UPLOADS_IN_PROGRESS;
		if (this.#count(place) >= max) await this.#sweep();
		return this.#count(place) < max;
	}

	/**
	 * Job `jobId` ended (`end` says how: counted in the owner's usage), or never started (no `end`).
	 * The empty table stays: an owner uploads again, and making the schema anew for each job would
	 * be most of the rows this object writes.
	 */
	async release(jobId: string, end?: JobEnd): Promise<void> {
		if (!this.schema.exists) return;
		const left = this.sql.exec("DELETE FROM in_flight WHERE job_id = ?", jobId).rowsWritten > 0;
		if (left && end) this.#countUsage(end);
	}

	/**
	 * The owner's usage on each day from `from` to `to` (YYYY-MM-DD, inclusive) that has any, oldest
	 * first; its jobs in flight; and its uploads this month (UTC), ended and in flight (the quota's count).
	 */
	async usage(from: string, to: string): Promise<{ days: UsageDay[]; inFlight: number; uploading: number; thisMonth: number }> {
		if (!this.schema.exists) return { days: [], inFlight: 0, uploading: 0, thisMonth: 0 };
		const days = this.sql
			.exec<{
				day: string;
				uploads: number;
				thumbnails: number;
				failures: number;
				deleted: number;
				bytes_received: number;
				bytes_stored: number;
			}>("SELECT * FROM usage WHERE day BETWEEN ? AND ? ORDER BY day", from, to)
			.toArray()
			.map((r) => ({
				date: r.day,
				uploads: r.uploads,
				thumbnails: r.thumbnails,
				failures: r.failures,
				deleted: r.deleted,
				bytesReceived: r.bytes_received,
				bytesStored: r.bytes_stored,
			}));
		const inFlight = this.#count("job");
		const uploading = this.#count("upload");
		return { days, inFlight, uploading, thisMonth: this.#uploadsSince(monthStart(Date.now())) + inFlight + uploading };
	}

	/** Adds a job's end to the usage of the day it was uploaded (one row written). */
	#countUsage(end: JobEnd): void {
		const first = end.firstEnd ? 1 : 0;
		this.sql.exec(
			`INSERT INTO usage (day, uploads, thumbnails, failures, deleted, bytes_received, bytes_stored) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (day) DO UPDATE SET uploads = uploads + excluded.uploads, thumbnails = thumbnails + excluded.thumbnails,
			   failures = failures + excluded.failures, deleted = deleted + excluded.deleted,
			   bytes_received = bytes_received + excluded.bytes_received, bytes_stored = bytes_stored + excluded.bytes_stored`,
			dayOf(end.createdAt),
			first,
			end.outcome === "done" ? 1 : 0,
			end.outcome === "failed" ? 1 : 0,
			end.outcome === "deleted" ? 1 : 0,
			first * end.originalBytes,
			end.outcome === "done" ? end.thumbnailBytes : 0,
		);
	}

	#uploadsSince(day: string): number {
		return this.sql.exec<{ n: number | null }>("SELECT SUM(uploads) AS n FROM usage WHERE day >= ?", day).one().n ?? 0;
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

	/** How many jobs are in flight now (or, with `place` "upload", resumable uploads in progress). */
	async inFlight(place: Place = "job"): Promise<number> {
		return this.schema.exists ? this.#count(place) : 0;
	}

	/** The ids of the jobs in flight now, oldest first. */
	async inFlightJobs(): Promise<string[]> {
		if (!this.schema.exists) return [];
		return this.sql
			.exec<{ job_id: string }>("SELECT job_id FROM in_flight WHERE place = 'job' ORDER BY admitted_at")
			.toArray()
			.map((r) => r.job_id);
	}

	/** The ids of the owner's resumable uploads in progress, newest first, `limit` of them from before id `before`. */
	async uploadsInProgress(limit: number, before: string | null = null): Promise<string[]> {
		if (!this.schema.exists) return [];
		return this.sql
			.exec<{ job_id: string }>(
				"SELECT job_id FROM in_flight WHERE place = 'upload' AND job_id < ? ORDER BY job_id DESC LIMIT ?",
				before ?? "~",
				limit,
			)
			.toArray()
			.map((r) => r.job_id);
	}

	/** How many places are held: of kind `place`, or all of them. */
	#count(place?: Place): number {
		const where = place ? " WHERE place = ?" : "";
		return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM in_flight${where}`, ...(place ? [place] : [])).one().n;
	}

	/** Drops entries whose jobs have ended or never came to be. */
	async #sweep(): Promise<void> {
		const stale = this.sql
			.exec<{ job_id: string }>("SELECT job_id FROM in_flight WHERE admitted_at < ?", Date.now() - STALE_MS)
			.toArray();
		const ended = await Promise.all(
			stale.map(async ({ job_id }) => {
				const job = await jobStub(this.env, job_id).get();
				// No job yet may mean a resumable upload whose bytes are still arriving: its place is kept.
				const uploading = !job && (await uploadStub(this.env, job_id).get())?.status;
				const gone = job ? TERMINAL_STATUSES.includes(job.status) : uploading !== "receiving" && uploading !== "finishing";
				return { id: job_id, job, gone };
			}),
		);
		// A release that never came: the job's end is counted now, as the release would have.
		for (const { id, job, gone } of ended) if (gone) await this.release(id, job ? jobEnd(job, true) : undefined);
	}
}
