/**
 * A job's reports to its owner's listing index (listing/job-index-shard.ts), owned by its JobObject.
 * Reports are versioned, so one that arrives late changes nothing; they go out in the
 * background (no caller waits for the index); one that fails is noted in the job's row and
 * sent again by the object's alarm.
 */
import type { Job } from "../base/contracts";
import { indexShard } from "../objects";

/**
 * How long an attempt runs before the listing index hears that the job is processing. Most
 * thumbnails are done sooner, and then the index hears once (done), not twice: one Durable
 * Object request and two rows written fewer per job.
 */
export const PROCESSING_REPORT_DELAY_MS = 1_000;

/** How soon the alarm tries again after the listing index could not be told of a change. */
export const REPORT_RETRY_MS = 30_000;

/** What of the job's row a report needs (the row's own column names). */
export interface ReportedRow {
	id: string;
	owner_id: string;
	index_shard: number | null;
	version: number;
	report_due: number | null;
}

export class ListingReporter<Row extends ReportedRow> {
	/** A report put off (soon) until it is seen whether a later one makes it needless. */
	#putOff: ReturnType<typeof setTimeout> | null = null;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		/** The job's row as it is now. */
		private readonly row: () => Row,
		/** The job the row is. */
		private readonly view: (row: Row) => Job,
		/** Notes in the row that the report of `version` is missing (null: none is). */
		private readonly markDue: (version: number | null) => void,
	) {}

	/** Reports the job as it is now, in the background, in place of any put off. */
	now(): void {
		this.cancel();
		this.ctx.waitUntil(this.send());
	}

	/**
	 * Reports the job after `delayMs` unless another report (which carries the newer state)
	 * goes first. Kept in memory only: if the object stops meanwhile, the index shows the job's
	 * previous state until its next change.
	 */
	soon(delayMs: number): void {
		this.cancel();
		this.#putOff = setTimeout(() => {
			this.#putOff = null;
			this.ctx.waitUntil(this.send());
		}, delayMs);
	}

	/** Drops a report put off by soon(). */
	cancel(): void {
		if (this.#putOff) clearTimeout(this.#putOff);
		this.#putOff = null;
	}

	/** Tells the index the job's current state; one that fails is sent again by the alarm. */
	async send(): Promise<void> {
		const row = this.row();
		if (row.index_shard === null) return;
		try {
			await indexShard(this.env, row.owner_id, row.index_shard).record(this.view(row));
			// Only a missed report costs a row written: success writes nothing (rows written are billed).
			if (row.report_due !== null && this.row().version === row.version) this.markDue(null);
		} catch (err) {
			console.error(`job ${row.id}: could not update the listing index; trying again in ${REPORT_RETRY_MS / 1000} s`, err);
			this.markDue(row.version);
			const retryAt = Date.now() + REPORT_RETRY_MS;
			const armed = await this.ctx.storage.getAlarm();
			if (armed === null || armed > retryAt) await this.ctx.storage.setAlarm(retryAt);
		}
	}
}
