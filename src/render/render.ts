/**
 * Renditions of a job's original, through the signed origin: what the consumer asks for a job's
 * eager set, and what the job's object asks for a rendition on its first request (from the job's
 * master once retention has deleted the original) and, before it does, for the master.
 */
import { AttemptError } from "../base/attempts";
import { settings } from "../base/config";
import type { JobErrorCode, JobId } from "../base/contracts";
import type { Rendition } from "../base/renditions";
import { originalKey } from "../base/storage";
import { type Rendered, renderThumbnail } from "./origin-client";
import { thumborOrigin } from "./origins";
import { originAsk } from "./thumbor-path";

/** What the origin is told of the job it renders. */
export interface RenderJob {
	id: JobId;
	traceId: string;
	/** Which attempt this is (1 for a rendition made on request): picks the origin instance, logged. */
	attempt: number;
	/** Why the attempt before failed, if it did (origin-client.ts: an image fault seen twice is final). */
	previousError: JobErrorCode | null;
}

/**
 * `renditions` of `job`'s original (or of the R2 object `source`: its master, once the original is
 * gone) from one decode, framed around `focus` (null: where the origin finds the subject; the answer
 * says where that was). Throws AttemptError.
 */
export async function renderRenditions(
	env: Env,
	job: RenderJob,
	renditions: readonly Rendition[],
	focus: string | null,
	source = originalKey(job.id),
): Promise<Rendered> {
	const ask = await originAsk(settings(env).THUMBOR_SECURITY_KEY, job.id, renditions, focus);
	return renderThumbnail(thumborOrigin(env, `${job.id}:${job.attempt}`), ask, () => openSource(env, source), {
		attempt: job.attempt,
		previousError: job.previousError,
		traceId: job.traceId,
	});
}

/** The job's original (or master), streamed from R2 into the request to Thumbor; gone for good is a final fault. */
async function openSource(env: Env, key: string): Promise<ReadableStream<Uint8Array>> {
	const object = await env.BUCKET.get(key);
	if (!object) throw new AttemptError({ code: "original_missing", message: "The original upload no longer exists." }, true);
	return object.body;
}
