/**
 * A done job's renditions beyond its eager set, made by its object: on a rendition's first request
 * (one origin call however many requests come at once: the object is the job's single flight),
 * and, before retention deletes the original, every one still missing, from one decode. Each is
 * framed around the crop the job's first answer chose (its `focus`, kept with the canonical), so
 * 1x, 2x and 3x show the same picture.
 */
import { AttemptError } from "../base/attempts";
import type { Job } from "../base/contracts";
import { ALL_RENDITIONS, type Rendition, type RenditionName, renditionName } from "../base/renditions";
import { allRenditionKeys, detailsOf, renditionKey, thumbnailKey } from "../base/storage";
import { renderRenditions } from "../render/render";
import { parseFocus } from "../render/thumbor-path";
import type { JobRecord } from "./schema";
import type { ThumbnailWrite } from "./thumbnail-write";

/** What a request for a rendition gets from the job's object. */
export type RenditionAnswer =
	| { status: "stored"; bytes: Uint8Array; etag: string; uploaded: number }
	/** No such job, or not done (yet, or ever), or its rendition cannot be made any more. */
	| { status: "missing" }
	/** Its owner deleted the job. */
	| { status: "gone" }
	/** The origin could not make it now: ask again later. */
	| { status: "unavailable" };

export class Renditions {
	/** Renditions being made now, by name: the requests that come meanwhile wait for the same one. */
	readonly #making = new Map<RenditionName, Promise<RenditionAnswer>>();

	constructor(
		private readonly env: Env,
		private readonly record: JobRecord,
		private readonly write: ThumbnailWrite,
		private readonly view: () => Job,
	) {}

	/** Rendition `r`, made now if it is not stored yet; concurrent requests share one making. */
	get(r: Rendition): Promise<RenditionAnswer> {
		const row = this.record.row();
		if (row?.status === "deleted") return Promise.resolve({ status: "gone" });
		if (row?.status !== "done") return Promise.resolve({ status: "missing" });
		const name = renditionName(r);
		let making = this.#making.get(name);
		if (!making) {
			making = this.#make(r).finally(() => this.#making.delete(name));
			this.#making.set(name, making);
		}
		return making;
	}

	async #make(r: Rendition): Promise<RenditionAnswer> {
		const job = this.view();
		const stored = await this.env.BUCKET.get(renditionKey(job.slug, r));
		if (stored) return answer(new Uint8Array(await stored.arrayBuffer()), stored);
		const made = await this.#render(job, [r], `rendition ${renditionName(r)}`);
		if (made === "unavailable" || made === "missing") return { status: made };
		const [object] = made.objects;
		if (!object) return { status: "missing" };
		if (this.record.row()?.status === "deleted") {
			await this.env.BUCKET.delete(allRenditionKeys(job.slug));
			return { status: "gone" };
		}
		return answer(made.outputs[0]!.bytes, object);
	}

	/**
	 * Before the original goes: every rendition not stored yet, made from one decode and stored.
	 * True once nothing is missing (or nothing ever can be made: a fault of the image), false when
	 * the origin could not make them now (the original stays until it can).
	 */
	async complete(): Promise<boolean> {
		const job = this.view();
		if (job.status !== "done") return true;
		const heads = await Promise.all(ALL_RENDITIONS.map((r) => this.env.BUCKET.head(renditionKey(job.slug, r))));
		const missing = ALL_RENDITIONS.filter((_, i) => !heads[i]);
		if (missing.length === 0) return true;
		const made = await this.#render(job, missing, "the renditions still missing before retention");
		return made !== "unavailable";
	}

	/** `renditions` of the job made through the origin and written; "missing" when they never can be. */
	async #render(job: Job, renditions: Rendition[], what: string) {
		const canonical = await this.env.BUCKET.head(thumbnailKey(job.slug));
		if (!canonical) return "missing" as const;
		const focus = parseFocus(canonical.customMetadata?.focus);
		try {
			const { outputs } = await renderRenditions(
				this.env,
				{ id: job.id, traceId: job.traceId, attempt: 1, previousError: null },
				renditions,
				focus,
			);
			const meta = { jobId: job.id, copiedFrom: null, details: detailsOf(canonical.customMetadata), focus };
			return { outputs, objects: await this.write.put(job.slug, outputs, meta) };
		} catch (err) {
			const final = err instanceof AttemptError && err.permanent;
			const reason = err instanceof AttemptError ? err.error.code : err instanceof Error ? err.message : String(err);
			console.warn(`job ${job.id}: could not make ${what} (${reason}${final ? ", for good" : ""})`);
			return final ? ("missing" as const) : ("unavailable" as const);
		}
	}
}

const answer = (bytes: Uint8Array, object: R2Object): RenditionAnswer => ({
	status: "stored",
	bytes,
	etag: object.httpEtag,
	uploaded: object.uploaded.getTime(),
});
