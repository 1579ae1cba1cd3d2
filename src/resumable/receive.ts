/**
 * A PATCH body (or the body of a creation with upload) into its upload's object, in slices of
 * SLICE_BYTES as they arrive. What reached us is kept even when the connection breaks or stalls:
 * the client asks HEAD for the offset and resumes from there, never sending a byte twice.
 */
import type { Job, JobId, UploadState } from "../base/contracts";
import { ApiError } from "../http/errors";
import { uploadStub } from "../objects";
import { ByteReader, ByteStreamError, concat } from "../upload/bytes";
import { answered } from "./record";
import { SLICE_BYTES } from "./upload-object";

export async function receive(
	env: Env,
	ctx: Pick<ExecutionContext, "waitUntil">,
	target: { id: JobId; ownerId: string; offset: number; idleSeconds: number },
	body: ReadableStream<Uint8Array> | null,
): Promise<{ upload: UploadState; job: Job | null }> {
	const stub = uploadStub(env, target.id);
	const token = crypto.randomUUID();
	let first = true;
	let kept = target.offset;
	const send = async (bytes: Uint8Array, end: boolean) => {
		const answer = answered(await stub.append(target.ownerId, { token, offset: first ? target.offset : null, bytes, end }));
		first = false;
		kept = answer.upload.offset;
		return answer;
	};
	// The offset is checked, and the upload taken, before a byte of the body is read.
	await send(new Uint8Array(0), false);
	const reader = body && new ByteReader(body, { idleMs: target.idleSeconds * 1000 });
	let held: Uint8Array[] = [];
	let heldBytes = 0;
	try {
		for (let chunk = await reader?.next(); chunk; chunk = await reader?.next()) {
			held.push(chunk);
			heldBytes += chunk.length;
			while (heldBytes >= SLICE_BYTES) {
				const all = concat(held);
				await send(all.subarray(0, SLICE_BYTES), false);
				held = [all.subarray(SLICE_BYTES)];
				heldBytes -= SLICE_BYTES;
			}
		}
	} catch (err) {
		if (!(err instanceof ByteStreamError)) {
			// Refused: what is left of the body is read off by the error handler, so the client sees why.
			reader?.release();
			throw err;
		}
		// The connection broke or stalled: the bytes that came are kept, even if this request is cut short now.
		const keep = send(concat(held), true).catch(() => {});
		ctx.waitUntil(keep);
		await keep;
		throw err.failure === "idle"
			? new ApiError(
					408,
					"upload_stalled",
					`No bytes arrived for ${target.idleSeconds} s; the upload keeps ${kept} bytes: resume from there.`,
					{ offset: kept },
				)
			: new ApiError(400, "upload_interrupted", `The body broke off; the upload keeps ${kept} bytes: resume from there.`, {
					offset: kept,
				});
	}
	return send(concat(held), true);
}
