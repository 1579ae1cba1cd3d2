/** Where things live in R2, and how long caches may keep them. */
import { type ImageDetails, type JobId, parseImageDetails, type Slug } from "./contracts";
import { ALL_RENDITIONS, CANONICAL, fileOf, isCanonical, type Rendition, renditionPath, sideOf, typeOf } from "./renditions";

/** The upload as sent; `httpMetadata.contentType` is the sniffed type. */
export const originalKey = (id: JobId) => `originals/${id}`;

/**
 * A job's master (renditions.ts MASTER): made before retention deletes the original, and what every
 * rendition made after that is made from. Never served.
 */
export const masterKey = (id: JobId) => `masters/${id}`;

/**
 * A rendition of a slug's thumbnail (base/renditions.ts): `thumbnails/<slug>.webp` is the canonical
 * 100x100 WebP, `thumbnails/<slug>@2x.avif` and the like the rest. Each written once.
 */
export const renditionKey = (slug: Slug, r: Rendition) => `thumbnails/${fileOf(slug, r)}`;

/** The canonical 100x100 WebP; its `customMetadata` says what the job is (ThumbnailMeta). */
export const thumbnailKey = (slug: Slug) => renditionKey(slug, CANONICAL);

/** Every rendition's key of a slug: what a delete removes. */
export const allRenditionKeys = (slug: Slug) => ALL_RENDITIONS.map((r) => renditionKey(slug, r));

/** A slug's bytes never change once served, so every cache may keep them for a year. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

/** What a thumbnail's R2 object says about itself. */
export interface ThumbnailMeta {
	jobId: JobId;
	/** The earlier job whose thumbnail was copied (deduplicated), if any. */
	copiedFrom: JobId | null;
	/** What the origin said of the image: kept with the thumbnail, for an attempt that finds it written. */
	details: ImageDetails;
	/** Where the crop is centred (render/thumbor-path.ts, Focus): every later rendition is framed by it. */
	focus: string | null;
}

/**
 * Writes one rendition at its slug. The canonical's object also keeps what the job learnt of the
 * image (its placeholder, facts and crop), so that an attempt that finds it written, and a
 * rendition made later, need nothing else; every rendition names its job and its size.
 */
export function putRendition(
	bucket: R2Bucket,
	slug: Slug,
	r: Rendition,
	bytes: Uint8Array,
	meta: ThumbnailMeta,
): Promise<R2Object> {
	const side = String(sideOf(r));
	return bucket.put(renditionKey(slug, r), bytes, {
		httpMetadata: { contentType: typeOf(r), cacheControl: IMMUTABLE },
		customMetadata: {
			jobId: meta.jobId,
			width: side,
			height: side,
			...(isCanonical(r) && {
				...(meta.copiedFrom && { copiedFrom: meta.copiedFrom }),
				...(meta.focus && { focus: meta.focus }),
				...(meta.details.placeholder && { thumbhash: meta.details.placeholder.thumbhash, color: meta.details.placeholder.color }),
				...(meta.details.facts && { facts: JSON.stringify(meta.details.facts) }),
			}),
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

/** The edge-cache entry of a rendition: keyed on its public URL, whatever Host a client sent. */
export const renditionCacheKey = (publicBaseUrl: string, slug: Slug, r: Rendition) =>
	new Request(new URL(renditionPath(slug, r), publicBaseUrl).href);
