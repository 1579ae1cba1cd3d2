/**
 * The upload policy: what is accepted, and how it reaches R2. A raw image body
 * or the `file` part of a multipart/form-data body streams into R2 without being
 * held in memory, hashed (SHA-256) on the way. The image type comes from the
 * file's first bytes; the declared Content-Type only tells raw from multipart.
 */
import type { Settings } from "../base/config";
import { ImageType } from "../base/contracts";
import { hex } from "../base/crypto";
import { ApiError } from "../http/errors";
import { hasOneScanOnly, JpegScanCounter } from "../images/jpeg";
import { decodedBytes, readImageSize } from "../images/size";
import { sniffImageType } from "../images/sniff";
import { ByteReader, ByteStreamError, concat } from "./bytes";
import { MULTIPART_LIMITS, MultipartError, MultipartForm, multipartBoundary } from "./multipart";
import { putSized, putUnsized } from "./originals";
import { ByteCount, mostBytes, refuseDeclared, tooLarge } from "./size";

export interface UploadLimits {
	maxBytes: number;
	maxPixels: number;
	/** Most bytes the image may decode to (images/size.ts, decodedBytes). */
	maxDecodedBytes: number;
	maxJpegScans: number;
	/** How long the body may send nothing before the upload is refused (408). */
	idleSeconds: number;
}

/** The limits in force now (base/config.ts). */
export const uploadLimits = (cfg: Settings): UploadLimits => ({
	maxBytes: cfg.MAX_UPLOAD_BYTES,
	maxPixels: cfg.MAX_PIXELS,
	maxDecodedBytes: cfg.MAX_DECODED_BYTES,
	maxJpegScans: cfg.MAX_JPEG_SCANS,
	idleSeconds: cfg.UPLOAD_IDLE_SECONDS,
});

export interface Upload {
	contentType: ImageType;
	bytes: number;
	/** From the file's header, where it says so within its first 64 KiB. */
	width: number | null;
	height: number | null;
	/** Lowercase hex SHA-256 of the file's bytes. */
	sha256: string;
	/** Multipart text fields (before and after `file`). */
	fields: Record<string, string>;
}

/** Where the file goes: an R2 object, or nowhere (it is only hashed, to compare it with an earlier upload). */
export type Destination = { bucket: R2Bucket; key: string } | null;

/** Enough of the file to find its type and, for most JPEGs, its start-of-frame. */
export const HEAD_BYTES = 64 * 1024;

const interrupted = () =>
	new ApiError(400, "upload_interrupted", "The upload ended before the declared number of bytes arrived.");
const empty = () => new ApiError(400, "empty_body", "The upload is empty: send the image bytes as the request body.");

/**
 * Reads the upload in `req` into `destination`; anything refused leaves nothing stored. Once `stop`
 * is aborted (a check made beside the upload refused it), reading stops with its reason.
 */
export async function ingestUpload(
	req: Request,
	destination: Destination,
	limits: UploadLimits,
	stop?: AbortSignal,
): Promise<Upload> {
	const type = req.headers.get("content-type") ?? "";
	const declared = req.headers.get("content-length");
	// A body without Content-Length (Transfer-Encoding: chunked) streams in under the same bound.
	const length = declared === null ? null : Number(declared);
	if (length !== null && (!Number.isSafeInteger(length) || length < 0)) {
		throw new ApiError(400, "bad_request", "Invalid Content-Length.");
	}
	if (length === 0 || !req.body) throw empty();
	const multipart = /^multipart\/form-data\b/i.test(type);
	// Refused on its length alone, before a byte is read.
	refuseDeclared(length, mostBytes(limits.maxBytes, { multipart }), `The ${multipart ? "form" : "image"}`);
	const body = new ByteReader(req.body, { idleMs: limits.idleSeconds * 1000, stop });
	try {
		if (multipart) {
			const boundary = multipartBoundary(type);
			if (!boundary) throw new ApiError(400, "invalid_multipart", "Malformed multipart body: no boundary in Content-Type.");
			const form = await MultipartForm.open(body, boundary);
			// The file's length is known once its part ends: the fields after it may still come.
			const upload = await ingestFile(form.file(), null, destination, limits);
			return { ...upload, fields: form.fields };
		}
		const source =
			length === null
				? body.rest()
				: (async function* () {
						yield* body.take(length);
						// Nothing may follow the declared bytes.
						if (!(await body.atEnd())) throw new ApiError(400, "bad_request", "The body is longer than its Content-Length.");
					})();
		return { ...(await ingestFile(source, length, destination, limits)), fields: {} };
	} catch (err) {
		// What is left of a refused body is read off by the error handler, so the client sees the answer.
		body.release();
		throw asApiError(err);
	}
}

/**
 * The file's checks on its first bytes (most refusals happen here, before anything is stored),
 * then the whole of it to `destination`: `length` bytes, or as many as come (null) up to the limit.
 */
export async function ingestFile(
	source: AsyncIterable<Uint8Array>,
	length: number | null,
	destination: Destination,
	limits: UploadLimits,
): Promise<Omit<Upload, "fields">> {
	const chunks = source[Symbol.asyncIterator]();
	const head = await gather(chunks, HEAD_BYTES);
	const bytesSoFar = head.reduce((n, c) => n + c.length, 0);
	if (bytesSoFar === 0) throw empty();
	const first = concat(head).subarray(0, HEAD_BYTES);
	const image = inspectHead(first, limits);
	const all = (async function* () {
		yield* head;
		for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
	})();
	const scans = countsScans(image.contentType, first);
	const { sha256, bytes } = await store(destination, image.contentType, scans, length, all, limits);
	return { ...image, bytes, sha256 };
}

