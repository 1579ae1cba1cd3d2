import { gaveUp, type RetryPolicy } from "../base/attempts";
import { settings } from "../base/config";
import {
	type Job,
	type JobError,
	type JobStatus,
	type NewJob,
	TERMINAL_STATUSES,
	type ThumbnailInfo,
	type WebhookEvent,
} from "../base/contracts";
import { count } from "../base/metering";
import { shardOf } from "../base/shards";
import { SqliteObject } from "../base/sql";
import { putThumbnail, thumbnailKey } from "../base/storage";
import { ListingReporter } from "../listing/reporter";
import { WebhookOutbox } from "../notify/outbox";
import { ownerStub } from "../objects";
import { AfterEnd } from "./after-end";
import { JOB_SCHEMA, JobRecord, type JobRow, messageFor, toJob } from "./schema";

/** How long one processing attempt may hold the job before the watchdog steps in. */
export const LEASE_MS = 2 * 60_000;
/** How long a queued job may wait for the queue before the watchdog sends it again. */
export const QUEUED_TIMEOUT_MS = 5 * 60_000;
/** How long a delete waits for a thumbnail being written to finish before it removes what is there. */
export const WRITE_WAIT_MS = 30_000;

/**
 * How long an attempt runs before the listing index hears that the job is processing. Most
 * thumbnails are done sooner, and then the index hears once (done), not twice: one Durable
 * Object request and two rows written fewer per job.
 */
export const PROCESSING_REPORT_DELAY_MS = 1_000;

/** What the queue consumer learns when it asks to work on a job. */
export type Attempt =
	| { proceed: true; job: Job; retryUntil: number }
	| { proceed: false; reason: "missing" | "finished" | "leased" | "exhausted" };

/**
 * One job's state, in its own SQLite-backed object named by the job id.
 * Status moves queued → processing → done | failed. One alarm serves two
 * purposes: it starts the next attempt when a passing fault's backoff is over,
 * and it watches over every non-terminal state so that no job stays stuck.
 * An object only read (an unknown id) stores nothing.
 */
