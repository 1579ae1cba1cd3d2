import { z } from "zod";
import {
	ImageFacts,
	ImageType,
	type Job,
	JobError,
	JobId,
	JobStatus,
	Placeholder,
	Slug,
	TraceId,
	type UploadState,
	WebhookEvent,
} from "../base/contracts";
import { DENSITIES, FORMATS, type Format, type Rendition, renditionPath } from "../base/renditions";

const Instant = z.iso.datetime().describe("ISO 8601, UTC");

/** One format's renditions: a URL per density, and the `srcset` that lists them. */
const FormatRenditions = z.object({
	type: z.enum(Object.values(FORMATS).map((f) => f.type)).describe("For <source type>"),
	"1x": z.url().describe("100x100"),
	"2x": z.url().describe("200x200"),
	"3x": z.url().describe("300x300"),
	srcset: z.string().describe("Ready for <img srcset> or <source srcset>: `<1x> 1x, <2x> 2x, <3x> 3x`"),
});

/** Every rendition of a slug's thumbnail, by format (base/renditions.ts). */
export const Renditions = z
	.object({ webp: FormatRenditions, avif: FormatRenditions, jpg: FormatRenditions })
	.describe(
		"The thumbnail in every rendition, one framing: WebP, AVIF and JPEG (for e-mail) at 1x, 2x and 3x, each URL served " +
			"once the job is done for as long as the job exists (made on its first request when the job did not make it).",
	)
	.meta({ id: "Renditions" });
export type Renditions = z.infer<typeof Renditions>;

/** The renditions' URLs and srcsets of `slug`, on `publicBaseUrl`. */
export function renditionsOf(slug: Slug, publicBaseUrl: string): Renditions {
	const url = (r: Rendition) => new URL(renditionPath(slug, r), publicBaseUrl).href;
	const format = (f: Format) => {
		const [x1, x2, x3] = DENSITIES.map((density) => url({ format: f, density }));
		return { type: FORMATS[f].type, "1x": x1!, "2x": x2!, "3x": x3!, srcset: `${x1} 1x, ${x2} 2x, ${x3} 3x` };
	};
	return { webp: format("webp"), avif: format("avif"), jpg: format("jpg") };
}

/** A job as the HTTP API shows it (and /openapi.json documents it). */
export const JobView = z
	.object({
		id: JobId,
		status: z
			.enum([...JobStatus.options, "uploading"])
			.describe("uploading: a resumable upload (POST /uploads) whose bytes are still arriving; then as any job"),
		slug: Slug,
		thumbnailUrl: z.url().describe("Where the thumbnail is served once the job is done (on PUBLIC_BASE_URL)"),
		renditions: Renditions,
		traceId: TraceId,
		error: JobError.optional().describe("Why the job failed; while queued, why its last attempt will be retried"),
		nextAttemptAt: Instant.optional().describe("When a job waiting after a passing fault is tried again"),
		attempts: z.number().int().min(0),
		original: z
			.object({
				contentType: ImageType,
				bytes: z.number().int().positive(),
				width: z.number().int().positive().nullable().describe("From the file's header; null where it did not say"),
				height: z.number().int().positive().nullable(),
				deletedAt: Instant.optional().describe("When the original was deleted (ORIGINAL_RETENTION_DAYS, or with the job)"),
				facts: ImageFacts.optional().describe("Once done: what the image is, as the origin read it when it opened it"),
			})
			.optional()
			.describe("Absent only while uploading, until the file's first 64 KiB have arrived and passed the checks"),
		upload: z
			.object({
				url: z.string().describe("/uploads/<id>: where the rest of the bytes go (tus)"),
				offset: z.number().int().min(0).describe("Bytes received so far"),
				length: z.number().int().positive().describe("Upload-Length"),
				filename: z.string().optional().describe("As the client named the file (Upload-Metadata)"),
				expiresAt: Instant.describe("When the upload is given up unless more bytes arrive"),
			})
			.optional()
			.describe("While uploading: how far the resumable upload is"),
		thumbnail: z.object({ width: z.number().int(), height: z.number().int(), bytes: z.number().int() }).optional(),
		placeholder: Placeholder.optional().describe("Once done: paint this while the thumbnail loads"),
		deduplicated: z.literal(true).optional().describe("The thumbnail was copied from an earlier job with identical bytes"),
		deduplicatedFrom: JobId.optional(),
		deletedAt: Instant.optional(),
		webhook: z
			.object({
				url: z.string(),
				events: z.array(
					z.object({
						id: WebhookEvent.shape.id,
						type: WebhookEvent.shape.type,
						state: WebhookEvent.shape.state,
						nextAttemptAt: Instant.optional(),
						attempts: z.array(
							z.object({ at: Instant, status: z.number().int().nullable(), error: z.string().nullable(), ms: z.number().int() }),
						),
					}),
				),
			})
			.optional()
			.describe("Present when the job was uploaded with a callback_url: each event and every delivery attempt"),
		createdAt: Instant,
		updatedAt: Instant,
	})
	.meta({ id: "Job" });
