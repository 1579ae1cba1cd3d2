import { fourcc, u16le as u16, u24le as u24, u32le } from "./bytes";

/** Just enough of the WebP container to trust what Thumbor sends back. */
export interface WebpInfo {
	width: number;
	height: number;
	animated: boolean;
}

/**
 * Reads a WebP file's canvas size from its first chunk (VP8, VP8L or VP8X), or
 * returns null when the bytes are not a well-formed WebP. With `headOnly`, `b`
 * may be just the start of the file.
 */
export function readWebpInfo(b: Uint8Array, { headOnly = false } = {}): WebpInfo | null {
	if (b.length < 30 || fourcc(b, 0) !== "RIFF" || fourcc(b, 8) !== "WEBP") return null;
	const riffSize = u16(b, 4) + u16(b, 6) * 65536;
	if ((!headOnly && riffSize + 8 > b.length) || riffSize < 22) return null;
	const chunk = fourcc(b, 12);
	const d = 20; // chunk payload
	switch (chunk) {
		case "VP8 ": {
			// Key frame: 3-byte frame tag, start code 9d 01 2a, then 14-bit sizes.
			if (b[d + 3] !== 0x9d || b[d + 4] !== 0x01 || b[d + 5] !== 0x2a) return null;
			return { width: u16(b, d + 6) & 0x3fff, height: u16(b, d + 8) & 0x3fff, animated: false };
		}
		case "VP8L": {
			if (b[d] !== 0x2f) return null;
			const bits = u32le(b, d + 1);
			return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, animated: false };
		}
		case "VP8X": {
			const flags = b[d]!;
			return { width: u24(b, d + 4) + 1, height: u24(b, d + 7) + 1, animated: (flags & 0x02) !== 0 };
		}
		default:
			return null;
	}
}