/** The first chunks of `chunks`, at least `bytes` of them unless it ends first. */
async function gather(chunks: AsyncIterator<Uint8Array>, bytes: number): Promise<Uint8Array[]> {
	const got: Uint8Array[] = [];
	for (let n = 0; n < bytes; ) {
		const next = await chunks.next();
		if (next.done) break;
		got.push(next.value);
		n += next.value.length;
	}
	return got;
}

/** Whether a file's scans are counted: a JPEG that may hold more than one (images/jpeg.ts). */
const countsScans = (type: ImageType, head: Uint8Array) => type === "image/jpeg" && !hasOneScanOnly(head);

/** Type, size and (for a JPEG) scans so far, from the file's first bytes (HEAD_BYTES of them, or all of a shorter file). */
export function inspectHead(head: Uint8Array, { maxPixels, maxDecodedBytes, maxJpegScans }: UploadLimits) {
	const type = sniffImageType(head);
	if (!type) {
		throw new ApiError(
			415,
			"unsupported_media_type",
			"This is not a supported image: send JPEG, PNG, GIF, WebP, AVIF, HEIC or TIFF.",
			{
				supported: ImageType.options,
			},
		);
	}
	const size = readImageSize(head, type);
	const dimensions = size && { width: size.width, height: size.height };
	if (size && (size.width === 0 || size.height === 0)) {
		throw new ApiError(422, "unprocessable_image", "The image's header says it has no pixels.", { ...dimensions });
	}
	if (size && size.width * size.height > maxPixels) {
		const mp = (n: number) => `${(n / 1e6).toFixed(1)} megapixels`;
		throw new ApiError(
			422,
			"image_too_large",
			`The image is ${size.width}x${size.height} (${mp(size.width * size.height)}); the limit is ${mp(maxPixels)}.`,
			{ ...dimensions, maxPixels },
		);
	}
	if (size && decodedBytes(size) > maxDecodedBytes) {
		const mb = (n: number) => `${Math.round(n / 1e6)} MB`;
		throw new ApiError(
			422,
			"image_too_large",
			`The image is ${size.width}x${size.height} at ${size.bytesPerPixel} bytes a pixel (its bit depth and alpha): ` +
				`${mb(decodedBytes(size))} decoded; the limit is ${mb(maxDecodedBytes)}.`,
			{ ...dimensions, bytesPerPixel: size.bytesPerPixel, maxDecodedBytes },
		);
	}
	if (countsScans(type, head)) {
		const scans = new JpegScanCounter();
		scans.push(head);
		if (scans.scans > maxJpegScans) throw tooManyScans(maxJpegScans);
	}
	return { contentType: type, width: size?.width ?? null, height: size?.height ?? null };
}

/**
 * Streams the file to `destination`, hashing it, counting its bytes against the limit and, with
 * `countScans` (a JPEG that may hold more than one), its scans; returns the hex SHA-256 and the
 * byte count. With `length` known, the bytes go to R2 as one stream of that length; without, they
 * are gathered into parts (upload/originals.ts).
 * The object exists only if the whole source arrived intact and passed every check.
 */
async function store(
	destination: Destination,
	contentType: ImageType,
	countScans: boolean,
	length: number | null,
	source: AsyncIterable<Uint8Array>,
	limits: UploadLimits,
): Promise<{ sha256: string; bytes: number }> {
	const digest = new crypto.DigestStream("SHA-256");
	digest.digest.catch(() => {}); // rejects when the pump aborts it; the pump's error is the one reported
	const hasher = digest.getWriter();
	const scans = countScans ? new JpegScanCounter() : null;
	const count = new ByteCount(limits.maxBytes);
	// Every chunk checked and hashed on its way to R2.
	const checked = (async function* () {
		for await (const chunk of source) {
			count.add(chunk.length);
			if (scans) {
				scans.push(chunk);
				if (scans.scans > limits.maxJpegScans) throw tooManyScans(limits.maxJpegScans);
			}
			await hasher.write(chunk);
			yield chunk;
		}
		await hasher.close();
	})();
	const options = { httpMetadata: { contentType } };
	try {
		if (!destination) {
			for await (const _ of checked);
		} else if (length === null) {
			await putUnsized(destination.bucket, destination.key, checked, options);
		} else {
			await putSized(destination, length, checked, options);
		}
	} catch (err) {
		await hasher.abort(err).catch(() => {});
		throw err;
	}
	return { sha256: hex(await digest.digest), bytes: count.bytes };
}

function tooManyScans(max: number): ApiError {
	return new ApiError(
		422,
		"image_too_complex",
		`The JPEG has more than ${max} scans. Real encoders write about 10 and rarely more than a few dozen; ` +
			"a file with this many takes minutes to decode. Re-encode it.",
		{ maxScans: max },
	);
}

/** The answer for a failure of the body or its framing. */
function asApiError(err: unknown): unknown {
	if (err instanceof ByteStreamError && err.failure === "idle") {
		return new ApiError(
			408,
			"upload_stalled",
			`No bytes of the upload arrived for ${err.message.replace(/^no bytes for /, "")}; nothing was stored. Send it again.`,
		);
	}
	if (err instanceof ByteStreamError) return interrupted();
	if (err instanceof MultipartError) {
		switch (err.failure) {
			case "no_file":
				return new ApiError(400, "empty_body", "The multipart body has no `file` field.");
			case "too_many_fields":
				return new ApiError(413, "payload_too_large", `The form has ${err.message}; send only the fields the API reads.`, {
					limit: MULTIPART_LIMITS.maxFields,
				});
			case "field_too_long":
				return tooLarge(`The form's ${err.message}`, MULTIPART_LIMITS.maxFieldBytes);
			default:
				return new ApiError(400, "invalid_multipart", `Malformed multipart body: ${err.message}.`);
		}
	}
	return err;
}
