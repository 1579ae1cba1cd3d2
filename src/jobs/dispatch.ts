/**
 * How a job reaches the queue, and the watchdog that makes sure it does: the first send, a
 * send again when the queue lost the message or an attempt died, and when the object's one
 * alarm is due for a job still in flight. The object decides the job's state; this part sends.
 */
import type { Job } from "../base/contracts";
import type { JobRecord, JobRow } from "./schema";
import { messageFor } from "./schema";

/** How long one processing attempt may hold the job before the watchdog steps in. */
export const LEASE_MS = 2 * 60_000;
/** How long a queued job may wait for the queue before the watchdog sends it again. */
export const QUEUED_TIMEOUT_MS = 5 * 60_000;

/** What the queue consumer learns when it asks to work on a job. */
export type Attempt =
	| { proceed: true; job: Job }
	| { proceed: false; reason: "missing" | "finished" | "leased" }
	| { proceed: false; reason: "exhausted"; job: Job };

export class Dispatch {
	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly record: JobRecord,
	) {}

	/** Hands the job to the queue; if that fails, the watchdog alarm sends it later. */
	async enqueue(): Promise<void> {
		const row = this.record.row()!;
		try {
			await this.env.JOB_QUEUE.send(messageFor(row));
		} catch (err) {
			console.error(`job ${row.id}: enqueue failed, leaving it to the watchdog`, err);
		}
	}

	/** Queued again, sent to the queue now, the watchdog armed for the queue's delivery. */
	async sendAgain(): Promise<void> {
		this.record.update("status = 'queued', lease_until = NULL, next_attempt_at = NULL");
		await this.env.JOB_QUEUE.send(messageFor(this.record.row()!));
		await this.watchQueued();
	}

	/** Arms the watchdog for a job that has just gone to the queue. */
	async watchQueued(): Promise<void> {
		await this.ctx.storage.setAlarm(Date.now() + QUEUED_TIMEOUT_MS);
	}

	/**
	 * Whether a job in flight may be sent again now: not while it waits out a backoff (its
	 * alarm sends it) or an attempt holds its lease — unless `abandonLease` says that attempt died.
	 */
	mayRequeue(row: JobRow, abandonLease: boolean, now: number): boolean {
		if (row.status === "queued" && row.next_attempt_at !== null && row.next_attempt_at > now) return false;
		return !(row.status === "processing" && !abandonLease && (row.lease_until ?? 0) > now);
	}

	/**
	 * When a job in flight is due for the alarm's attention: its scheduled attempt, the
	 * end of its processing lease, or its time in the queue running out.
	 */
	watchdogDue(row: JobRow): number {
		if (row.status === "processing") return row.lease_until ?? 0;
		return row.next_attempt_at ?? row.updated_at + QUEUED_TIMEOUT_MS;
	}
}
