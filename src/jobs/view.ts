import { type Job, thumbnailPath } from "../contracts";

/** A job as the HTTP API shows it: absolute thumbnail URL (on PUBLIC_BASE_URL, never the request's Host), ISO timestamps, no internals. */
export function jobView(job: Job, publicBaseUrl: string) {
	return {
		id: job.id,
		status: job.status,
		slug: job.slug,
		thumbnailUrl: new URL(thumbnailPath(job.slug), publicBaseUrl).href,
		...(job.error && { error: job.error }),
		...(job.nextAttemptAt !== null && { nextAttemptAt: new Date(job.nextAttemptAt).toISOString() }),
		attempts: job.attempts,
		original: { ...job.original, ...(job.originalDeletedAt !== null && { deletedAt: new Date(job.originalDeletedAt).toISOString() }) },
		...(job.thumbnail && {
			thumbnail: { width: job.thumbnail.width, height: job.thumbnail.height, bytes: job.thumbnail.bytes },
		}),
		...(job.deduplicatedFrom !== null && { deduplicated: true, deduplicatedFrom: job.deduplicatedFrom }),
		...(job.deletedAt !== null && { deletedAt: new Date(job.deletedAt).toISOString() }),
		...(job.callbackUrl && {
			webhook: {
				url: job.callbackUrl,
				// Each event's state (pending, delivered, failed) and every delivery attempt.
				events: job.webhookEvents.map((e) => ({
					id: e.id,
					type: e.type,
					state: e.state,
					...(e.nextAttemptAt !== null && { nextAttemptAt: new Date(e.nextAttemptAt).toISOString() }),
					attempts: e.attempts.map((a) => ({ at: new Date(a.at).toISOString(), status: a.status, error: a.error, ms: a.ms })),
				})),
			},
		}),
		createdAt: new Date(job.createdAt).toISOString(),
		updatedAt: new Date(job.updatedAt).toISOString(),
	};
}

/** The job view's shape, for clients and tests. */
export type JobView = ReturnType<typeof jobView>;
