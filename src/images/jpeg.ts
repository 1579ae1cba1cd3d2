import { u16be } from "./bytes";

/** SOF0-SOF15 start a frame, but for DHT (C4), JPG (C8) and DAC (CC), which share their range. */
export const isFrame = (marker: number) =>
	marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** Frames whose scans are sequential: baseline (SOF0), extended (SOF1), arithmetic-coded (SOF9). */
const SEQUENTIAL_FRAMES = new Set([0xc0, 0xc1, 0xc9]);

/**
 * A JPEG's marker segments in `b`, from its start up to its first scan's (SOS), each as its marker
 * and its offset; it stops early at anything that is not a marker where one must be.
 */
export function* jpegSegments(b: Uint8Array): Generator<{ marker: number; at: number }> {
	let at = 2;
	while (at + 4 < b.length) {
		if (b[at] !== 0xff) return;
		const marker = b[at + 1]!;
		if (marker === 0xff) {
			at++; // fill byte
			continue;
		}
		if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
			at += 2; // markers without a length
			continue;
		}
		yield { marker, at };
		if (marker === 0xda || marker === 0xd9) return;
		at += 2 + u16be(b, at + 2);
	}
}

/**
 * Whether libjpeg will decode no scan but the first, as the file's first bytes (`head`) say: a
 * sequential frame whose first scan carries every component. libjpeg then expects the end of the
 * image after that scan and fails at another (jdinput.c, `has_multiple_scans`), so start-of-scan
 * markers after it cost nothing to decode and need not be counted. Most photos are such. False
 * when `head` does not reach the first scan, or says anything else (progressive, say).
 */
export function hasOneScanOnly(head: Uint8Array): boolean {
	let frame: number | null = null;
	let components = 0;
	for (const { marker, at } of jpegSegments(head)) {
		if (isFrame(marker)) {
			if (frame !== null || at + 9 >= head.length) return false;
			frame = marker;
			components = head[at + 9]!;
		} else if (marker === 0xda) {
			const inScan = head[at + 4]!;
			return frame !== null && SEQUENTIAL_FRAMES.has(frame) && inScan > 0 && inScan === components;
		}
	}
	return false;
}

/**
 * Counts a JPEG's scans as its bytes stream past. A progressive JPEG is decoded
 * scan by scan over the whole image, so thousands of scans in a small file keep
 * a decoder busy for minutes: the count is what lets such a file be refused
 * before anything decodes it.
 *
 * It counts start-of-scan markers (FF DA). Inside entropy-coded data an FF is
 * always followed by 00 or a restart marker, so FF DA there is a real marker;
 * only a marker segment's payload (an EXIF thumbnail, say) can add a few more.
 * A file of one decodable scan (hasOneScanOnly) needs no count.
 */
export class JpegScanCounter {
	scans = 0;
	#endedOnFF = false;

	push(chunk: Uint8Array): void {
		if (chunk.length === 0) return;
		if (this.#endedOnFF && chunk[0] === 0xda) this.scans++;
		for (let at = chunk.indexOf(0xff); at !== -1 && at + 1 < chunk.length; at = chunk.indexOf(0xff, at + 1)) {
			if (chunk[at + 1] === 0xda) this.scans++;
		}
		this.#endedOnFF = chunk[chunk.length - 1] === 0xff;
	}
}
