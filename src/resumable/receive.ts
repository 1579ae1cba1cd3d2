/**
 * A PATCH body (or the body of a creation with upload) into its upload's object, in slices of
 * SLICE_BYTES as they arrive. What reached us is kept even when the connection breaks or stalls:
 * the client asks HEAD for the offset and resumes from there, never sending a byte twice.
 */
import type { Job, JobId, UploadState } from "../base/contracts";
import { ApiError, orThrow } from "../http/errors";
import { uploadStub } from "../objects";
import { ByteReader, ByteStreamError, concat } from "../upload/bytes";
import { SLICE_BYTES } from "./pending";
import { beyondLength } from "./protocol";

/** The longest a PATCH's bytes wait in the Worker before they are kept, however slowly they come. */
const FLUSH_MS = 5000;

export interface Target {
	id: JobId;
	ownerId: string;
	/** Upload-Offset: where the body's bytes start. */
	offset: number;
	/** The body's Content-Length, when the client declared one: a body past Upload-Length is refused before a byte is read. */
	declared: number | null;
	idleSeconds: number;
}

export async function receive(
	env: Env,
	ctx: Pick<ExecutionContext, "waitUntil">,
	target: Target,
	body: ReadableStream<Uint8Array> | null,
): Promise<{ upload: UploadState; job: Job | null }> {
	const stub = uploadStub(env, target.id);
	const token = crypto.randomUUID();
	let kept = target.offset;
	const send = async (bytes: Uint8Array, end: boolean) => {
		const answer = orThrow(await stub.append(target.ownerId, { token, offset: null, bytes, end }));
		kept = answer.upload.offset;
		return answer;
	};
	// The offset is checked, and the upload taken, before a byte of the body is read.
	const first = orThrow(
		await stub.append(target.ownerId, {
			token,
			offset: target.offset,
			declared: target.declared,
			bytes: new Uint8Array(0),
			end: false,
		}),
	);
	const reader = body && new ByteReader(body, { idleMs: target.idleSeconds * 1000 });
	if (first.upload.status !== "receiving") {
		// Its bytes are all in: the last PATCH sent again, with nothing more, is answered as the first was.
		if (await reader?.next()) throw beyondLength(first.upload.length);
		return first;
	}
	let held: Uint8Array[] = [];
	let heldBytes = 0;
	// A slow body is kept every FLUSH_MS too, in smaller slices: its bytes are safe sooner, and the
	// upload's object hears from the PATCH that holds it well within the lock's time.
	const flushMs = Math.min(FLUSH_MS, (target.idleSeconds * 1000) / 2);
	let sentAt = Date.now();
	try {
		for (let chunk = await reader?.next(); chunk; chunk = await reader?.next()) {
			held.push(chunk);
			heldBytes += chunk.length;
			while (heldBytes >= SLICE_BYTES || (heldBytes > 0 && Date.now() - sentAt >= flushMs)) {
				const all = concat(held);
				const slice = all.subarray(0, Math.min(SLICE_BYTES, heldBytes));
				await send(slice, false);
				sentAt = Date.now();
				held = [all.subarray(slice.length)];
				heldBytes -= slice.length;
			}
		}
	} catch (err) {
		if (!(err instanceof ByteStreamError)) {
			// Refused: what is left of the body is read off by the error handler, so the client sees why.
			reader?.release();
			throw err;
		}
		// The connection broke or stalled: the bytes that came are kept, even if this request is cut short now.
		const keep = send(concat(held), true).catch(async (refused: unknown) => {
			// Kept or not, the offset the client is told is the one the upload has.
			console.warn(`upload ${target.id}: the bytes of a broken PATCH were not kept: ${String(refused)}`);
			kept = (await stub.get())?.offset ?? kept;
		});
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
