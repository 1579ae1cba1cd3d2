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
 * does not say within `head` (or the format is one we do not parse: AVIF, TIFF).
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
		default:
			return null;
	}
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
