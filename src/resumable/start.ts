/**
 * tus creation (POST /uploads) as a protocol, shaped like POST /jobs' submit: the headers are
 * checked, the upload admitted among the owner's uploads in progress, its slug claimed, its object
 * made and, with creation-with-upload, its first bytes taken. A step that fails gives back at once
 * what the steps before it took: an upload whose Location the client was never told holds no
 * place, no slug and no bytes.
 */
import { admit } from "../access/limits";
import { settings } from "../base/config";
import type { Caller, Job, UploadState } from "../base/contracts";
import { ulid } from "../base/ids";
import type { Steps } from "../base/timing";
import { annotate, currentTraceId } from "../base/tracing";
import { ApiError } from "../http/errors";
import { checkCallbackUrl } from "../notify/url";
import { ownerStub, slugClaim, uploadStub } from "../objects";
import { uploadLimits } from "../upload/ingest";
import { refuseDeclared } from "../upload/size";
import { claimSlug } from "../upload/submit";
import { beyondLength, declaredLength, integerHeader, isOffsetStream, parseMetadata } from "./protocol";
import { receive } from "./receive";

export async function startUpload(
	env: Env,
	ctx: Pick<ExecutionContext, "waitUntil">,
	caller: Caller,
	req: Request,
	steps: Steps,
): Promise<{ upload: UploadState; job: Job | null }> {
	const cfg = settings(env);
	const { ownerId, keyHash } = caller;
	if (req.headers.has("Upload-Defer-Length")) {
		throw new ApiError(400, "invalid_parameter", "Deferred length is not supported: send Upload-Length.");
	}
	const length = integerHeader(req, "Upload-Length");
	if (length === 0) throw new ApiError(400, "empty_body", "Upload-Length is 0: an image has bytes.");
	refuseDeclared(length, cfg.MAX_UPLOAD_BYTES, "Upload-Length", { "Tus-Max-Size": String(cfg.MAX_UPLOAD_BYTES) });
	const withBody = isOffsetStream(req) && req.body !== null;
	const declared = withBody ? declaredLength(req) : null;
	if (declared !== null && declared > length) throw beyondLength(length);
	const metadataHeader = req.headers.get("Upload-Metadata") ?? "";
	const metadata = parseMetadata(metadataHeader);
	const callbackUrl = metadata.callback_url === undefined ? null : checkCallbackUrl(metadata.callback_url, cfg.webhookDevHosts);
	const id = ulid();
	annotate({ "job.id": id, "owner.id": ownerId });
	await steps.time("admit", () => admit(env, ownerId, id, { place: "upload" }));
	let undo = [() => ownerStub(env, ownerId).release(id)];
	try {
		if (metadata.slug) {
			await claimSlug(env, metadata.slug, id);
			const slug = metadata.slug;
			undo.push(() => slugClaim(env, slug).release(id));
		}
		const upload = await steps.time("create", () =>
			uploadStub(env, id).create({
				id,
				ownerId,
				keyHash,
				length,
				metadata: metadataHeader,
				slug: metadata.slug ?? id,
				callbackUrl,
				filename: metadata.filename ?? null,
				traceId: currentTraceId(),
				limits: uploadLimits(cfg),
				ttlMs: cfg.RESUMABLE_UPLOAD_TTL_SECONDS * 1000,
				startMs: cfg.RESUMABLE_UPLOAD_START_SECONDS * 1000,
			}),
		);
		// From here the upload's object gives back all it holds, bytes too (a refused file's already did).
		undo = [async () => void (await uploadStub(env, id).terminate(ownerId))];
		if (!withBody) return { upload, job: null };
		const target = { id, ownerId, offset: 0, declared, idleSeconds: cfg.UPLOAD_IDLE_SECONDS };
		return await steps.time("store", () => receive(env, ctx, target, req.body));
	} catch (err) {
		// Also when the client went away: the answer that never reached it named no upload.
		const giveBack = Promise.all(undo.map((step) => step())).catch((failed: unknown) =>
			console.warn(`upload ${id}: what its failed creation took was not all given back: ${String(failed)}`),
		);
		ctx.waitUntil(giveBack);
		await giveBack;
		throw err;
	}
}
