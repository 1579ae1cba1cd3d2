import { gaveUp, mayRetry, type RetryPolicy, retryDelayMs } from "../base/attempts";
import { settings } from "../base/config";
import {
	type ImageDetails,
	type Job,
	type JobError,
	type JobStatus,
	type NewJob,
	TERMINAL_STATUSES,
	THUMBNAIL,
	type ThumbnailInfo,
} from "../base/contracts";
import { count } from "../base/metering";
import { isCanonical, parseRenditionName, type RenditionName } from "../base/renditions";
import { SqliteObject } from "../base/sql";
import { allRenditionKeys } from "../base/storage";
import { ListingReporter, PROCESSING_REPORT_DELAY_MS } from "../listing/reporter";
import { WebhookOutbox } from "../notify/outbox";
import type { Output } from "../render/origin-client";
import { AfterEnd } from "./after-end";
import { type Attempt, Dispatch, LEASE_MS } from "./dispatch";
import { type RenditionAnswer, Renditions } from "./renditions";
import { JOB_SCHEMA, JobRecord, type JobRow, newJobRow, toJob } from "./schema";
import { ThumbnailWrite } from "./thumbnail-write";

/**
 * One job's state, in its own SQLite-backed object named by the job id.
 * Status moves queued → processing → done | failed. One alarm serves two
 * purposes: it starts the next attempt when a passing fault's backoff is over,
 * and it watches over every non-terminal state so that no job stays stuck.
 * An object only read (an unknown id) stores nothing.
 */
