import type { ImageType } from "../base/contracts";
import { fourcc, u16be, u16le, u32be, u32le } from "./bytes";
import { isFrame, jpegSegments } from "./jpeg";
import { readWebpInfo } from "./webp";

export interface ImageSize {
	width: number;
	height: number;
	/**
	 * Bytes one pixel takes decoded: channels (alpha included; a palette counts as RGBA) times
	 * bytes per sample (two above 8 bits). From the header where the format says it, else the
	 * format's usual (RGB, 8 bits). With width and height: what decoding the image costs.
	 */
	bytesPerPixel: number;
}

/** What decoding an image of `size` costs in bytes: width x height x bytes per pixel. */
export const decodedBytes = (size: ImageSize) => size.width * size.height * size.bytesPerPixel;

const sampleBytes = (bits: number) => Math.max(1, Math.ceil(bits / 8));

/**
 * An image's pixel size from the start of its file, or null when the header
 * does not say within `head`.
 * Lets an upload be refused at once rather than fail later in Thumbor.
 */
export function readImageSize(head: Uint8Array, type: ImageType): ImageSize | null {
	switch (type) {
		case "image/png":
			// IHDR: width, height, bit depth, colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA).
			return head.length >= 26
				? {
						width: u32be(head, 16),
						height: u32be(head, 20),
						bytesPerPixel: (PNG_CHANNELS[head[25]!] ?? 4) * sampleBytes(head[24]!),
					}
				: null;
		case "image/gif":
			return head.length >= 10 ? { width: u16le(head, 6), height: u16le(head, 8), bytesPerPixel: 4 } : null;
		case "image/webp": {
			const info = readWebpInfo(head, { headOnly: true });
			return info && { width: info.width, height: info.height, bytesPerPixel: webpHasAlpha(head) ? 4 : 3 };
		}
		case "image/jpeg":
			return jpegSize(head);
		case "image/tiff":
			return tiffSize(head);
		case "image/avif":
		case "image/heic":
			return isobmffSize(head);
		default:
			return null;
	}
}

/** Channels of a decoded PNG by colour type (a palette decodes to RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 4, 4: 2, 6: 4 };

/** Whether a WebP says it has alpha: VP8L's alpha_is_used bit, VP8X's alpha flag (plain VP8 has none). */
function webpHasAlpha(b: Uint8Array): boolean {
	const chunk = fourcc(b, 12);
	if (chunk === "VP8L") return ((b[24]! >> 4) & 1) === 1; // bit 28 of the 32 after the signature byte
	if (chunk === "VP8X") return (b[20]! & 0x10) !== 0;
	return false;
}

/**
 * A TIFF's first image size: ImageWidth (256) and ImageLength (257) in its first IFD, and
 * its pixel's bytes from SamplesPerPixel (277, default 1) and BitsPerSample (258, default 1).
 */
function tiffSize(b: Uint8Array): ImageSize | null {
	if (b.length < 8) return null;
	const little = b[0] === 0x49;
	const u16 = (at: number) => (little ? u16le(b, at) : u16be(b, at));
	const u32 = (at: number) => (little ? u32le(b, at) : u32be(b, at));
	const ifd = u32(4);
	if (ifd + 2 > b.length) return null;
	const count = u16(ifd);
	let width: number | null = null;
	let height: number | null = null;
	let samples = 1;
	let bits = 1;
	for (let i = 0; i < count; i++) {
		const at = ifd + 2 + i * 12;
		if (at + 12 > b.length) return null;
		const tag = u16(at);
		const type = u16(at + 2);
		if (tag === 258 && type === 3) {
			// One SHORT per sample: inline when two fit in the entry, else at an offset (the first one is read).
			const n = u32(at + 4);
			const where = n <= 2 ? at + 8 : u32(at + 8);
			bits = where + 2 <= b.length ? u16(where) : 16; // not in view: assume the costlier
			continue;
		}
		if (tag !== 256 && tag !== 257 && tag !== 277) continue;
		const value = type === 3 ? u16(at + 8) : type === 4 ? u32(at + 8) : null;
		if (value === null) return null;
		if (tag === 256) width = value;
		else if (tag === 257) height = value;
		else samples = value;
	}
	return width !== null && height !== null ? { width, height, bytesPerPixel: samples * sampleBytes(bits) } : null;
}

/**
 * An AVIF's or HEIC's (ISOBMFF) image size from its `ispe` properties (meta → iprp → ipco).
 * A grid image (an iPhone's HEIC: 512x512 tiles) has one for the whole picture and one per
 * tile, besides a thumbnail's: the largest is the picture, and what the pixel limit must
 * hold. It is the stored size: a rotation (`irot`) swaps the sides, not their product.
 */
function isobmffSize(b: Uint8Array): ImageSize | null {
	let best: { width: number; height: number } | null = null;
	// The most channels and bits any `pixi` gives (none: 3 of 8 bits), and whether an `auxC` names an alpha plane.
	let channels = 0;
	let bits = 0;
	let alpha = false;
	const walk = (start: number, end: number, depth: number) => {
		for (let at = start; at + 8 <= end; ) {
			let size = u32be(b, at);
			const type = fourcc(b, at + 4);
			if (size === 0) size = end - at;
			if (size < 8 || at + size > end) return;
			if (type === "meta" && depth === 0)
				walk(at + 12, at + size, 1); // a full box: 4 bytes of version and flags
			else if ((type === "iprp" && depth === 1) || (type === "ipco" && depth === 2)) walk(at + 8, at + size, depth + 1);
			else if (type === "ispe" && depth === 3 && size >= 20) {
				const found = { width: u32be(b, at + 12), height: u32be(b, at + 16) };
				if (!best || found.width * found.height > best.width * best.height) best = found;
			} else if (type === "pixi" && depth === 3 && size >= 13) {
				const n = b[at + 12]!;
				channels = Math.max(channels, n);
				for (let i = 0; i < n && at + 13 + i < at + size; i++) bits = Math.max(bits, b[at + 13 + i]!);
			} else if (type === "auxC" && depth === 3) {
				const urn = String.fromCharCode(...b.subarray(at + 12, at + size));
				if (/alpha|auxid:1\b/.test(urn)) alpha = true;
			}
			at += size;
		}
	};
	walk(0, b.length, 0);
	const picture = best as { width: number; height: number } | null; // set inside walk
	if (!picture) return null;
	return { ...picture, bytesPerPixel: ((channels || 3) + (alpha ? 1 : 0)) * sampleBytes(bits || 8) };
}

/** Walks the JPEG markers up to the first start-of-frame, which holds the size. */
function jpegSize(b: Uint8Array): ImageSize | null {
	for (const { marker, at } of jpegSegments(b)) {
		if (!isFrame(marker)) continue;
		if (at + 9 >= b.length) return null;
		// Precision (bits per sample), height, width, components.
		return { height: u16be(b, at + 5), width: u16be(b, at + 7), bytesPerPixel: b[at + 9]! * sampleBytes(b[at + 4]!) };
	}
	return null;
}
