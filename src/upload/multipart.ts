/**
 * A streaming multipart/form-data reader for one upload: text fields first,
 * then one `file` part, which must be the last (its length must be known before
 * R2 sees it: the body's length less what came before it and the closing
 * delimiter). Every part of the framing is bounded, so a body cannot make the
 * Worker hold more than a few kilobytes of it.
 */
import { type ByteReader, ByteStreamError, concat, equal, indexOf } from "./bytes";

export interface MultipartLimits {
	/** Bytes before the first delimiter. */
	maxPreambleBytes: number;
	/** Bytes of one part's headers. */
	maxHeaderBytes: number;
	/** Bytes of one text field's value. */
	maxFieldBytes: number;
	/** Text fields before `file`. */
	maxFields: number;
}

export const MULTIPART_LIMITS: MultipartLimits = {
	maxPreambleBytes: 1024,
	maxHeaderBytes: 4 * 1024,
	maxFieldBytes: 4 * 1024,
	maxFields: 16,
};

export type MultipartFailure = "malformed" | "no_file" | "too_many_fields" | "field_too_long" | "file_not_last";

export class MultipartError extends Error {
	constructor(
		readonly failure: MultipartFailure,
		message: string,
	) {
		super(message);
		this.name = "MultipartError";
	}
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const CRLF = enc.encode("\r\n");
const HEADER_END = enc.encode("\r\n\r\n");

/** The boundary named by a multipart/form-data Content-Type, or null. */
export function multipartBoundary(contentType: string): string | null {
	// RFC 2046: 1-70 characters, quoted if they include some; nothing may follow but another parameter.
	const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(contentType);
	return m?.[1] ?? m?.[2] ?? null;
}

/** A multipart body read up to the first byte of its `file` part. */
export class MultipartUpload {
	private constructor(
		readonly fields: Record<string, string>,
		readonly delimiter: Uint8Array,
		readonly closing: Uint8Array,
	) {}

	/** Reads the text fields before `file`; `body` is left at the file's first byte. */
	static async open(body: ByteReader, boundary: string, limits: MultipartLimits = MULTIPART_LIMITS): Promise<MultipartUpload> {
		const delimiter = enc.encode(`\r\n--${boundary}`);
		const closing = enc.encode(`\r\n--${boundary}--\r\n`);
		const fields: Record<string, string> = {};
		await framing(() => body.readUntil(delimiter.subarray(2), limits.maxPreambleBytes), "the preamble");
		for (;;) {
			const next = await framing(() => body.readExactly(2), "a delimiter");
			if (next[0] === 0x2d && next[1] === 0x2d) throw new MultipartError("no_file", "the body has no `file` part");
			if (!equal(next, CRLF)) throw new MultipartError("malformed", "a delimiter is not followed by CRLF");
			const headers = dec.decode(await framing(() => body.readUntil(HEADER_END, limits.maxHeaderBytes), "a part's headers"));
			const name = /(?:^|\r\n)content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(headers)?.[1];
			if (name === undefined) throw new MultipartError("malformed", "a part has no Content-Disposition name");
			if (name === "file") return new MultipartUpload(fields, delimiter, closing);
			if (Object.keys(fields).length >= limits.maxFields) {
				throw new MultipartError("too_many_fields", `more than ${limits.maxFields} fields before \`file\``);
			}
			const value = await framing(
				() =>
					body.readUntil(delimiter, limits.maxFieldBytes).catch((err: unknown) => {
						if (err instanceof ByteStreamError && err.failure === "too_long") {
							throw new MultipartError("field_too_long", `field "${name}" is too long`);
						}
						throw err;
					}),
				`field "${name}"`,
			);
			fields[name] = dec.decode(value);
		}
	}

	/** How long the file is in a body of `length` bytes, once the reader stands at its first byte. */
	fileLength(length: number, consumed: number): number {
		return length - consumed - this.closing.length;
	}

	/** Refuses the body at once if the start of the file, `head`, already holds a delimiter. */
	checkHead(head: Uint8Array): void {
		if (indexOf(head, this.delimiter) !== -1) throw this.#notLast();
	}

	#notLast(): MultipartError {
		return new MultipartError("file_not_last", "`file` must be the last part (send other fields before it)");
	}

	/** Yields the file's `bytes` bytes; fails if a delimiter shows up inside them or the body does not end right after. */
	async *file(body: ByteReader, bytes: number): AsyncGenerator<Uint8Array> {
		let carry: Uint8Array = new Uint8Array(0);
		for await (const chunk of body.take(bytes)) {
			const window = concat([carry, chunk]);
			if (indexOf(window, this.delimiter) !== -1) throw this.#notLast();
			carry = window.subarray(Math.max(0, window.length - this.delimiter.length + 1));
			yield chunk;
		}
		const tail = await body.readExactly(this.closing.length);
		if (!equal(tail, this.closing) || !(await body.atEnd())) throw this.#notLast();
	}
}

/** A framing read; a body that ends inside the framing is malformed, not interrupted. */
async function framing<T>(read: () => Promise<T>, what: string): Promise<T> {
	try {
		return await read();
	} catch (err) {
		if (err instanceof ByteStreamError && err.failure === "ended")
			throw new MultipartError("malformed", `the body ended inside ${what}`);
		if (err instanceof ByteStreamError && err.failure === "too_long")
			throw new MultipartError("malformed", `${what} is too long`);
		throw err;
	}
}
