/**
 * Streams an upload into R2 without holding it in memory: a raw image body, or
 * the `file` field of a multipart/form-data body. The image type comes from the
 * file's first bytes; the declared Content-Type only tells the two apart.
 */
import { ImageType } from "./contracts";
import { ApiError } from "./errors";
import { readImageSize } from "./images/size";
import { sniffImageType } from "./images/sniff";

export interface UploadLimits {
	maxBytes: number;
	maxPixels: number;
}

export interface Upload {
	contentType: ImageType;
	bytes: number;
	/** From the file's header, where it says (not for AVIF and TIFF). */
	width: number | null;
	height: number | null;
	/** Multipart text fields that came before `file`. */
	fields: Record<string, string>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const CRLF = enc.encode("\r\n");
const HEADER_END = enc.encode("\r\n\r\n");
const MAX_PREAMBLE = 64 * 1024;
const MAX_PART_HEADERS = 16 * 1024;
const MAX_FIELD_BYTES = 8 * 1024;
/** Enough of the file to find its type and, for most JPEGs, its start-of-frame. */
const HEAD_BYTES = 64 * 1024;

const interrupted = () => new ApiError(400, "upload_interrupted", "The upload ended before the declared number of bytes arrived.");
const malformed = (why: string) => new ApiError(400, "invalid_multipart", `Malformed multipart body: ${why}.`);
const empty = () => new ApiError(400, "empty_body", "The upload is empty: send the image bytes as the request body.");

function tooLarge(bytes: number, max: number): ApiError {
	return new ApiError(413, "payload_too_large", `The image is ${bytes} bytes; the limit is ${max} bytes.`, { limit: max });
}

export async function ingestUpload(req: Request, bucket: R2Bucket, key: string, limits: UploadLimits): Promise<Upload> {
	const type = req.headers.get("content-type") ?? "";
	const declared = req.headers.get("content-length");
	if (declared === null && req.body) {
		throw new ApiError(411, "length_required", "Send a Content-Length header: chunked uploads are not accepted.");
	}
	const length = Number(declared ?? 0);
	if (!Number.isSafeInteger(length) || length < 0) throw new ApiError(400, "bad_request", "Invalid Content-Length.");
	if (length === 0 || !req.body) throw empty();
	const body = new ByteReader(req.body);
	if (/^multipart\/form-data\b/i.test(type)) return ingestMultipart(body, type, length, bucket, key, limits);
	if (length > limits.maxBytes) throw tooLarge(length, limits.maxBytes);
	const image = await inspect(body, limits.maxPixels);
	await putStream(bucket, key, image.contentType, length, body.take(length));
	// Nothing may follow the declared bytes (a multipart body is held to its closing delimiter likewise).
	if ((await body.next()) !== null) throw new ApiError(400, "bad_request", "The body is longer than its Content-Length.");
	return { ...image, bytes: length, fields: {} };
}

/** Type and size from the file's first bytes, which stay in the stream. */
async function inspect(body: ByteReader, maxPixels: number) {
	const head = await body.peek(HEAD_BYTES);
	const type = sniffImageType(head);
	if (!type) {
		throw new ApiError(415, "unsupported_media_type", "This is not a supported image: send JPEG, PNG, GIF, WebP, AVIF or TIFF.", {
			supported: ImageType.options,
		});
	}
	const size = readImageSize(head, type);
	if (size && (size.width === 0 || size.height === 0)) {
		throw new ApiError(422, "unprocessable_image", "The image's header says it has no pixels.", { ...size });
	}
	if (size && size.width * size.height > maxPixels) {
		const mp = (n: number) => `${(n / 1e6).toFixed(1)} megapixels`;
		throw new ApiError(
			422,
			"image_too_large",
			`The image is ${size.width}x${size.height} (${mp(size.width * size.height)}); the limit is ${mp(maxPixels)}.`,
			{ ...size, maxPixels },
		);
	}
	return { contentType: type, width: size?.width ?? null, height: size?.height ?? null };
}

/**
 * Multipart bodies are parsed as they stream. The file's length must be known
 * before R2 sees it, so `file` has to be the last part: its length is the body's
 * Content-Length less what came before it and the closing delimiter.
 */
async function ingestMultipart(
	body: ByteReader,
	contentType: string,
	length: number,
	bucket: R2Bucket,
	key: string,
	limits: UploadLimits,
): Promise<Upload> {
	const boundary = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
	const b = boundary?.[1] ?? boundary?.[2];
	if (!b) throw malformed("no boundary in Content-Type");
	const delimiter = enc.encode(`\r\n--${b}`);
	const closing = enc.encode(`\r\n--${b}--\r\n`);

	await body.readUntil(delimiter.subarray(2), MAX_PREAMBLE, "preamble");
	const fields: Record<string, string> = {};
	for (;;) {
		const next = await body.readExactly(2);
		if (next[0] === 0x2d && next[1] === 0x2d) throw new ApiError(400, "empty_body", "The multipart body has no `file` field.");
		if (!equal(next, CRLF)) throw malformed("bad delimiter");
		const headers = dec.decode(await body.readUntil(HEADER_END, MAX_PART_HEADERS, "part headers"));
		const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(headers)?.[1];
		if (name === undefined) throw malformed("a part without a Content-Disposition name");
		if (name === "file") break;
		fields[name] = dec.decode(await body.readUntil(delimiter, MAX_FIELD_BYTES, `field "${name}"`));
	}

	const bytes = length - body.consumed - closing.length;
	if (bytes <= 0) throw empty();
	if (bytes > limits.maxBytes) throw tooLarge(bytes, limits.maxBytes);
	const image = await inspect(body, limits.maxPixels);
	await putStream(bucket, key, image.contentType, bytes, fileThenClosing(body, bytes, delimiter, closing));
	return { ...image, bytes, fields };
}

/** Yields the file's bytes; fails if a delimiter shows up inside them or the body does not end right after. */
async function* fileThenClosing(body: ByteReader, bytes: number, delimiter: Uint8Array, closing: Uint8Array) {
	let carry: Uint8Array = new Uint8Array(0);
	for await (const chunk of body.take(bytes)) {
		const window = concat([carry, chunk]);
		if (indexOf(window, delimiter) !== -1) throw malformed("`file` must be the last part (send other fields before it)");
		carry = window.subarray(Math.max(0, window.length - delimiter.length + 1));
		yield chunk;
	}
	const tail = await body.readExactly(closing.length);
	if (!equal(tail, closing) || (await body.next()) !== null) throw malformed("`file` must be the last part (send other fields before it)");
}

/** Streams exactly `bytes` bytes into R2; the object exists only if the whole source arrived intact. */
async function putStream(
	bucket: R2Bucket,
	key: string,
	contentType: ImageType,
	bytes: number,
	source: AsyncIterable<Uint8Array>,
): Promise<void> {
	// R2 needs the length up front; a FixedLengthStream carries it.
	const { readable, writable } = new FixedLengthStream(bytes);
	const writer = writable.getWriter();
	const pump = (async () => {
		try {
			for await (const chunk of source) await writer.write(chunk);
			await writer.close();
		} catch (err) {
			await writer.abort(err).catch(() => {});
			throw err;
		}
	})();
	const [pumped, put] = await Promise.allSettled([pump, bucket.put(key, readable, { httpMetadata: { contentType } })]);
	if (pumped.status === "rejected") throw pumped.reason instanceof ApiError ? pumped.reason : interrupted();
	if (put.status === "rejected") throw put.reason;
}

/** A stream reader that can look ahead and put bytes back. */
class ByteReader {
	readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
	readonly #pushedBack: Uint8Array[] = [];
	/** Bytes handed out so far. */
	consumed = 0;

