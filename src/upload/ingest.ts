/**
 * The upload policy: what is accepted, and how it reaches R2. A raw image body
 * or the `file` part of a multipart/form-data body streams into R2 without being
 * held in memory, hashed (SHA-256) on the way. The image type comes from the
 * file's first bytes; the declared Content-Type only tells raw from multipart.
 */
import { ImageType } from "../base/contracts";
import { hex } from "../base/crypto";
import { ApiError } from "../http/errors";
import { JpegScanCounter } from "../images/jpeg";
import { decodedBytes, readImageSize } from "../images/size";
import { sniffImageType } from "../images/sniff";
import { ByteReader, ByteStreamError } from "./bytes";
import { MULTIPART_LIMITS, MultipartError, MultipartUpload, multipartBoundary } from "./multipart";

export interface UploadLimits {
	maxBytes: number;
	maxPixels: number;
	/** Most bytes the image may decode to (images/size.ts, decodedBytes). */
	maxDecodedBytes: number;
	maxJpegScans: number;
	/** How long the body may send nothing before the upload is refused (408). */
	idleSeconds: number;
}

export interface Upload {
	contentType: ImageType;
	bytes: number;
	/** From the file's header, where it says so within its first 64 KiB. */
	width: number | null;
	height: number | null;
	/** Lowercase hex SHA-256 of the file's bytes. */
	sha256: string;
	/** Multipart text fields that came before `file`. */
	fields: Record<string, string>;
}

/** Where the file goes: an R2 object, or nowhere (it is only hashed, to compare it with an earlier upload). */
export type Destination = { bucket: R2Bucket; key: string } | null;

/** Room for a form's framing and text fields beside the file: the most a multipart body may exceed MAX_UPLOAD_BYTES by. */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** Enough of the file to find its type and, for most JPEGs, its start-of-frame. */
const HEAD_BYTES = 64 * 1024;

const interrupted = () =>
	new ApiError(400, "upload_interrupted", "The upload ended before the declared number of bytes arrived.");
const empty = () => new ApiError(400, "empty_body", "The upload is empty: send the image bytes as the request body.");
const tooLarge = (what: string, max: number) =>
	new ApiError(413, "payload_too_large", `${what}; the limit is ${max} bytes.`, { limit: max });

/** Reads the upload in `req` into `destination`; anything refused leaves nothing stored. */
export async function ingestUpload(req: Request, destination: Destination, limits: UploadLimits): Promise<Upload> {
	const type = req.headers.get("content-type") ?? "";
	const declared = req.headers.get("content-length");
	if (declared === null && req.body) {
		throw new ApiError(411, "length_required", "Send a Content-Length header: chunked uploads are not accepted.");
	}
	const length = Number(declared ?? 0);
	if (!Number.isSafeInteger(length) || length < 0) throw new ApiError(400, "bad_request", "Invalid Content-Length.");
	if (length === 0 || !req.body) throw empty();
	const multipart = /^multipart\/form-data\b/i.test(type);
	// Refused on its length alone, before a byte is read.
	const most = multipart ? limits.maxBytes + MULTIPART_OVERHEAD_BYTES : limits.maxBytes;
	if (length > most) throw tooLarge(`The ${multipart ? "form" : "image"} is ${length} bytes`, most);
	const body = new ByteReader(req.body, { idleMs: limits.idleSeconds * 1000 });
	try {
		if (multipart) return await ingestMultipart(body, type, length, destination, limits);
		const image = await inspect(body, length, limits);
		const source = async function* () {
			yield* body.take(length);
			// Nothing may follow the declared bytes (a multipart body is held to its closing delimiter likewise).
			if (!(await body.atEnd())) throw new ApiError(400, "bad_request", "The body is longer than its Content-Length.");
		};
		const sha256 = await store(destination, image.contentType, length, source(), limits);
		return { ...image, bytes: length, sha256, fields: {} };
	} catch (err) {
		// What is left of a refused body is read off by the error handler, so the client sees the answer.
		body.release();
		throw asApiError(err);
	}
}

