/**
 * The thumbnail's R2 write, as its job's object makes it: one write at a time, which a delete
 * that comes meanwhile waits for (for at most `WRITE_WAIT_MS`), so that whatever was written can
 * be removed again.
 */
import type { Slug } from "../base/contracts";
import { putThumbnail, type ThumbnailMeta } from "../base/storage";

/** How long a delete waits for a thumbnail being written to finish before it removes what is there. */
export const WRITE_WAIT_MS = 30_000;

export class ThumbnailWrite {
	/** The write in progress, settled either way (null: none). */
	#writing: Promise<unknown> | null = null;

	constructor(private readonly bucket: R2Bucket) {}

	/** Writes the thumbnail at `slug`; a delete meanwhile waits for it. */
	async put(slug: Slug, bytes: Uint8Array, meta: ThumbnailMeta): Promise<R2Object> {
		const put = putThumbnail(this.bucket, slug, bytes, meta);
		const writing = put.catch(() => {});
		this.#writing = writing;
		try {
			return await put;
		} finally {
			if (this.#writing === writing) this.#writing = null;
		}
	}

	/** Resolves once no write is in progress, or after `WRITE_WAIT_MS`. */
	async settled(): Promise<void> {
		if (this.#writing) await Promise.race([this.#writing, scheduler.wait(WRITE_WAIT_MS)]);
	}
}
