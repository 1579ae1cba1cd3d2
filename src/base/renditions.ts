/**
 * The renditions of a job's thumbnail: one fixed family, the same framing at every size. The
 * canonical thumbnail is the 100x100 WebP at `/thumbnails/<slug>.webp`; beside it the same picture
 * at 2x and 3x (200 and 300 px) and in AVIF and JPEG, at `/thumbnails/<slug>@2x.avif` and so on.
 * Nothing else: no size or format a URL can make up, so nothing an attacker can multiply.
 *
 * The job makes its eager set (EAGER_RENDITIONS) from one decode of the original; every other
 * rendition is made on its first request (jobs/renditions.ts) and stored like the rest.
 */
import { z } from "zod";
import { type ImageType, Slug, THUMBNAIL } from "./contracts";

/**
 * The formats, with what they are encoded at. Qualities chosen by measurement (`npm run bench:formats`,
 * docs/performance.md): the lowest setting whose score (SSIM of Y, Cb and Cr, 6:1:1) matches the
 * canonical WebP q80's at each size, on the test corpus's photographs. WebP is 4:2:0 (all lossy WebP
 * has); AVIF and JPEG 4:4:4, which at these sizes reaches that score in fewer bytes than 4:2:0
 * (thumbor/renditions.py).
 */
export const FORMATS = {
	webp: { type: "image/webp", thumbor: "webp", quality: { 1: 80, 2: 80, 3: 80 } },
	avif: { type: "image/avif", thumbor: "avif", quality: { 1: 55, 2: 55, 3: 50 } },
	jpg: { type: "image/jpeg", thumbor: "jpeg", quality: { 1: 80, 2: 85, 3: 85 } },
} as const satisfies Record<string, { type: ImageType; thumbor: string; quality: Record<Density, number> }>;
export type Format = keyof typeof FORMATS;
export const FORMAT_NAMES = Object.keys(FORMATS) as Format[];

export const DENSITIES = [1, 2, 3] as const;
export type Density = (typeof DENSITIES)[number];

/** One member of the family: a format at a density. Named `webp@2x` (config, storage, the job's list). */
export interface Rendition {
	format: Format;
	density: Density;
	/** Lossless instead of the format's quality: the master alone (MASTER). */
	lossless?: true;
}
export type RenditionName = `${Format}@${Density}x`;

export const CANONICAL: Rendition = { format: "webp", density: 1 };
/** Every rendition, the canonical first, then by format and density. */
export const ALL_RENDITIONS: Rendition[] = FORMAT_NAMES.flatMap((format) => DENSITIES.map((density) => ({ format, density })));

/**
 * What a job's renditions are made from once retention has deleted its original: the crop at the
 * family's largest side, lossless WebP (kept privately in R2, storage.ts masterKey). Renditions made
 * from it score within 0.0003 of those made from the original (docs/performance.md#renditions).
 */
export const MASTER: Rendition = { format: "webp", density: 3, lossless: true };

export const renditionName = (r: Rendition): RenditionName => `${r.format}@${r.density}x`;
export const isCanonical = (r: Rendition) => r.format === CANONICAL.format && r.density === CANONICAL.density;
/** Its side in pixels (every rendition is square, as the canonical). */
export const sideOf = (r: Rendition) => THUMBNAIL.width * r.density;
/** Its encoder quality; 100 for the master (Thumbor makes WebP at 100 lossless). */
export const qualityOf = (r: Rendition) => (r.lossless ? 100 : FORMATS[r.format].quality[r.density]);
export const typeOf = (r: Rendition): ImageType => FORMATS[r.format].type;

/** `webp@2x` → the rendition; null for a name outside the family. */
export function parseRenditionName(name: string): Rendition | null {
	const m = /^(webp|avif|jpg)@([123])x$/.exec(name.trim());
	return m ? { format: m[1] as Format, density: Number(m[2]) as Density } : null;
}

/** Its file name under /thumbnails/: `<slug>.webp`, `<slug>@2x.avif`. */
export const fileOf = (slug: Slug, r: Rendition) => `${slug}${r.density === 1 ? "" : `@${r.density}x`}.${r.format}`;

/** A file name under /thumbnails/ → its slug and rendition; null for anything outside the family. */
export function parseFile(file: string): { slug: Slug; rendition: Rendition } | null {
	const m = /^(.+?)(?:@([23])x)?\.(webp|avif|jpg)$/.exec(file);
	if (!m) return null;
	const slug = Slug.safeParse(m[1]);
	if (!slug.success) return null;
	return { slug: slug.data, rendition: { format: m[3] as Format, density: (m[2] ? Number(m[2]) : 1) as Density } };
}

/** Its public path: `/thumbnails/<file>`. */
export const renditionPath = (slug: Slug, r: Rendition) => `/thumbnails/${fileOf(slug, r)}`;

/** Sorted the family's way (canonical first); duplicates dropped. */
export function familyOrder(names: Iterable<RenditionName>): RenditionName[] {
	const wanted = new Set(names);
	return ALL_RENDITIONS.map(renditionName).filter((n) => wanted.has(n));
}

/**
 * EAGER_RENDITIONS: the renditions a job makes itself, from one decode, before it is done
 * (comma-separated names). The canonical is always among them: the job is done when it is stored.
 */
export const EagerRenditions = z
	.string()
	.transform((csv, ctx) => {
		const names = csv
			.split(",")
			.map((s) => s.trim())
			.filter(Boolean);
		const parsed = names.map(parseRenditionName);
		const bad = names.filter((_, i) => !parsed[i]);
		if (bad.length > 0) {
			ctx.addIssue({ code: "custom", message: `not renditions of the family (webp|avif|jpg)@(1|2|3)x: ${bad.join(", ")}` });
			return z.NEVER;
		}
		return familyOrder([renditionName(CANONICAL), ...parsed.map((r) => renditionName(r!))]).map((n) => parseRenditionName(n)!);
	})
	.describe("The renditions a job makes from one decode before it is done; the rest are made on first request");
