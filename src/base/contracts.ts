/**
 * The shapes that cross a boundary: HTTP bodies, queue messages, Durable Object
 * RPC arguments and results. One zod schema per contract, named like its type.
 */
import { z } from "zod";

export const JobId = z
	.string()
	.regex(/^[0-9a-hjkmnp-tv-z]{26}$/, "not a job id")
	.describe("A lowercase ULID: sorts by creation time");
export type JobId = z.infer<typeof JobId>;

export const Slug = z
	.string()
	.min(1)
	.max(64)
	.regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, "use 1-64 lowercase letters, digits and inner hyphens")
	.describe("The thumbnail's public name: /thumbnails/<slug>.webp");
export type Slug = z.infer<typeof Slug>;

export const JobStatus = z.enum(["queued", "processing", "done", "failed", "deleted"]);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL_STATUSES: readonly JobStatus[] = ["done", "failed", "deleted"];

export const ImageType = z
	.enum(["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/heic", "image/tiff"])
	.describe("Decided from the file's magic bytes, never from a header");
export type ImageType = z.infer<typeof ImageType>;

/** Why a job failed, or why its last attempt did not succeed. */
export const JobErrorCode = z.enum([
	"unprocessable_image",
	"image_too_complex",
	"image_too_large",
	"original_missing",
	"thumbor_unavailable",
	"thumbor_misconfigured",
	"unexpected_output",
	"timed_out",
	"internal_error",
]);
export type JobErrorCode = z.infer<typeof JobErrorCode>;

export const JobError = z.object({
	code: JobErrorCode,
	message: z.string().describe("What happened, in words a user can act on"),
});
export type JobError = z.infer<typeof JobError>;

export const ThumbnailInfo = z.object({
	width: z.number().int().positive(),
	height: z.number().int().positive(),
	bytes: z.number().int().positive(),
	etag: z.string().describe("R2's strong ETag of the stored thumbnail"),
});
export type ThumbnailInfo = z.infer<typeof ThumbnailInfo>;

/** How to paint a thumbnail before it loads, as the origin read it from the thumbnail's own pixels. */
export const Placeholder = z
	.object({
		thumbhash: z
			.string()
			.regex(/^[A-Za-z0-9+/]{6,64}={0,2}$/)
			.describe("The thumbnail's ThumbHash (github.com/evanw/thumbhash), base64: decodes to a small blurred picture of it"),
		color: z
			.string()
			.regex(/^#[0-9a-f]{6}$/)
			.describe("The picture's dominant colour, the one a person would name (not an average): a background while it loads"),
	})
	.meta({ id: "Placeholder" });
export type Placeholder = z.infer<typeof Placeholder>;

/** What the original is, as the origin read it when it opened it (never its location or device). */
export const ImageFacts = z
	.object({
		format: z.string().max(16).describe("As its decoder names it: jpeg, png, gif, webp, avif, heif, tiff"),
		width: z.number().int().positive().describe("As stored"),
		height: z.number().int().positive(),
		displayWidth: z.number().int().positive().describe("As displayed: after its EXIF orientation"),
		displayHeight: z.number().int().positive(),
		orientation: z.number().int().min(1).max(8).describe("Its EXIF orientation (1: as stored)"),
		rotated: z.boolean().describe("Whether it is displayed turned or mirrored from how it is stored"),
		frames: z.number().int().positive(),
		animated: z.boolean(),
		alpha: z.boolean().describe("Whether it has transparency"),
		bitDepth: z.number().int().positive().describe("Bits per sample"),
		colorSpace: z.enum(["rgb", "gray", "cmyk"]),
		iccProfile: z
			.string()
			.max(32)
			.nullable()
			.describe("An embedded colour profile: a standard one's name (sRGB, Display P3, Adobe RGB (1998)…) or other; null: none"),
	})
	.meta({ id: "ImageFacts" });
export type ImageFacts = z.infer<typeof ImageFacts>;

/** What the origin says of an image beside its thumbnail (null where it did not say). */
export interface ImageDetails {
	placeholder: Placeholder | null;
	facts: ImageFacts | null;
}
export const NO_DETAILS: ImageDetails = { placeholder: null, facts: null };

/** Details from their text form (Thumbor's headers, a thumbnail's R2 metadata): each part where it is whole and valid. */
export function parseImageDetails(
	thumbhash: string | null | undefined,
	color: string | null | undefined,
	facts: string | null | undefined,
): ImageDetails {
	const placeholder = Placeholder.safeParse({ thumbhash, color });
	let parsed: unknown = null;
	try {
		parsed = JSON.parse(facts ?? "null");
	} catch {
		// not JSON: no facts
	}
	const valid = ImageFacts.safeParse(parsed);
	return { placeholder: placeholder.success ? placeholder.data : null, facts: valid.success ? valid.data : null };
}

export const OwnerId = z
	.string()
	.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "use 1-64 letters, digits, dots, underscores and hyphens")
	.describe("Who a job belongs to: every API key names one owner, and several keys may share it");
