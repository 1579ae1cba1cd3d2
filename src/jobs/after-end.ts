/**
 * What an ended job still owes, served by its object's one alarm: its webhook events (the
 * outbox) and its original's retention (once the job's master is stored). The object says when
 * the job ended and when the alarm fires; this part says what is due, does it, and arms the
 * alarm for what is next.
 */
import { settings } from "../base/config";
import { type Job, jobEnd, type WebhookEvent } from "../base/contracts";
import { originalKey } from "../base/storage";
import { jobView } from "../http/job-view";
import type { WebhookOutbox } from "../notify/outbox";
import { ownerStub } from "../objects";
import { type JobRecord, type JobRow, retentionDue, toJob } from "./schema";

/** What the part asks of its object. */
export interface AfterEndHost {
	/** The job a row is. */
	view(row: JobRow): Job;
	/** Tells the listing index the job's new state. */
	report(): void;
	/** Records that the original is gone. */
	originalDeleted(): Promise<void>;
	/** Makes the job's master, the last use of the original (jobs/renditions.ts); false when that has to wait. */
	keepMaster(): Promise<boolean>;
}

/** How long the original's deletion waits when the job's master could not be made. */
export const RETENTION_RETRY_MS = 60 * 60_000;

export class AfterEnd {
	/** Until when the original's deletion waits (its master could not be made): null, not waiting. */
	#retentionWaitsUntil: number | null = null;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly record: JobRecord,
		private readonly outbox: WebhookOutbox,
		private readonly host: AfterEndHost,
	) {}

	/**
	 * The job has ended (done, failed or deleted): if it was `inFlight`, its place among its owner's
	 * jobs in flight is free, and its end counted in the owner's usage, in one request
	 * (best-effort: the owner sweeps); its event is on its way; the alarm is armed.
	 */
	async ended(type: WebhookEvent["type"], inFlight: boolean): Promise<void> {
		const row = this.record.row()!;
		if (inFlight) {
			this.ctx.waitUntil(
				ownerStub(this.env, row.owner_id)
					// A job its owner retried (retries_since set) was uploaded once: this is not its first end.
					.release(row.id, jobEnd(toJob(row, []), row.retries_since === null))
					.catch(() => {}),
			);
		}
		if (row.callback_url) {
			const { webhook: _, ...data } = jobView(this.host.view(row), settings(this.env).PUBLIC_BASE_URL);
			this.outbox.add(type, data);
		}
		await this.arm();
	}

	/** The alarm of an ended job: due webhook attempts, the original's retention, then the next alarm. */
	async serve(now: number): Promise<void> {
		const row = this.record.row()!;
		const trace = {
			traceId: row.trace_id,
			attributes: { "job.id": row.id, "owner.id": row.owner_id, "upload.trace_id": row.trace_id },
		};
		if (
			row.callback_url &&
			(await this.outbox.deliverDue({ callbackUrl: row.callback_url, ownerId: row.owner_id, keyHash: row.key_hash, trace }, now))
		) {
			this.record.update(""); // an attempt is a change: it wakes long-polls and reaches the index
			this.host.report();
		}
		const due = this.#retentionDue();
		if (due !== null && due <= now) {
			// Every URL the job lists must keep working once the original is gone: the master the
			// renditions asked for later are made from is made first.
			if (await this.host.keepMaster()) {
				this.#retentionWaitsUntil = null;
				await this.env.BUCKET.delete(originalKey(row.id));
				await this.host.originalDeleted();
			} else {
				this.#retentionWaitsUntil = now + RETENTION_RETRY_MS;
			}
		}
		await this.arm();
	}

	/** When the original is due to go: ORIGINAL_RETENTION_DAYS after the end, later if it had to wait. */
	#retentionDue(): number | null {
		const due = retentionDue(this.record.row()!, settings(this.env).ORIGINAL_RETENTION_DAYS);
		return due === null ? null : Math.max(due, this.#retentionWaitsUntil ?? 0);
	}

	/** Sends the latest event again, from the start of the schedule (same webhook-id); false when there is none. */
	async redeliver(): Promise<boolean> {
		if (!this.record.row()!.callback_url || !this.outbox.redeliverLatest()) return false;
		await this.arm();
		return true;
	}

	/** The one alarm: the next webhook attempt or the original's retention, whichever is sooner; none when neither is left. */
	async arm(): Promise<void> {
		const row = this.record.row()!;
		const next = row.callback_url ? this.outbox.nextDue() : null;
		const candidates = [next, this.#retentionDue()].filter((t): t is number => t !== null);
		if (candidates.length > 0) await this.ctx.storage.setAlarm(Math.min(...candidates));
		else await this.ctx.storage.deleteAlarm();
	}
}
