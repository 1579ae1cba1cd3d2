import type { ImageType } from "../contracts";
import { readWebpInfo } from "./webp";

export interface ImageSize {
	width: number;
	height: number;
}

const u16be = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u16le = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32be = (b: Uint8Array, at: number) => ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;

/**
 * An image's pixel size from the start of its file, or null when the header
 * does not say within `head`.
 * Lets an upload be refused at once rather than fail later in Thumbor.
 */
export function readImageSize(head: Uint8Array, type: ImageType): ImageSize | null {
	switch (type) {
		case "image/png":
			return head.length >= 24 ? { width: u32be(head, 16), height: u32be(head, 20) } : null;
		case "image/gif":
			return head.length >= 10 ? { width: u16le(head, 6), height: u16le(head, 8) } : null;
		case "image/webp": {
			const info = readWebpInfo(head, { headOnly: true });
			return info && { width: info.width, height: info.height };
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

const u16le32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** A TIFF's first image size: ImageWidth (256) and ImageLength (257) in its first IFD. */
function tiffSize(b: Uint8Array): ImageSize | null {
	if (b.length < 8) return null;
	const little = b[0] === 0x49;
	const u16 = (at: number) => (little ? u16le(b, at) : u16be(b, at));
	const u32 = (at: number) => (little ? u16le32(b, at) : u32be(b, at));
	const ifd = u32(4);
	if (ifd + 2 > b.length) return null;
	const count = u16(ifd);
	let width: number | null = null;
	let height: number | null = null;
	for (let i = 0; i < count; i++) {
		const at = ifd + 2 + i * 12;
		if (at + 12 > b.length) return null;
		const tag = u16(at);
		const type = u16(at + 2);
		if (tag !== 256 && tag !== 257) continue;
		const value = type === 3 ? u16(at + 8) : type === 4 ? u32(at + 8) : null;
		if (value === null) return null;
		if (tag === 256) width = value;
		else height = value;
	}
	return width !== null && height !== null ? { width, height } : null;
}

/**
 * An AVIF's or HEIC's (ISOBMFF) image size from its `ispe` properties (meta → iprp → ipco).
 * A grid image (an iPhone's HEIC: 512x512 tiles) has one for the whole picture and one per
 * tile, besides a thumbnail's: the largest is the picture, and what the pixel limit must
 * hold. It is the stored size: a rotation (`irot`) swaps the sides, not their product.
 */
function isobmffSize(b: Uint8Array): ImageSize | null {
	let best: ImageSize | null = null;
	const walk = (start: number, end: number, depth: number) => {
		for (let at = start; at + 8 <= end; ) {
			let size = u32be(b, at);
			const type = String.fromCharCode(b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!);
			if (size === 0) size = end - at;
			if (size < 8 || at + size > end) return;
			if (type === "meta" && depth === 0) walk(at + 12, at + size, 1); // a full box: 4 bytes of version and flags
			else if ((type === "iprp" && depth === 1) || (type === "ipco" && depth === 2)) walk(at + 8, at + size, depth + 1);
			else if (type === "ispe" && depth === 3 && size >= 20) {
				const found = { width: u32be(b, at + 12), height: u32be(b, at + 16) };
				if (!best || found.width * found.height > best.width * best.height) best = found;
			}
			at += size;
		}
	};
	walk(0, b.length, 0);
	return best;
}

/** Walks the JPEG markers up to the first start-of-frame, which holds the size. */
function jpegSize(b: Uint8Array): ImageSize | null {
	let at = 2;
	while (at + 9 < b.length) {
		if (b[at] !== 0xff) return null;
		const marker = b[at + 1]!;
		if (marker === 0xff) {
			at++; // fill byte
			continue;
		}
		if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
			at += 2; // markers without a length
			continue;
		}
		// SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC).
		if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
			return { height: u16be(b, at + 5), width: u16be(b, at + 7) };
		}
		at += 2 + u16be(b, at + 2);
	}
	return null;
}