export type OwnerId = z.infer<typeof OwnerId>;

/** Who is calling, once their API key checked out. */
export const Caller = z.object({
	keyId: z.string(),
	ownerId: OwnerId,
	keyHash: z.string().describe("Names the key's KeyObject, which holds its webhook secrets"),
});
export type Caller = z.infer<typeof Caller>;

/** An API key as the admin API shows it: never the secret, only its first characters. */
export const ApiKey = z.object({
	id: z.string().describe("The key's id (not secret): names it in the admin API"),
	name: z.string().min(1).max(100).describe("What the key is for, in the owner's words"),
	ownerId: OwnerId,
	prefix: z.string().describe("The key's first characters, to recognise it"),
	createdAt: z.number().int(),
	revokedAt: z.number().int().nullable(),
});
export type ApiKey = z.infer<typeof ApiKey>;

/** POST /admin/keys */
export const NewApiKey = z.object({ name: ApiKey.shape.name, ownerId: OwnerId });
export type NewApiKey = z.infer<typeof NewApiKey>;

/** What the upload handler hands the job's Durable Object. */
export const WebhookAttempt = z.object({
	at: z.number().int(),
	status: z.number().int().nullable().describe("The receiver's HTTP status, if it answered"),
	error: z.string().nullable().describe("Why there was no answer"),
	ms: z.number().int(),
});
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

