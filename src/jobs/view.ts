import { type Job, thumbnailPath } from "../contracts";

/** A job as the HTTP API shows it: absolute thumbnail URL, ISO timestamps, no internals. */
export function jobView(job: Job, requestUrl: string) {
	return {
		id: job.id,
		status: job.status,
		slug: job.slug,
		thumbnailUrl: new URL(thumbnailPath(job.slug), requestUrl).href,
		...(job.error && { error: job.error }),
		attempts: job.attempts,
		original: job.original,
		...(job.thumbnail && {
			thumbnail: { width: job.thumbnail.width, height: job.thumbnail.height, bytes: job.thumbnail.bytes },
		}),
		createdAt: new Date(job.createdAt).toISOString(),
		updatedAt: new Date(job.updatedAt).toISOString(),
	};
}