	constructor(stream: ReadableStream<Uint8Array>) {
		this.#reader = stream.getReader();
	}

	async next(): Promise<Uint8Array | null> {
		let chunk = this.#pushedBack.shift();
		if (!chunk) {
			const read = await this.#reader.read().catch(() => {
				throw interrupted();
			});
			if (read.done) return null;
			chunk = read.value;
		}
		this.consumed += chunk.length;
		return chunk;
	}

	unread(chunk: Uint8Array): void {
		if (chunk.length === 0) return;
		this.#pushedBack.unshift(chunk);
		this.consumed -= chunk.length;
	}

	/** Up to `n` bytes from the front, left in place. */
	async peek(n: number): Promise<Uint8Array> {
		const parts: Uint8Array[] = [];
		let got = 0;
		while (got < n) {
			const chunk = await this.next();
			if (!chunk) break;
			parts.push(chunk);
			got += chunk.length;
		}
		const all = concat(parts);
		this.unread(all);
		return all.subarray(0, n);
	}

	/** Exactly `n` bytes, as they arrive. */
	async *take(n: number): AsyncGenerator<Uint8Array> {
		for (let left = n; left > 0; ) {
			const chunk = await this.next();
			if (!chunk) throw interrupted();
			if (chunk.length > left) {
				this.unread(chunk.subarray(left));
				yield chunk.subarray(0, left);
				return;
			}
			left -= chunk.length;
			yield chunk;
		}
	}

	async readExactly(n: number): Promise<Uint8Array> {
		const parts: Uint8Array[] = [];
		for await (const chunk of this.take(n)) parts.push(chunk);
		return concat(parts);
	}

	/** The bytes before `needle` (consumed along with it), at most `limit` of them. */
	async readUntil(needle: Uint8Array, limit: number, what: string): Promise<Uint8Array> {
		let buf: Uint8Array = new Uint8Array(0);
		for (;;) {
			const at = indexOf(buf, needle);
			if (at !== -1) {
				this.unread(buf.subarray(at + needle.length));
				return buf.subarray(0, at);
			}
			if (buf.length > limit + needle.length) throw malformed(`${what} too long`);
			const chunk = await this.next();
			if (!chunk) throw malformed(`${what} never ended`);
			buf = concat([buf, chunk]);
		}
	}
}

function concat(parts: Uint8Array[]): Uint8Array {
	if (parts.length === 1) return parts[0]!;
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
	const first = needle[0];
	const last = hay.length - needle.length;
	for (let i = hay.indexOf(first!); i !== -1 && i <= last; i = hay.indexOf(first!, i + 1)) {
		let j = 1;
		while (j < needle.length && hay[i + j] === needle[j]) j++;
		if (j === needle.length) return i;
	}
	return -1;
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
