/**
 * A job's storage in its JobObject: version 1 of its table, the row as SQLite gives it, the
 * record that reads and writes it (and wakes whoever waits for a change), and how a row
 * becomes the Job contract and its queue message.
 */
import type { Job, JobError, JobMessage, JobStatus, NewJob, WebhookEvent } from "../base/contracts";
import { shardOf } from "../base/shards";
import type { Schema, SchemaVersions } from "../base/sql";

/**
 * The job's one row. WITHOUT ROWID: kept by its id alone, so making the table and the row
 * writes no separate key index. Every change adds one to `version`, so the listing index
 * keeps the newest state it is told.
 */
const JOB_TABLE = `CREATE TABLE job (
	id TEXT PRIMARY KEY,
	owner_id TEXT NOT NULL,
	slug TEXT NOT NULL,
	trace_id TEXT NOT NULL, -- the upload's (W3C): in the job's logs, spans, Thumbor requests and webhooks
	status TEXT NOT NULL,
	original_content_type TEXT NOT NULL,
	original_bytes INTEGER NOT NULL,
	original_width INTEGER,
	original_height INTEGER,
	sha256 TEXT NOT NULL, -- of the original: identical bytes reuse a thumbnail
	callback_url TEXT, -- where the job's events go
	key_hash TEXT, -- whose key's webhook secrets sign them
	index_shard INTEGER, -- the owner's listing shard it reports to, fixed at creation (null: not listed)
	attempts INTEGER NOT NULL DEFAULT 0,
	lease_until INTEGER, -- the current attempt's lease
	retries_since INTEGER, -- when the current retry window began (null: at created_at)
	next_attempt_at INTEGER, -- when a backed-off attempt is due
	thumbnail_width INTEGER,
	thumbnail_height INTEGER,
	thumbnail_bytes INTEGER,
	thumbnail_etag TEXT,
	dedup_of TEXT, -- the earlier job whose thumbnail this one copied (same bytes)
	placeholder TEXT, -- once done: JSON of the Placeholder the origin sent (thumbhash, color)
	facts TEXT, -- once done: JSON of the ImageFacts the origin read from the original
	error_code TEXT,
	error_message TEXT,
	version INTEGER NOT NULL DEFAULT 0,
	deleted_at INTEGER,
	ended_at INTEGER, -- done or failed: the original's retention counts from here
	original_deleted_at INTEGER,
	report_due INTEGER, -- a listing report failed: the version the alarm sends again
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID`;

/** The job's schema (its webhook tables are the outbox's: notify/outbox.ts). */
export const JOB_SCHEMA: SchemaVersions = [[JOB_TABLE]];

export type JobRow = {
	id: string;
	owner_id: string;
	slug: string;
	trace_id: string;
	status: JobStatus;
	original_content_type: string;
	original_bytes: number;
	original_width: number | null;
	original_height: number | null;
	sha256: string;
	callback_url: string | null;
	key_hash: string | null;
	index_shard: number | null;
	attempts: number;
	lease_until: number | null;
	retries_since: number | null;
	next_attempt_at: number | null;
	thumbnail_width: number | null;
	thumbnail_height: number | null;
	thumbnail_bytes: number | null;
	thumbnail_etag: string | null;
	dedup_of: string | null;
	placeholder: string | null;
	facts: string | null;
	error_code: string | null;
	error_message: string | null;
	version: number;
	deleted_at: number | null;
	ended_at: number | null;
	original_deleted_at: number | null;
	report_due: number | null;
	created_at: number;
	updated_at: number;
};

/**
 * The row of a new job, queued: what its object inserts, and (as toJob makes it) what the
 * listing is told before the upload is answered (jobs/make.ts). Both come from the one input.
 */
export function newJobRow(input: NewJob): JobRow {
	return {
		id: input.id,
		owner_id: input.ownerId,
		slug: input.slug,
		trace_id: input.traceId,
		status: "queued",
		original_content_type: input.original.contentType,
		original_bytes: input.original.bytes,
		original_width: input.original.width,
		original_height: input.original.height,
		sha256: input.sha256,
		callback_url: input.callbackUrl,
		key_hash: input.keyHash,
		index_shard: input.indexShards > 0 ? shardOf(input.id, input.indexShards) : null,
		attempts: 0,
		lease_until: null,
		retries_since: null,
		next_attempt_at: null,
		thumbnail_width: null,
		thumbnail_height: null,
		thumbnail_bytes: null,
		thumbnail_etag: null,
		dedup_of: null,
		placeholder: null,
		facts: null,
		error_code: null,
		error_message: null,
		version: 0,
		deleted_at: null,
		ended_at: null,
		original_deleted_at: null,
		report_due: null,
		created_at: input.createdAt,
		updated_at: input.createdAt,
	};
}

/** The queue message for a job: what the consumer may start on before the job's object answers. */
export const messageFor = (row: JobRow): JobMessage => ({ jobId: row.id, ownerId: row.owner_id, sha256: row.sha256 });

/** When an ended job's original is due for deletion after `days`, or null (kept for ever, or gone). */
export function retentionDue(row: JobRow, days: number): number | null {
	if (days <= 0 || row.original_deleted_at !== null || row.status === "deleted") return null;
	return (row.ended_at ?? row.updated_at) + days * 86_400_000;
}

