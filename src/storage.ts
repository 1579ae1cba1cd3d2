/** Where things live in R2, and how long caches may keep them. */
import type { JobId, Slug } from "./contracts";

/** The upload as sent; `httpMetadata.contentType` is the sniffed type. */
export const originalKey = (id: JobId) => `originals/${id}`;

/** The 100x100 WebP; `customMetadata` holds its job's id and its size. Written once. */
export const thumbnailKey = (slug: Slug) => `thumbnails/${slug}.webp`;

/** A slug's bytes never change once served, so every cache may keep them for a year. */
export const IMMUTABLE = "public, max-age=31536000, immutable";
