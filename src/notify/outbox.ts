/**
 * A job's webhook outbox, owned by its JobObject: the events to send to the job's callback
 * URL and every delivery attempt, in two tables of the job's database (made only for a job
 * with a callback URL). The object decides when an event happens and when its alarm runs;
 * the outbox records, delivers and reports.
 */

import type { WebhookEvent } from "../base/contracts";
import { ulid } from "../base/ids";
import { record, WEBHOOK } from "../base/metrics";
import type { SpanAttributes } from "../base/tracing";
import { keyObject } from "../objects";
import { attemptDelivery, nextDeliveryDelayMs } from "./deliver";

/** The outbox's tables (IF NOT EXISTS: a job without a callback URL has none, and makes none). */
const TABLES = [
	`CREATE TABLE IF NOT EXISTS webhook_event (
		id TEXT PRIMARY KEY,
		type TEXT NOT NULL,
		body TEXT NOT NULL,
		state TEXT NOT NULL,
		attempts INTEGER NOT NULL DEFAULT 0,
		next_at INTEGER,
		created_at INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS webhook_attempt (
		event_id TEXT NOT NULL,
		at INTEGER NOT NULL,
		status INTEGER,
		error TEXT,
		ms INTEGER NOT NULL
	)`,
];

type EventRow = {
	id: string;
	type: WebhookEvent["type"];
	body: string;
	state: WebhookEvent["state"];
	attempts: number;
	next_at: number | null;
};
type AttemptRow = { event_id: string; at: number; status: number | null; error: string | null; ms: number };

/** Where a job's events go, and whose key's webhook secrets sign them. */
export interface Destination {
	callbackUrl: string;
	/** The job's owner: its metrics events are indexed by it. */
	ownerId: string;
	keyHash: string | null;
	/** The job's trace (its upload's), sent as `traceparent`, and what its spans say of the job. */
	trace: { traceId: string; attributes: SpanAttributes };
}

export class WebhookOutbox {
	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
		/** Seconds before each retry after the first attempt (WEBHOOK_RETRY_SCHEDULE). */
		private readonly schedule: readonly number[],
	) {}

	/** Makes the outbox's tables: for a job with a callback URL, as it is made. */
	create(): void {
		for (const table of TABLES) this.sql.exec(table);
	}

	/** Records an event, due at once; `data` is the job as its webhook shows it. */
	add(type: WebhookEvent["type"], data: unknown): void {
		const now = Date.now();
		const body = JSON.stringify({ type, timestamp: new Date(now).toISOString(), data });
		this.sql.exec(
			"INSERT INTO webhook_event (id, type, body, state, next_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)",
			`msg_${ulid(now)}`,
			type,
			body,
			now,
			now,
		);
	}

	/** When the next pending event is due, or null when none is. */
	nextDue(): number | null {
		return this.sql.exec<{ at: number | null }>("SELECT MIN(next_at) AS at FROM webhook_event WHERE state = 'pending'").one().at;
	}

	/** Attempts every pending event due by `now`, oldest first, and records each attempt; whether any was. */
	async deliverDue(to: Destination, now: number): Promise<boolean> {
		const due = this.sql
			.exec<EventRow>("SELECT * FROM webhook_event WHERE state = 'pending' AND next_at <= ? ORDER BY created_at", now)
			.toArray();
		if (due.length === 0) return false;
		const secrets = to.keyHash ? await keyObject(this.env, to.keyHash).webhookSecrets() : [];
		for (const event of due) {
			const outcome =
				secrets.length > 0
					? await attemptDelivery(to.callbackUrl, secrets, event.id, event.body, {
							traceId: to.trace.traceId,
							attributes: { ...to.trace.attributes, "webhook.event": event.type, "webhook.attempt": event.attempts + 1 },
						})
					: {
							at: now,
							status: null,
							error: "the API key that made the job has no webhook secret",
							ms: 0,
							result: "gone" as const,
						};
			this.sql.exec(
				"INSERT INTO webhook_attempt (event_id, at, status, error, ms) VALUES (?, ?, ?, ?, ?)",
				event.id,
				outcome.at,
				outcome.status,
				outcome.error,
				outcome.ms,
			);
			const attempts = event.attempts + 1;
			record(this.env, WEBHOOK, to.ownerId, {
				result: outcome.result,
				eventType: event.type,
				status: outcome.status,
				ms: outcome.ms,
				attempt: attempts,
			});
			const delay = outcome.result === "retry" ? nextDeliveryDelayMs(attempts, this.schedule) : null;
			const state = outcome.result === "delivered" ? "delivered" : delay === null ? "failed" : "pending";
			this.sql.exec(
				"UPDATE webhook_event SET attempts = ?, state = ?, next_at = ? WHERE id = ?",
				attempts,
				state,
				delay === null ? null : Date.now() + delay,
				event.id,
			);
		}
		return true;
	}

	/** Makes the latest event pending again, from the start of the schedule (same webhook-id); false when there is none. */
	redeliverLatest(): boolean {
		const latest = this.sql.exec<EventRow>("SELECT * FROM webhook_event ORDER BY created_at DESC LIMIT 1").toArray()[0];
		if (!latest) return false;
		this.sql.exec("UPDATE webhook_event SET state = 'pending', attempts = 0, next_at = ? WHERE id = ?", Date.now(), latest.id);
		return true;
	}

	/** Every event, oldest first, with its attempts. */
	events(): WebhookEvent[] {
		const attempts = this.sql.exec<AttemptRow>("SELECT * FROM webhook_attempt ORDER BY at").toArray();
		return this.sql
			.exec<EventRow>("SELECT * FROM webhook_event ORDER BY created_at")
			.toArray()
			.map((e) => ({
				id: e.id,
				type: e.type,
				state: e.state,
				nextAttemptAt: e.state === "pending" ? e.next_at : null,
				attempts: attempts.filter((a) => a.event_id === e.id).map(({ at, status, error, ms }) => ({ at, status, error, ms })),
			}));
	}
}