export class JobObject extends SqliteObject {
	/** The thumbnail's R2 write while storeThumbnail makes it (a delete waits for it). */
	#writing: Promise<unknown> | null = null;
	/** The job's row: read, written, waited on. */
	readonly #record: JobRecord;
	/** What the job sends to its callback URL (a job without one has no outbox tables). */
	readonly #outbox: WebhookOutbox;
	/** What the job still owes once it has ended (webhooks, retention). */
	readonly #afterEnd: AfterEnd;
	/** What the job tells its owner's listing index. */
	readonly #reporter: ListingReporter<JobRow>;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, JOB_SCHEMA);
		this.#record = new JobRecord(this.schema);
		this.#outbox = new WebhookOutbox(this.schema.sql, this.env, settings(this.env).webhookSchedule);
		this.#reporter = new ListingReporter(
			ctx,
			this.env,
			() => this.#record.row()!,
			(row) => this.#toJob(row),
			(version) => this.#record.setReportDue(version),
		);
		this.#afterEnd = new AfterEnd(ctx, this.env, this.#record, this.#outbox, {
			view: (row) => this.#toJob(row),
			report: () => this.#report(),
			originalDeleted: () => this.originalDeleted(),
		});
	}

	/** Records a new job; calling it again with the same id returns the stored job. */
	async create(input: NewJob): Promise<Job> {
		const existing = this.#record.row();
		if (existing) return this.#toJob(existing);
		this.schema.ensure();
		if (input.callbackUrl) this.#outbox.create();
		const now = Date.now();
		this.#record.insert(input, input.indexShards > 0 ? shardOf(input.id, input.indexShards) : null, now);
		await this.ctx.storage.setAlarm(now + QUEUED_TIMEOUT_MS);
		// Listed before the upload is answered; the queue is told at the same time.
		const job = this.#toJob(this.#record.row()!);
		await Promise.all([this.#reporter.send(), this.#enqueue()]);
		return job;
	}

	/** The job, or null if this object was never given one. */
	async get(): Promise<Job | null> {
		const row = this.#record.row();
		return row ? this.#toJob(row) : null;
	}

	/**
	 * Resolves with the job once its status differs from `seen`, or after
	 * `timeoutMs`, whichever comes first (long-polling).
	 */
	async waitForChange(seen: JobStatus, timeoutMs: number): Promise<Job | null> {
		const current = this.#record.row();
		if (!current || current.status !== seen || TERMINAL_STATUSES.includes(current.status)) return current && this.#toJob(current);
		await this.#record.nextChange(timeoutMs);
		return this.get();
	}

	/** Resolves with the job once it has ended, or after `timeoutMs` (an upload that waits for its thumbnail). */
	async waitToEnd(timeoutMs: number): Promise<Job | null> {
		const until = Date.now() + timeoutMs;
		for (let row = this.#record.row(); row; row = this.#record.row()) {
			if (TERMINAL_STATUSES.includes(row.status) || Date.now() >= until) return this.#toJob(row);
			await this.#record.nextChange(until - Date.now());
		}
		return null;
	}

	/**
	 * Claims the job for one processing attempt: counts it and takes a lease so
	 * that a duplicate delivery does not process it twice at once. A job still
	 * not done when its retry window has passed (its attempts kept dying) fails.
	 */
	async begin(policy: RetryPolicy): Promise<Attempt> {
		const row = this.#record.row();
		if (!row) return { proceed: false, reason: "missing" };
		if (TERMINAL_STATUSES.includes(row.status)) return { proceed: false, reason: "finished" };
		const now = Date.now();
		if (row.status === "processing" && (row.lease_until ?? 0) > now) return { proceed: false, reason: "leased" };
		const since = row.retries_since ?? row.created_at;
		const retryUntil = since + policy.windowSeconds * 1000;
		if (row.attempts > 0 && now > retryUntil) {
			await this.fail({
				code: row.error_code ? (row.error_code as JobError["code"]) : "timed_out",
				message: gaveUp(row.error_message ?? "Processing did not finish.", row.attempts, now - since),
			});
			return { proceed: false, reason: "exhausted" };
		}
		this.#record.update(
			"status = 'processing', attempts = attempts + 1, lease_until = ?, next_attempt_at = NULL",
			now + LEASE_MS,
		);
		await this.ctx.storage.setAlarm(now + LEASE_MS);
		this.#reporter.soon(PROCESSING_REPORT_DELAY_MS);
		return { proceed: true, job: this.#toJob(this.#record.row()!), retryUntil };
	}

	/**
	 * Writes the thumbnail at the job's slug and marks the job done, in one call from the
	 * consumer. Null, with nothing written, when the job is no longer being processed (deleted
	 * meanwhile, say). A delete that comes during the write waits for it, and the bytes written
	 * are removed again here: the job is then returned deleted. `dedupOf`: the earlier job
	 * whose thumbnail was copied instead of asking Thumbor.
	 */
	async storeThumbnail(
		bytes: Uint8Array,
		size: { width: number; height: number },
		dedupOf: string | null = null,
	): Promise<Job | null> {
		const row = this.#record.row();
		if (row?.status !== "processing") return null;
		const put = putThumbnail(this.env.BUCKET, row.slug, bytes, { jobId: row.id, ...size, copiedFrom: dedupOf });
		const writing = put.catch(() => {});
		this.#writing = writing;
		try {
			const stored = await put;
			const after = this.#record.row()!;
			if (after.status === "deleted") {
				await this.env.BUCKET.delete(thumbnailKey(row.slug));
				return this.#toJob(after);
			}
			return await this.succeed({ width: size.width, height: size.height, bytes: bytes.length, etag: stored.httpEtag }, dedupOf);
		} finally {
			if (this.#writing === writing) this.#writing = null;
		}
	}

	/**
	 * The thumbnail is in R2: the job is done (unless it was deleted meanwhile: then it stays
	 * deleted). `dedupOf`: the earlier job whose thumbnail was copied instead of asking Thumbor.
	 */
	async succeed(thumbnail: ThumbnailInfo, dedupOf: string | null = null): Promise<Job> {
		const row = this.#record.row();
		if (row?.status === "deleted") return this.#toJob(row);
		this.#record.update(
			`status = 'done', lease_until = NULL, error_code = NULL, error_message = NULL,
			 thumbnail_width = ?, thumbnail_height = ?, thumbnail_bytes = ?, thumbnail_etag = ?, dedup_of = ?, ended_at = ?`,
			thumbnail.width,
			thumbnail.height,
			thumbnail.bytes,
			thumbnail.etag,
			dedupOf,
			Date.now(),
		);
		await this.#ended("job.done");
		return this.#report();
	}

	/** The job cannot succeed: record why, for good. A finished job stays as it is. */
	async fail(error: JobError): Promise<Job | null> {
		const row = this.#record.row();
		if (!row) return null;
		if (TERMINAL_STATUSES.includes(row.status)) return this.#toJob(row);
		this.#record.update(
			"status = 'failed', lease_until = NULL, error_code = ?, error_message = ?, ended_at = ?",
			error.code,
			error.message,
			Date.now(),
		);
		await this.#ended("job.failed");
		return this.#report();
	}

	/**
	 * Its owner deletes the job: it becomes a tombstone (`deleted`, for good) and is
	 * never processed again. If its thumbnail is being written right now, this waits
	 * until that write is over, so the caller can remove it. Returns the job and
	 * whether it was deleted before; null for an unknown job.
	 */
	async delete(): Promise<{ job: Job; already: boolean } | null> {
		const row = this.#record.row();
		if (!row) return null;
		const already = row.status === "deleted";
		if (!already) {
			const wasActive = !TERMINAL_STATUSES.includes(row.status);
			this.#record.update("status = 'deleted', deleted_at = ?, lease_until = NULL, next_attempt_at = NULL", Date.now());
			if (wasActive) this.#leftFlight();
			await this.#afterEnd.ended("job.deleted");
			this.#report();
		}
		if (this.#writing) await Promise.race([this.#writing, scheduler.wait(WRITE_WAIT_MS)]);
		return { job: this.#toJob(this.#record.row()!), already };
	}

	/** The original is gone from R2 (deleted with the job, or by retention). */
	async originalDeleted(): Promise<void> {
		if (this.#record.row()?.original_deleted_at === null) {
			this.#record.update("original_deleted_at = ?", Date.now());
			this.#report();
		}
	}

	/** This attempt hit a passing fault: the job waits `delayMs`, then its alarm starts the next attempt. */
	async retryLater(error: JobError, delayMs: number): Promise<Job | null> {
		const row = this.#record.row();
		if (row?.status !== "processing") return row && this.#toJob(row);
		const due = Date.now() + delayMs;
		this.#record.update(
			"status = 'queued', lease_until = NULL, next_attempt_at = ?, error_code = ?, error_message = ?",
			due,
			error.code,
			error.message,
		);
		await this.ctx.storage.setAlarm(due);
		return this.#report();
	}

	/**
	 * Its owner asks for a failed job to be tried again: allowed when it failed for a
	 * reason in `retryable` (nothing against the image). It keeps its id, slug and
	 * attempt count, and gets a fresh retry window. Returns the job and whether it was requeued.
	 */
	async retry(retryable: readonly JobError["code"][]): Promise<{ job: Job; requeued: boolean } | null> {
		const row = this.#record.row();
		if (!row) return null;
		if (row.status !== "failed" || row.original_deleted_at !== null || !retryable.includes(row.error_code as JobError["code"])) {
			return { job: this.#toJob(row), requeued: false };
		}
		const now = Date.now();
		this.#record.update(
			"status = 'queued', error_code = NULL, error_message = NULL, retries_since = ?, next_attempt_at = NULL",
			now,
		);
		await this.ctx.storage.setAlarm(now + QUEUED_TIMEOUT_MS);
		const job = this.#report();
		await this.#enqueue();
		return { job, requeued: true };
	}

	/**
	 * A scheduled attempt is due, or the watchdog found the job stuck (its message
	 * lost, its worker dead): send it to the queue again. Also: a listing report that
	 * failed goes out again, and an ended job's webhooks and retention are served.
	 */
	override async alarm(): Promise<void> {
		count("do alarm JobObject");
		const row = this.#record.row();
		if (!row) return;
		if (row.report_due !== null) await this.#reporter.send();
		const now = Date.now();
		if (TERMINAL_STATUSES.includes(row.status)) return this.#afterEnd.serve(now);
		// Woken early (a report retry): nothing is due yet.
		const due = this.#watchdogDue(row);
		if (due > now) {
			await this.ctx.storage.setAlarm(due);
			return;
		}
		if (row.next_attempt_at === null) {
			console.warn(`job ${row.id} found ${row.status} by its watchdog after ${row.attempts} attempts; re-enqueueing`);
		}
		await this.#sendAgain(row);
	}

	/**
	 * The queue may have lost this job's message (a local `wrangler dev` keeps its queue in
	 * memory, so a restart loses every message in it): send the job again now, unless it is
	 * waiting out a backoff (its alarm sends it) or an attempt holds its lease. With
	 * `abandonLease`, a lease is taken as held by an attempt that died (the caller knows the
	 * Worker restarted). True when the job was sent again.
	 */
	async requeue(abandonLease: boolean): Promise<boolean> {
		const row = this.#record.row();
		if (!row || TERMINAL_STATUSES.includes(row.status)) return false;
		const now = Date.now();
		if (row.status === "queued" && row.next_attempt_at !== null && row.next_attempt_at > now) return false;
		if (row.status === "processing" && !abandonLease && (row.lease_until ?? 0) > now) return false;
		await this.#sendAgain(row);
		return true;
	}

	/** Queued again, sent to the queue now, the watchdog armed for the queue's delivery. */
	async #sendAgain(row: JobRow): Promise<void> {
		this.#record.update("status = 'queued', lease_until = NULL, next_attempt_at = NULL");
		await this.env.JOB_QUEUE.send(messageFor(row));
		await this.ctx.storage.setAlarm(Date.now() + QUEUED_TIMEOUT_MS);
		this.#report();
	}

	/**
	 * When a job in flight is due for the alarm's attention: its scheduled attempt, the
	 * end of its processing lease, or its time in the queue running out.
	 */
	#watchdogDue(row: JobRow): number {
		if (row.status === "processing") return row.lease_until ?? 0;
		return row.next_attempt_at ?? row.updated_at + QUEUED_TIMEOUT_MS;
	}

	/** A job has ended: its place in flight is free, its event is on its way, its original is kept a while. */
	async #ended(type: WebhookEvent["type"]): Promise<void> {
		this.#leftFlight();
		await this.#afterEnd.ended(type);
	}

	/** Sends the job's latest event again, from the start of the schedule (same webhook-id). */
	async redeliver(): Promise<Job | null> {
		const row = this.#record.row();
		if (!row) return null;
		await this.#afterEnd.redeliver();
		return this.#toJob(this.#record.row()!);
	}

	#toJob(row: JobRow): Job {
		return toJob(row, row.callback_url ? this.#outbox.events() : []);
	}

	/**
	 * Returns the job, and tells the owner's listing index its new state in the
	 * background: the index lags a change by one call, and no caller waits for it.
	 */
	#report(): Job {
		this.#reporter.now();
		return this.#toJob(this.#record.row()!);
	}

	/** Hands the job to the queue; if that fails, the watchdog alarm sends it later. */
	async #enqueue(): Promise<void> {
		const row = this.#record.row()!;
		try {
			await this.env.JOB_QUEUE.send(messageFor(row));
		} catch (err) {
			console.error(`job ${row.id}: enqueue failed, leaving it to the watchdog`, err);
		}
	}

	/** An ended job no longer counts against its owner's jobs in flight (best-effort: the owner sweeps). */
	#leftFlight(): void {
		const row = this.#record.row();
		if (!row) return;
		this.ctx.waitUntil(
			ownerStub(this.env, row.owner_id)
				.release(row.id)
				.catch(() => {}),
		);
	}
}
