/**
 * Writing a stream of unknown length to R2, which takes a stream only when its length is known.
 * Bytes are gathered into parts of PART_BYTES: a body that ends within the first part is one
 * ordinary put of what was gathered; a longer one becomes an R2 multipart upload whose parts are
 * all PART_BYTES but the last (R2 wants every part but the last the same size, and at least 5 MiB).
 * At most one part is held in memory. A failure aborts the multipart upload: nothing is left.
 */

/** R2's smallest part but the last, and the size of ours. */
export const PART_BYTES = 5 * 1024 * 1024;

export async function putUnsized(
	bucket: R2Bucket,
	key: string,
	chunks: AsyncIterable<Uint8Array>,
	options: R2PutOptions,
	partBytes = PART_BYTES,
): Promise<void> {
	let part = new Uint8Array(partBytes);
	let filled = 0;
	let upload: R2MultipartUpload | null = null;
	const parts: R2UploadedPart[] = [];
	try {
		for await (const chunk of chunks) {
			for (let offset = 0; offset < chunk.length; ) {
				const n = Math.min(partBytes - filled, chunk.length - offset);
				part.set(chunk.subarray(offset, offset + n), filled);
				filled += n;
				offset += n;
				if (filled === partBytes) {
					upload ??= await bucket.createMultipartUpload(key, options);
					parts.push(await upload.uploadPart(parts.length + 1, part));
					part = new Uint8Array(partBytes);
					filled = 0;
				}
			}
		}
		if (!upload) {
			await bucket.put(key, part.subarray(0, filled), options);
			return;
		}
		if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
		await upload.complete(parts);
	} catch (err) {
		await upload?.abort().catch(() => {});
		throw err;
	}
}