export class JobObject extends SqliteObject {
	/** The job's row: read, written, waited on. */
	readonly #record: JobRecord;
	/** What the job sends to its callback URL (a job without one has no outbox tables). */
	readonly #outbox: WebhookOutbox;
	/** What the job still owes once it has ended (webhooks, retention). */
	readonly #afterEnd: AfterEnd;
	/** What the job tells its owner's listing index. */
	readonly #reporter: ListingReporter<JobRow>;
	/** How the job reaches the queue, and its watchdog. */
	readonly #dispatch: Dispatch;
	/** The renditions' R2 writes (a delete waits for them). */
	readonly #thumbnail: ThumbnailWrite;
	/** The renditions made after the job is done, on request; its master, before retention. */
	readonly #renditions: Renditions;
	/** How passing faults are retried (RETRY_* in the environment): decided here, nowhere else. */
	readonly #policy: RetryPolicy;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, JOB_SCHEMA);
		this.#policy = settings(this.env).retry;
		this.#record = new JobRecord(this.schema);
		this.#outbox = new WebhookOutbox(this.schema.sql, this.env, settings(this.env).webhookSchedule);
		this.#reporter = new ListingReporter(
			ctx,
			this.env,
			() => this.#record.row()!,
			(row) => this.#toJob(row),
			(version) => this.#record.setReportDue(version),
		);
		this.#dispatch = new Dispatch(ctx, this.env, this.#record);
		this.#thumbnail = new ThumbnailWrite(this.env.BUCKET);
		this.#renditions = new Renditions(this.env, this.#record, this.#thumbnail, () => this.#toJob(this.#record.row()!));
		this.#afterEnd = new AfterEnd(ctx, this.env, this.#record, this.#outbox, {
			view: (row) => this.#toJob(row),
			report: () => this.#report(),
			originalDeleted: () => this.originalDeleted(),
			keepMaster: () => this.#renditions.keepMaster(),
		});
	}

	/**
	 * Records a new job and sends it to the queue; calling it again with the same id returns the
	 * stored job. Its listing entry is made beside this call, by whoever makes the job (jobs/make.ts).
	 * With `waitMs`, the answer waits (at most that long) for the job to end, in the same request.
	 */
	async create(input: NewJob, waitMs = 0): Promise<Job> {
		const existing = this.#record.row();
		let job = existing && this.#toJob(existing);
		if (!job) {
			this.schema.ensure();
			if (input.callbackUrl) this.#outbox.create();
			this.#record.insert(newJobRow(input));
			await this.#dispatch.watchQueued();
			job = this.#toJob(this.#record.row()!);
			await this.#dispatch.enqueue();
		}
		return waitMs > 0 ? ((await this.waitToEnd(waitMs)) ?? job) : job;
	}

	/** Tells the listing index the job's state now (its maker could not); a failure is tried again by the alarm. */
	async relist(): Promise<void> {
		if (this.#record.row()) await this.#reporter.send();
	}

	/** The job, or null if this object was never given one. */
	async get(): Promise<Job | null> {
		const row = this.#record.row();
		return row ? this.#toJob(row) : null;
	}

	/** The job once its status differs from `seen` or it has ended, or after `timeoutMs` (long-polling). */
	async waitForChange(seen: JobStatus, timeoutMs: number): Promise<Job | null> {
		const row = await this.#record.until((row) => row.status !== seen || TERMINAL_STATUSES.includes(row.status), timeoutMs);
		return row && this.#toJob(row);
	}

	/** How many requests wait on this job's next change now: a test knows a long-poll has started from it. */
	get longPolls(): number {
		return this.#record.waiting;
	}

	/** The job once it has ended, or after `timeoutMs` (an upload that waits for its thumbnail). */
	async waitToEnd(timeoutMs: number): Promise<Job | null> {
		const row = await this.#record.until((row) => TERMINAL_STATUSES.includes(row.status), timeoutMs);
		return row && this.#toJob(row);
	}

	/**
	 * Claims the job for one processing attempt: counts it and takes a lease so
	 * that a duplicate delivery does not process it twice at once (both held in
	 * memory until the attempt's outcome is written: JobRecord). A job still
	 * not done when its retry window has passed (its attempts kept dying) fails.
	 */
	async begin(): Promise<Attempt> {
		const row = this.#record.row();
		if (!row) return { proceed: false, reason: "missing" };
		if (TERMINAL_STATUSES.includes(row.status)) return { proceed: false, reason: "finished" };
		const now = Date.now();
		if (row.status === "processing" && (row.lease_until ?? 0) > now) return { proceed: false, reason: "leased" };
		const since = row.retries_since ?? row.created_at;
		if (row.attempts > 0 && now > this.#retryUntil(row)) {
			const job = await this.fail({
				code: row.error_code ? (row.error_code as JobError["code"]) : "timed_out",
				message: gaveUp(row.error_message ?? "Processing did not finish.", row.attempts, now - since),
			});
			return { proceed: false, reason: "exhausted", job: job! };
		}
		// In memory only (JobRecord): the next write of the job stores the attempt's count with it.
		this.#record.lease(now + LEASE_MS);
		await this.ctx.storage.setAlarm(now + LEASE_MS);
		this.#reporter.soon(PROCESSING_REPORT_DELAY_MS);
		return { proceed: true, job: this.#toJob(this.#record.row()!) };
	}

	/**
	 * The attempt under way failed with `error`: the job decides what follows. A `permanent`
	 * failure (the image's fault, certain) fails it; a passing one is tried again after a capped,
	 * jittered backoff, unless that would pass its retry window: then it fails, saying how long it
	 * was tried. The caller learns what was decided, to log it.
	 */
	async attemptFailed(
		error: JobError,
		permanent: boolean,
	): Promise<{ decision: "failed" | "retry"; delayMs: number; job: Job | null }> {
		const row = this.#record.row();
		if (row?.status !== "processing") return { decision: "failed", delayMs: 0, job: row && this.#toJob(row) };
		const delayMs = retryDelayMs(row.attempts, this.#policy);
		const now = Date.now();
		if (!permanent && now + delayMs <= this.#retryUntil(row)) {
			return { decision: "retry", delayMs, job: await this.#retryLater(error, delayMs) };
		}
		const since = row.retries_since ?? row.created_at;
		const message = permanent ? error.message : gaveUp(error.message, row.attempts, now - since);
		return { decision: "failed", delayMs: 0, job: await this.fail({ code: error.code, message }) };
	}

	/** When the job stops being retried: RETRY_WINDOW_SECONDS after its first attempt (or its owner's last retry). */
	#retryUntil(row: JobRow): number {
		return (row.retries_since ?? row.created_at) + this.#policy.windowSeconds * 1000;
	}

	/**
	 * Writes the job's eager renditions at its slug (side by side) and marks the job done, in one
	 * call from the consumer. Null, with nothing written, when the job is no longer being processed
	 * (deleted meanwhile, say). A delete that comes during the writes waits for them, and the bytes
	 * written are removed again here: the job is then returned deleted. `focus`: where the origin
	 * centred the crop (kept with the canonical, for the renditions made later). `dedupOf`: the
	 * earlier job whose renditions were copied instead of asking Thumbor.
	 */
	async storeThumbnail(
		outputs: Output[],
		details: ImageDetails,
		focus: string | null,
		dedupOf: string | null = null,
	): Promise<Job | null> {
		const row = this.#record.row();
		if (row?.status !== "processing") return null;
		const canonical = outputs.findIndex((o) => isCanonical(o.rendition));
		if (canonical < 0) throw new Error("the canonical thumbnail is not among the outputs");
		const stored = await this.#thumbnail.put(row.slug, outputs, { jobId: row.id, copiedFrom: dedupOf, details, focus });
		const after = this.#record.row()!;
		if (after.status === "deleted") {
			await this.env.BUCKET.delete(allRenditionKeys(row.slug));
			return this.#toJob(after);
		}
		const thumbnail = {
			width: THUMBNAIL.width,
			height: THUMBNAIL.height,
			bytes: outputs[canonical]!.bytes.length,
			etag: stored[canonical]!.httpEtag,
		};
		return await this.succeed(thumbnail, details, dedupOf);
	}

	/**
	 * Rendition `name` of the done job (base/renditions.ts), made on its first request: one origin
	 * call for every request that comes while it is made (jobs/renditions.ts).
	 */
	async rendition(name: RenditionName): Promise<RenditionAnswer> {
		const r = parseRenditionName(name);
		return r ? this.#renditions.get(r) : { status: "missing" };
	}

	/**
	 * The thumbnail is in R2: the job is done (unless it was deleted meanwhile: then it stays
	 * deleted), with what the origin said of the image. `dedupOf`: the earlier job whose
	 * thumbnail (and details) were copied instead of asking Thumbor.
	 */
	async succeed(thumbnail: ThumbnailInfo, details: ImageDetails, dedupOf: string | null = null): Promise<Job> {
		const row = this.#record.row();
		if (row?.status === "deleted") return this.#toJob(row);
		const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
		this.#record.update(
			`status = 'done', lease_until = NULL, error_code = NULL, error_message = NULL, thumbnail_width = ?,
			 thumbnail_height = ?, thumbnail_bytes = ?, thumbnail_etag = ?, dedup_of = ?, placeholder = ?, facts = ?, ended_at = ?`,
			thumbnail.width,
			thumbnail.height,
			thumbnail.bytes,
			thumbnail.etag,
			dedupOf,
			json(details.placeholder),
			json(details.facts),
			Date.now(),
		);
		await this.#afterEnd.ended("job.done", true);
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
		await this.#afterEnd.ended("job.failed", true);
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
			const inFlight = !TERMINAL_STATUSES.includes(row.status);
			this.#record.update("status = 'deleted', deleted_at = ?, lease_until = NULL, next_attempt_at = NULL", Date.now());
			await this.#afterEnd.ended("job.deleted", inFlight);
			this.#report();
		}
		await this.#thumbnail.settled();
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
	async #retryLater(error: JobError, delayMs: number): Promise<Job> {
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
	 * Its owner asks for a failed job to be tried again: allowed when it failed for a reason
	 * that says nothing against the image and its original is still kept (mayRetry). It
	 * keeps its id, slug and attempt count, and gets a fresh retry window. Returns the job and
	 * whether it was requeued.
	 */
	async retry(): Promise<{ job: Job; requeued: boolean } | null> {
		const row = this.#record.row();
		if (!row) return null;
		if (!mayRetry(this.#toJob(row))) return { job: this.#toJob(row), requeued: false };
		const now = Date.now();
		this.#record.update(
			"status = 'queued', error_code = NULL, error_message = NULL, retries_since = ?, next_attempt_at = NULL",
			now,
		);
		await this.#dispatch.watchQueued();
		const job = this.#report();
		await this.#dispatch.enqueue();
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
		const due = this.#dispatch.watchdogDue(row);
		if (due > now) {
			await this.ctx.storage.setAlarm(due);
			return;
		}
		if (row.next_attempt_at === null) {
			console.warn(`job ${row.id} found ${row.status} by its watchdog after ${row.attempts} attempts; re-enqueueing`);
		}
		await this.#sendAgain();
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
		if (!this.#dispatch.mayRequeue(row, abandonLease, Date.now())) return false;
		await this.#sendAgain();
		return true;
	}

	/** Queued again and sent to the queue now (the watchdog armed for its delivery); the index hears. */
	async #sendAgain(): Promise<void> {
		await this.#dispatch.sendAgain();
		this.#report();
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
}