export type JobView = z.infer<typeof JobView>;

const iso = (ms: number) => new Date(ms).toISOString();

/** A slug's public URLs: the canonical thumbnail's, and every rendition's. */
function urlsOf(slug: Slug, publicBaseUrl: string): Pick<JobView, "thumbnailUrl" | "renditions"> {
	const renditions = renditionsOf(slug, publicBaseUrl);
	return { thumbnailUrl: renditions.webp["1x"], renditions };
}

/**
 * A job as the HTTP API shows it: absolute thumbnail URL (on PUBLIC_BASE_URL, never the
 * request's Host), ISO timestamps, no internals.
 */
export function jobView(job: Job, publicBaseUrl: string): JobView {
	return {
		id: job.id,
		status: job.status,
		slug: job.slug,
		...urlsOf(job.slug, publicBaseUrl),
		traceId: job.traceId,
		...(job.error && { error: job.error }),
		...(job.nextAttemptAt !== null && { nextAttemptAt: iso(job.nextAttemptAt) }),
		attempts: job.attempts,
		original: {
			...job.original,
			...(job.originalDeletedAt !== null && { deletedAt: iso(job.originalDeletedAt) }),
			...(job.facts && { facts: job.facts }),
		},
		...(job.thumbnail && {
			thumbnail: { width: job.thumbnail.width, height: job.thumbnail.height, bytes: job.thumbnail.bytes },
		}),
		...(job.placeholder && { placeholder: job.placeholder }),
		...(job.deduplicatedFrom !== null && { deduplicated: true as const, deduplicatedFrom: job.deduplicatedFrom }),
		...(job.deletedAt !== null && { deletedAt: iso(job.deletedAt) }),
		...(job.callbackUrl && {
			webhook: {
				url: job.callbackUrl,
				events: job.webhookEvents.map((e) => ({
					id: e.id,
					type: e.type,
					state: e.state,
					...(e.nextAttemptAt !== null && { nextAttemptAt: iso(e.nextAttemptAt) }),
					attempts: e.attempts.map((a) => ({ at: iso(a.at), status: a.status, error: a.error, ms: a.ms })),
				})),
			},
		}),
		createdAt: iso(job.createdAt),
		updatedAt: iso(job.updatedAt),
	};
}

/**
 * The job of a resumable upload whose bytes are still arriving (status `uploading`), or of one its
 * owner terminated before they were all in (status `deleted`, for as long as its upload is remembered).
 */
export function uploadingView(upload: UploadState, publicBaseUrl: string): JobView {
	const deleted = upload.status === "gone";
	return {
		id: upload.id,
		status: deleted ? "deleted" : "uploading",
		slug: upload.slug,
		...urlsOf(upload.slug, publicBaseUrl),
		traceId: upload.traceId,
		attempts: 0,
		...(upload.original && { original: { ...upload.original, bytes: upload.length } }),
		...(deleted
			? { deletedAt: iso(upload.updatedAt) }
			: {
					upload: {
						url: `/uploads/${upload.id}`,
						offset: upload.offset,
						length: upload.length,
						...(upload.filename !== null && { filename: upload.filename }),
						expiresAt: iso(upload.expiresAt),
					},
				}),
		...(upload.callbackUrl && { webhook: { url: upload.callbackUrl, events: [] } }),
		createdAt: iso(upload.createdAt),
		updatedAt: iso(upload.updatedAt),
	};
}