/** The job as the contract says, with its webhook events (none without a callback URL). */
export function toJob(row: JobRow, webhookEvents: WebhookEvent[]): Job {
	return {
		id: row.id,
		ownerId: row.owner_id,
		callbackUrl: row.callback_url,
		sha256: row.sha256,
		deduplicatedFrom: row.dedup_of,
		placeholder: row.placeholder === null ? null : JSON.parse(row.placeholder),
		facts: row.facts === null ? null : JSON.parse(row.facts),
		webhookEvents,
		slug: row.slug,
		traceId: row.trace_id,
		status: row.status,
		original: {
			contentType: row.original_content_type as Job["original"]["contentType"],
			bytes: row.original_bytes,
			width: row.original_width,
			height: row.original_height,
		},
		attempts: row.attempts,
		thumbnail:
			row.thumbnail_width === null
				? null
				: {
						width: row.thumbnail_width,
						height: row.thumbnail_height!,
						bytes: row.thumbnail_bytes!,
						etag: row.thumbnail_etag!,
					},
		error: row.error_code ? { code: row.error_code as JobError["code"], message: row.error_message ?? "" } : null,
		nextAttemptAt: row.status === "queued" ? row.next_attempt_at : null,
		deletedAt: row.deleted_at,
		originalDeletedAt: row.original_deleted_at,
		version: row.version,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
}

/**
 * The job's one row: read once per synchronous run, written with its version bumped, waited on.
 * An attempt under way is held in memory only (lease): the row reads `processing`, with the
 * attempt counted and its lease, and the next write stores the count with whatever it changes.
 * A lease lost with the object (evicted mid-attempt) costs at worst a second render of the
 * same bytes, never a wrong thumbnail; it saves a row written for every job.
 */
export class JobRecord {
	/** The stored row as row() last read it, while that read is current. */
	#read: JobRow | null | undefined;
	/** The attempt under way (begin), in memory only: its number and when its lease ends. */
	#attempt: { attempts: number; leaseUntil: number } | null = null;
	readonly #waiters = new Set<() => void>();

	constructor(private readonly schema: Schema) {}

	/**
	 * The job's row, with the attempt under way on it. One read serves every caller until the row
	 * is written or the current synchronous run of the object's code ends: a call reads it a
	 * handful of times between writes, and each read would be a statement of its own.
	 */
	row(): JobRow | null {
		const stored = this.#stored();
		const attempt = this.#attempt;
		if (!stored || !attempt) return stored;
		return {
			...stored,
			status: "processing",
			attempts: attempt.attempts,
			lease_until: attempt.leaseUntil,
			next_attempt_at: null,
			// The attempt is a change: the listing keeps the newest version it is told.
			version: stored.version + 1,
		};
	}

	#stored(): JobRow | null {
		if (this.#read !== undefined) return this.#read;
		const row = this.schema.exists ? (this.schema.sql.exec<JobRow>("SELECT * FROM job LIMIT 1").toArray()[0] ?? null) : null;
		this.#read = row;
		queueMicrotask(() => this.written());
		return row;
	}

	/** The row has changed (or may have, after an await): the next row() reads it again. */
	written(): void {
		this.#read = undefined;
	}

	/** Writes a new job's row (newJobRow; the schema must exist). */
	insert(row: JobRow): void {
		const columns = Object.keys(row) as (keyof JobRow)[];
		this.schema.sql.exec(
			`INSERT INTO job (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
			...columns.map((column) => row[column]),
		);
		this.written();
	}

	/** An attempt starts: counted, and leased until `leaseUntil`, in memory (the class's note); waiters wake. */
	lease(leaseUntil: number): void {
		const stored = this.#stored()!;
		this.#attempt = { attempts: (this.#attempt?.attempts ?? stored.attempts) + 1, leaseUntil };
		this.#wake();
	}

	/**
	 * A change of the job (`assignments`, SQL with `?` for `values`, may be empty): its version grows
	 * (past the attempt's, which is stored with it); waiters wake.
	 */
	update(assignments: string, ...values: SqlStorageValue[]): void {
		const set = assignments ? `${assignments}, ` : "";
		const attempt = this.#attempt;
		this.#attempt = null;
		if (attempt) {
			this.schema.sql.exec(
				`UPDATE job SET ${set}attempts = ?, version = version + 2, updated_at = ?`,
				...values,
				attempt.attempts,
				Date.now(),
			);
		} else {
			this.schema.sql.exec(`UPDATE job SET ${set}version = version + 1, updated_at = ?`, ...values, Date.now());
		}
		this.written();
		this.#wake();
	}

	/** Notes that the listing's report of `version` is missing (null: none is); not a change of the job. */
	setReportDue(version: number | null): void {
		this.schema.sql.exec("UPDATE job SET report_due = ?", version);
		this.written();
	}

	/**
	 * The row once `settled` says so of it, or as it is after `timeoutMs` (long-polls, and an
	 * upload that waits for its thumbnail); null when there is no job.
	 */
	async until(settled: (row: JobRow) => boolean, timeoutMs: number): Promise<JobRow | null> {
		const until = Date.now() + timeoutMs;
		for (let row = this.row(); row; row = this.row()) {
			if (settled(row) || Date.now() >= until) return row;
			await this.#nextChange(until - Date.now());
		}
		return null;
	}

	/** How many callers wait for the job's next change now (long-polls). */
	get waiting(): number {
		return this.#waiters.size;
	}

	#wake(): void {
		for (const wake of [...this.#waiters]) wake();
	}

	/** Resolves at the next change of the job, or after `timeoutMs`. */
	#nextChange(timeoutMs: number): Promise<void> {
		return new Promise<void>((resolve) => {
			const waiters = this.#waiters;
			const timer = setTimeout(done, timeoutMs);
			function done() {
				clearTimeout(timer);
				waiters.delete(done);
				resolve();
			}
			waiters.add(done);
		});
	}
}
