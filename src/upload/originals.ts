/**
 * Every write of an original into R2, at `originals/<jobId>`, by whichever path took it:
 * - POST /jobs with a Content-Length: one put of a stream that carries its length (putSized);
 * - POST /jobs chunked: R2 takes a stream only when its length is known, so bytes are gathered
 *   into parts of PART_BYTES (putUnsized): a body that ends within the first part is one ordinary
 *   put; a longer one an R2 multipart upload whose parts are all PART_BYTES but the last (R2 wants
 *   every part but the last the same size, and at least 5 MiB). At most one part is held in memory.
 *   A failure aborts the multipart upload: nothing is left.
 * - a resumable upload, whose parts arrive over many requests and wait in its object
 *   (OriginalParts): one part at a time, completed when the last is in, aborted when it goes.
 */
import { originalKey } from "../base/storage";

/** R2's smallest part but the last, and the size of ours. */
export const PART_BYTES = 5 * 1024 * 1024;

/** Streams exactly `length` bytes into one R2 put (a FixedLengthStream carries the length). */
export async function putSized(
	destination: { bucket: R2Bucket; key: string },
	length: number,
	source: AsyncIterable<Uint8Array>,
	options: R2PutOptions,
): Promise<void> {
	const { readable, writable } = new FixedLengthStream(length);
	const writer = writable.getWriter();
	const pump = (async () => {
		try {
			for await (const chunk of source) await writer.write(chunk);
			await writer.close();
		} catch (err) {
			await writer.abort(err).catch(() => {});
			throw err;
		}
	})();
	const [pumped, stored] = await Promise.allSettled([pump, destination.bucket.put(destination.key, readable, options)]);
	if (pumped.status === "rejected") {
		// A check that failed after R2 took the last byte must not leave the object behind
		// (R2 may keep it even though the put reports the abort).
		await destination.bucket.delete(destination.key);
		throw pumped.reason;
	}
	if (stored.status === "rejected") throw stored.reason;
}

/** Streams as many bytes as `chunks` brings into R2, a part at a time (see above). */
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

/**
 * The original of resumable upload `id`, written over many requests: whole in one put when it is
 * small, else as an R2 multipart upload (`uploadId`, kept by the upload's object) of PART_BYTES
 * parts but the last.
 */
export class OriginalParts {
	readonly #key: string;

	constructor(
		readonly bucket: R2Bucket,
		id: string,
	) {
		this.#key = originalKey(id);
	}

	/** The whole original, in one put (a file of one part at most). */
	putWhole(bytes: Uint8Array, contentType: string | undefined): Promise<R2Object> {
		return this.bucket.put(this.#key, bytes, { httpMetadata: { contentType } });
	}

	/** Part `n` (from 1) of the multipart upload `uploadId`, made with the first part (null). */
	async uploadPart(
		uploadId: string | null,
		n: number,
		bytes: Uint8Array,
		contentType: string | undefined,
	): Promise<{ uploadId: string; part: R2UploadedPart }> {
		const upload = uploadId
			? this.bucket.resumeMultipartUpload(this.#key, uploadId)
			: await this.bucket.createMultipartUpload(this.#key, { httpMetadata: { contentType } });
		return { uploadId: upload.uploadId, part: await upload.uploadPart(n, bytes) };
	}

	/** Whether the original is whole in R2 already (a completion whose answer was lost). */
	async isWhole(length: number): Promise<boolean> {
		return (await this.bucket.head(this.#key))?.size === length;
	}

	complete(uploadId: string, parts: R2UploadedPart[]): Promise<R2Object> {
		return this.bucket.resumeMultipartUpload(this.#key, uploadId).complete(parts);
	}

	/** Nothing of it stays: the multipart upload aborted (if it is not already), the object deleted. */
	async discard(uploadId: string | null): Promise<void> {
		// An upload completed or aborted already cannot be aborted again: nothing to do then.
		if (uploadId)
			await this.bucket
				.resumeMultipartUpload(this.#key, uploadId)
				.abort()
				.catch(() => {});
		await this.bucket.delete(this.#key);
	}
}