export const WebhookEvent = z.object({
	id: z.string().describe("webhook-id: the same on every attempt of this event"),
	type: z.enum(["job.done", "job.failed", "job.deleted"]),
	state: z.enum(["pending", "delivered", "failed"]),
	nextAttemptAt: z.number().int().nullable(),
	attempts: z.array(WebhookAttempt),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** The W3C trace id of the upload that made a job (docs/operations.md, Traces). */
export const TraceId = z
	.string()
	.regex(/^[0-9a-f]{32}$/)
	.describe("The trace id of the upload that made the job (W3C, 32 hex digits): in its logs, traces and webhooks");

export const NewJob = z.object({
	id: JobId,
	ownerId: OwnerId,
	keyHash: z.string().nullable().describe("The API key that made the job: its webhook secrets sign the job's events"),
	callbackUrl: z.string().nullable().describe("Where the job's events are POSTed (checked at upload)"),
	sha256: z
		.string()
		.regex(/^[0-9a-f]{64}$/)
		.describe("Hex SHA-256 of the original: identical bytes reuse a thumbnail"),
	indexShards: z
		.number()
		.int()
		.min(0)
		.describe("OWNER_INDEX_SHARDS when the job was made: which index shard it reports to (0: none)"),
	slug: Slug,
	traceId: TraceId,
	original: z.object({
		contentType: ImageType,
		bytes: z.number().int().positive(),
		width: z.number().int().positive().nullable().describe("From the file's header; null where it was not read"),
		height: z.number().int().positive().nullable(),
	}),
	createdAt: z.number().int().describe("When the upload made it: its object's row and its first listing entry say the same"),
});
export type NewJob = z.infer<typeof NewJob>;

/** A job as its Durable Object stores it (timestamps in epoch milliseconds). */
export const Job = NewJob.omit({ indexShards: true, keyHash: true }).extend({
	status: JobStatus,
	attempts: z.number().int().nonnegative(),
	thumbnail: ThumbnailInfo.nullable(),
	error: JobError.nullable().describe("Set when failed; while queued, why the last attempt will be retried"),
	nextAttemptAt: z.number().int().nullable().describe("While queued after a passing fault: when the next attempt starts"),
	deletedAt: z.number().int().nullable().describe("When its owner deleted it (status deleted)"),
	originalDeletedAt: z.number().int().nullable().describe("When the original was removed (deletion, or ORIGINAL_RETENTION_DAYS)"),
	version: z.number().int().describe("Grows with every change: lets the listing index keep the newest view"),
	webhookEvents: z.array(WebhookEvent).describe("The job's events and each delivery attempt, oldest first"),
	deduplicatedFrom: z.string().nullable().describe("The owner's earlier job with the same bytes whose thumbnail this one copied"),
	placeholder: Placeholder.nullable().describe("Once done: how to paint the thumbnail before it loads"),
	facts: ImageFacts.nullable().describe("Once done: what the original is, as the origin read it"),
	createdAt: z.number().int(),
	updatedAt: z.number().int(),
});
export type Job = z.infer<typeof Job>;

/**
 * A resumable (tus) upload as its Durable Object keeps it: the job it becomes, while its bytes
 * arrive. `receiving` → `finishing` (all bytes in: stored, checked, the job made) → `finished`;
 * or `gone` (expired, terminated, or refused by the checks: `problem` says why).
 */
export const UploadStatus = z.enum(["receiving", "finishing", "finished", "gone"]);
export type UploadStatus = z.infer<typeof UploadStatus>;

export interface UploadState {
	id: JobId;
	ownerId: OwnerId;
	status: UploadStatus;
	/** Bytes received and kept. */
	offset: number;
	/** Upload-Length: the file's size, declared at creation. */
	length: number;
	/** Upload-Metadata as the client sent it (HEAD gives it back). */
	metadata: string;
	slug: Slug;
	callbackUrl: string | null;
	filename: string | null;
	traceId: string;
	/** From the file's first bytes, once they have arrived and passed the checks. */
	original: { contentType: ImageType; width: number | null; height: number | null } | null;
	/** Why a gone upload went: expired, terminated, or its bytes refused (the problem it was answered with). */
	problem: { status: number; code: string; detail: string } | null;
	createdAt: number;
	updatedAt: number;
	/** When an unfinished upload is given up; a finished or gone one forgotten (404). */
	expiresAt: number;
}

/** The queue message: everything else is read from the job's Durable Object. */
export const JobMessage = z.object({
	jobId: JobId,
	/**
	 * The job's owner and its original's SHA-256: the consumer looks for a thumbnail to reuse
	 * while the job's object is asked for the job.
	 */
	ownerId: OwnerId,
	sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type JobMessage = z.infer<typeof JobMessage>;

/**
 * Upload options, from the query string or from multipart fields (before or after `file`).
 * A chosen slug may not look like a job id: those are the slugs of jobs that
 * chose none, unique by construction.
 */
export const UploadOptions = z.object({
	slug: Slug.refine((s) => !JobId.safeParse(s).success, "must not look like a job id (a 26-character ULID)").optional(),
	callback_url: z.string().optional().describe("Where to POST the job's events (https; checked against private addresses)"),
});
export type UploadOptions = z.infer<typeof UploadOptions>;

export const IdempotencyKey = z
	.string()
	.regex(/^[\x21-\x7e]{1,255}$/, "use 1-255 visible ASCII characters")
	.describe("Makes a retried upload return the job the first one created (for 24 hours)");

export const JobListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(50),
	cursor: z.string().max(512).optional().describe("nextCursor of the page before, as given"),
	status: JobStatus.optional(),
});
export type JobListQuery = z.infer<typeof JobListQuery>;

const WaitSeconds = z.coerce.number().min(0).max(30);

export const JobLookup = z.object({
	wait: WaitSeconds.optional().describe("Seconds to hold the request until the status changes"),
});

/** POST /jobs's query string: the upload options, and how long to wait for the thumbnail. */
export const UploadQuery = UploadOptions.extend({
	wait: WaitSeconds.optional().describe("Seconds to hold the answer until the job is done or failed (201), else 202"),
});

/** The canonical thumbnail's size (its format and quality: base/renditions.ts). */
export const THUMBNAIL = { width: 100, height: 100 } as const;

/**
 * What an owner's object is told when one of its jobs ends (its release): enough to count the
 * owner's usage without another request per job.
 */
export interface JobEnd {
	/** When the job was made (its upload): usage is counted on that day (UTC). */
	createdAt: number;
	outcome: "done" | "failed" | "deleted";
	originalBytes: number;
	thumbnailBytes: number;
	/** Its first end: a job retried by its owner ends again, but was uploaded once. */
	firstEnd: boolean;
}

/** How `job`, now ended (done, failed or deleted), ended: what its release tells its owner. */
export function jobEnd(job: Job, firstEnd: boolean): JobEnd {
	return {
		createdAt: job.createdAt,
		outcome: job.status === "done" ? "done" : job.status === "failed" ? "failed" : "deleted",
		originalBytes: job.original.bytes,
		thumbnailBytes: job.thumbnail?.bytes ?? 0,
		firstEnd,
	};
}

/** An image's pixels, where its header said its size; null where it did not. */
export const pixelsOf = (size: { width: number | null; height: number | null } | null | undefined): number | null =>
	size?.width && size.height ? size.width * size.height : null;

/** An owner's usage on one day (UTC): its uploads that have ended, and what came of them. */
export const UsageDay = z
	.object({
		date: z.iso.date(),
		uploads: z.number().int().describe("Uploads accepted that day whose jobs have ended (in flight ones: inFlight)"),
		thumbnails: z.number().int().describe("Thumbnails made (a retried job that ends done counts once more)"),
		failures: z.number().int().describe("Jobs that ended failed (each end of a retried job counts)"),
		deleted: z.number().int().describe("Jobs deleted before they ended"),
		bytesReceived: z.number().int().describe("Bytes of the originals uploaded"),
		bytesStored: z.number().int().describe("Bytes of the thumbnails written"),
	})
	.meta({ id: "UsageDay" });
export type UsageDay = z.infer<typeof UsageDay>;