/** Multipart bodies are parsed as they stream; see upload/multipart.ts for the framing rules. */
async function ingestMultipart(
	body: ByteReader,
	contentType: string,
	length: number,
	destination: Destination,
	limits: UploadLimits,
): Promise<Upload> {
	const boundary = multipartBoundary(contentType);
	if (!boundary) throw new ApiError(400, "invalid_multipart", "Malformed multipart body: no boundary in Content-Type.");
	const form = await MultipartUpload.open(body, boundary);
	const bytes = form.fileLength(length, body.consumed);
	if (bytes <= 0) throw empty();
	if (bytes > limits.maxBytes) throw tooLarge(`The image is ${bytes} bytes`, limits.maxBytes);
	const image = await inspect(body, bytes, limits);
	// A small file is all in view already: a misplaced part is refused before R2 sees a byte.
	form.checkHead(await body.peek(Math.min(bytes, HEAD_BYTES)));
	const sha256 = await store(destination, image.contentType, bytes, form.file(body, bytes), limits);
	return { ...image, bytes, sha256, fields: form.fields };
}

/**
 * Type, size and (for a JPEG) scans so far, from the file's first bytes, which stay in
 * the stream: most refusals happen here, before anything is stored.
 */
async function inspect(body: ByteReader, bytes: number, { maxPixels, maxDecodedBytes, maxJpegScans }: UploadLimits) {
	const head = await body.peek(Math.min(bytes, HEAD_BYTES));
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
	if (type === "image/jpeg") {
		const scans = new JpegScanCounter();
		scans.push(head);
		if (scans.scans > maxJpegScans) throw tooManyScans(maxJpegScans);
	}
	return { contentType: type, width: size?.width ?? null, height: size?.height ?? null };
}

/**
 * Streams exactly `bytes` bytes to `destination`, hashing them and, for a JPEG,
 * counting its scans; returns the hex SHA-256. The object exists only if the
 * whole source arrived intact and passed every check.
 */
async function store(
	destination: Destination,
	contentType: ImageType,
	bytes: number,
	source: AsyncIterable<Uint8Array>,
	limits: UploadLimits,
): Promise<string> {
	const digest = new crypto.DigestStream("SHA-256");
	digest.digest.catch(() => {}); // rejects when the pump aborts it; the pump's error is the one reported
	const hasher = digest.getWriter();
	const scans = contentType === "image/jpeg" ? new JpegScanCounter() : null;
	// R2 needs the length up front; a FixedLengthStream carries it.
	const { readable, writable } = destination ? new FixedLengthStream(bytes) : new TransformStream<Uint8Array, Uint8Array>();
	const writer = writable.getWriter();
	const pump = (async () => {
		try {
			for await (const chunk of source) {
				if (scans) {
					scans.push(chunk);
					if (scans.scans > limits.maxJpegScans) throw tooManyScans(limits.maxJpegScans);
				}
				await hasher.write(chunk);
				await writer.write(chunk);
			}
			await writer.close();
			await hasher.close();
		} catch (err) {
			await writer.abort(err).catch(() => {});
			await hasher.abort(err).catch(() => {});
			throw err;
		}
	})();
	const sink = destination
		? destination.bucket.put(destination.key, readable, { httpMetadata: { contentType } }).then(() => {})
		: readable.pipeTo(new WritableStream());
	const [pumped, stored] = await Promise.allSettled([pump, sink]);
	if (pumped.status === "rejected") {
		// A check that failed after R2 took the last byte must not leave the object behind
		// (R2 may keep it even though the put reports the abort).
		if (destination) await destination.bucket.delete(destination.key);
		throw pumped.reason;
	}
	if (stored.status === "rejected") throw stored.reason;
	return hex(await digest.digest);
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
