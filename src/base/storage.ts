/** Where things live in R2, and how long caches may keep them. */
import { type ImageDetails, type JobId, parseImageDetails, type Slug, thumbnailPath } from "./contracts";

/** The upload as sent; `httpMetadata.contentType` is the sniffed type. */
export const originalKey = (id: JobId) => `originals/${id}`;

/** The 100x100 WebP; `customMetadata` holds its job's id and its size. Written once. */
export const thumbnailKey = (slug: Slug) => `thumbnails/${slug}.webp`;

/** A slug's bytes never change once served, so every cache may keep them for a year. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

/** Writes a thumbnail at its slug, with what it is: its job, its size, and the job it was copied from (if it was). */
/** What a thumbnail's R2 object says about itself. */
export interface ThumbnailMeta {
	jobId: JobId;
	width: number;
	height: number;
	/** The earlier job whose thumbnail was copied (deduplicated), if any. */
	copiedFrom: JobId | null;
	/** What the origin said of the image: kept with the thumbnail, for an attempt that finds it written. */
	details: ImageDetails;
}

export function putThumbnail(bucket: R2Bucket, slug: Slug, bytes: Uint8Array, meta: ThumbnailMeta): Promise<R2Object> {
	return bucket.put(thumbnailKey(slug), bytes, {
		httpMetadata: { contentType: "image/webp", cacheControl: IMMUTABLE },
		customMetadata: {
			jobId: meta.jobId,
			width: String(meta.width),
			height: String(meta.height),
			...(meta.copiedFrom && { copiedFrom: meta.copiedFrom }),
			...(meta.details.placeholder && { thumbhash: meta.details.placeholder.thumbhash, color: meta.details.placeholder.color }),
			...(meta.details.facts && { facts: JSON.stringify(meta.details.facts) }),
		},
	});
}

/** The details a thumbnail's R2 object keeps (putThumbnail). */
export const detailsOf = (customMetadata: Record<string, string> = {}): ImageDetails =>
	parseImageDetails(customMetadata.thumbhash, customMetadata.color, customMetadata.facts);

/** A deleted job's slug: an empty marker, so its thumbnail URL answers 410 Gone rather than 404. */
export const goneKey = (slug: Slug) => `gone/${slug}`;

/** How long a 410 for a deleted thumbnail may be cached. */
export const GONE_MAX_AGE_S = 300;

/** The edge-cache entry of a thumbnail: keyed on the public URL, whatever Host a client sent. */
export const thumbnailCacheKey = (publicBaseUrl: string, slug: Slug) =>
	new Request(new URL(thumbnailPath(slug), publicBaseUrl).href);
