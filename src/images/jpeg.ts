/**
 * Counts a JPEG's scans as its bytes stream past. A progressive JPEG is decoded
 * scan by scan over the whole image, so thousands of scans in a small file keep
 * a decoder busy for minutes: the count is what lets such a file be refused
 * before anything decodes it.
 *
 * It counts start-of-scan markers (FF DA). Inside entropy-coded data an FF is
 * always followed by 00 or a restart marker, so FF DA there is a real marker;
 * only a marker segment's payload (an EXIF thumbnail, say) can add a few more.
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
