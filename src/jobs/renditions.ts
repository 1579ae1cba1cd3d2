/**
 * A done job's renditions beyond its eager set, made by its object on a rendition's first request
 * (one origin call however many requests come at once: the object is the job's single flight).
 * Each is framed around the crop the job's first answer chose (its `focus`, kept with the
 * canonical), so 1x, 2x and 3x show the same picture. Before retention deletes the original, the
 * object makes the job's master (renditions.ts MASTER: that crop at 300 px, lossless); every
 * rendition asked for after that is made from it, so every URL the job lists keeps working.
 */
import { AttemptError } from "../base/attempts";
import type { Job } from "../base/contracts";
import { MASTER, type Rendition, type RenditionName, renditionName } from "../base/renditions";
import { allRenditionKeys, detailsOf, masterKey, originalKey, renditionKey, thumbnailKey } from "../base/storage";
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
	 * Before the original goes: the job's master, made and stored. True once it is (or when nothing
	 * ever could make one: the job is not done, or the image's fault), false when the origin could not
	 * make it now (the original stays until it can).
	 */
	async keepMaster(): Promise<boolean> {
		const job = this.view();
		if (job.status !== "done") return true;
		return (await this.#render(job, [MASTER], "its master")) !== "unavailable";
	}

	/**
	 * `renditions` of the job made through the origin — from its original, framed by its focus, or
	 * once that is gone from its master (already that crop) — and written; "missing" when they never
	 * can be. The master goes to its own key, the rest where they are served.
	 */
	async #render(job: Job, renditions: Rendition[], what: string) {
		const canonical = await this.env.BUCKET.head(thumbnailKey(job.slug));
		if (!canonical) return "missing" as const;
		const fromMaster = job.originalDeletedAt !== null;
		const focus = fromMaster ? CENTRE : parseFocus(canonical.customMetadata?.focus);
		try {
			const { outputs } = await renderRenditions(
				this.env,
				{ id: job.id, traceId: job.traceId, attempt: 1, previousError: null },
				renditions,
				focus,
				fromMaster ? masterKey(job.id) : originalKey(job.id),
			);
			if (renditions[0] === MASTER) {
				const object = await this.write.track(this.env.BUCKET.put(masterKey(job.id), outputs[0]!.bytes));
				if (this.record.row()?.status === "deleted") await this.env.BUCKET.delete(masterKey(job.id));
				return { outputs, objects: [object] };
			}
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

/** The master is the crop already: a rendition made from it is centred on it. */
const CENTRE = "0.5000,0.5000";

const answer = (bytes: Uint8Array, object: R2Object): RenditionAnswer => ({
	status: "stored",
	bytes,
	etag: object.httpEtag,
	uploaded: object.uploaded.getTime(),
});
