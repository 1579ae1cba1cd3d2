/**
 * The renditions' R2 writes, as their job's object makes them: the eager set in one go, a rendition
 * made on request on its own, the master before retention. A delete that comes meanwhile waits for them (for at most
 * `WRITE_WAIT_MS`), so that whatever was written can be removed again.
 */
import type { Slug } from "../base/contracts";
import type { Rendition } from "../base/renditions";
import { putRendition, type ThumbnailMeta } from "../base/storage";

/** How long a delete waits for a thumbnail being written to finish before it removes what is there. */
export const WRITE_WAIT_MS = 30_000;

export class ThumbnailWrite {
	/** The writes in progress, each settled either way. */
	readonly #writing = new Set<Promise<unknown>>();

	constructor(private readonly bucket: R2Bucket) {}

	/** Writes the renditions at `slug`, side by side; a delete meanwhile waits for them. */
	put(slug: Slug, outputs: { rendition: Rendition; bytes: Uint8Array }[], meta: ThumbnailMeta): Promise<R2Object[]> {
		return this.track(Promise.all(outputs.map((o) => putRendition(this.bucket, slug, o.rendition, o.bytes, meta))));
	}

	/** A write of the job's (its master's, say) that a delete meanwhile waits for, as for the renditions. */
	async track<T>(put: Promise<T>): Promise<T> {
		const writing = put.catch(() => {});
		this.#writing.add(writing);
		try {
			return await put;
		} finally {
			this.#writing.delete(writing);
		}
	}

	/** Resolves once no write is in progress, or after `WRITE_WAIT_MS`. */
	async settled(): Promise<void> {
		if (this.#writing.size > 0) await Promise.race([Promise.all(this.#writing), scheduler.wait(WRITE_WAIT_MS)]);
	}
}
