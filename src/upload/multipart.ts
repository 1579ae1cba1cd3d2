/**
 * A streaming multipart/form-data reader for one upload: one `file` part, and text fields before
 * it, after it, or both. The file's bytes are handed on as they arrive (its end is the next
 * delimiter: its length is known only then), and the fields after it are read once it has ended,
 * so they still decide what the upload becomes before anything is committed. Every part of the
 * framing is bounded, so a body cannot make the Worker hold more than a few kilobytes of it.
 */
import { type ByteReader, ByteStreamError, equal } from "./bytes";

export interface MultipartLimits {
	/** Bytes before the first delimiter. */
	maxPreambleBytes: number;
	/** Bytes of one part's headers. */
	maxHeaderBytes: number;
	/** Bytes of one text field's value. */
	maxFieldBytes: number;
	/** Text fields, before and after `file` together. */
	maxFields: number;
}

export const MULTIPART_LIMITS: MultipartLimits = {
	maxPreambleBytes: 1024,
	maxHeaderBytes: 4 * 1024,
	maxFieldBytes: 4 * 1024,
	maxFields: 16,
};

export type MultipartFailure = "malformed" | "no_file" | "too_many_fields" | "field_too_long";

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
const DASHES = enc.encode("--");
const HEADER_END = enc.encode("\r\n\r\n");

/** The boundary named by a multipart/form-data Content-Type, or null. */
export function multipartBoundary(contentType: string): string | null {
	// RFC 2046: 1-70 characters, quoted if they include some; nothing may follow but another parameter.
	const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(contentType);
	return m?.[1] ?? m?.[2] ?? null;
}

/** A multipart body, read up to the first byte of its `file` part; `file()` reads the rest. */
export class MultipartForm {
	/** Text fields: those before `file` once opened, and those after it once `file()` has ended. */
	readonly fields: Record<string, string> = {};
	readonly #delimiter: Uint8Array;

	private constructor(
		private readonly body: ByteReader,
		boundary: string,
		private readonly limits: MultipartLimits,
	) {
		this.#delimiter = enc.encode(`\r\n--${boundary}`);
	}

	/** Reads the text fields before `file`; the body is left at the file's first byte. */
	static async open(body: ByteReader, boundary: string, limits: MultipartLimits = MULTIPART_LIMITS): Promise<MultipartForm> {
		const form = new MultipartForm(body, boundary, limits);
		await framing(() => body.readUntil(form.#delimiter.subarray(2), limits.maxPreambleBytes), "the preamble");
		for (;;) {
			const name = await form.#nextPart();
			if (name === null) throw new MultipartError("no_file", "the body has no `file` part");
			if (name === "file") return form;
			await form.#readField(name);
		}
	}

	/**
	 * The file's bytes as they arrive, then the fields after it, to the closing delimiter and the
	 * end of the body. A second `file` part is malformed.
	 */
	async *file(): AsyncGenerator<Uint8Array> {
		try {
			yield* this.body.upTo(this.#delimiter);
		} catch (err) {
			if (err instanceof ByteStreamError && err.failure === "ended") {
				throw new MultipartError("malformed", "the body ended inside `file`");
			}
			throw err;
		}
		for (let name = await this.#nextPart(); name !== null; name = await this.#nextPart()) {
			if (name === "file") throw new MultipartError("malformed", "the form has more than one `file` part");
			await this.#readField(name);
		}
	}

	/**
	 * After a delimiter: the next part's name, its headers read; or null at the closing delimiter,
	 * after which only a final CRLF may come.
	 */
	async #nextPart(): Promise<string | null> {
		const { body, limits } = this;
		const next = await framing(() => body.readExactly(2), "a delimiter");
		if (equal(next, DASHES)) {
			const tail = await body.peek(3);
			if (!(tail.length === 0 || (tail.length === 2 && equal(tail, CRLF)))) {
				throw new MultipartError("malformed", "bytes follow the closing delimiter");
			}
			await body.readExactly(tail.length);
			return null;
		}
		if (!equal(next, CRLF)) throw new MultipartError("malformed", "a delimiter is not followed by CRLF");
		const headers = dec.decode(await framing(() => body.readUntil(HEADER_END, limits.maxHeaderBytes), "a part's headers"));
		const name = /(?:^|\r\n)content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(headers)?.[1];
		if (name === undefined) throw new MultipartError("malformed", "a part has no Content-Disposition name");
		return name;
	}

	/** A text field's value, to the next delimiter. */
	async #readField(name: string): Promise<void> {
		const { body, limits } = this;
		if (Object.keys(this.fields).length >= limits.maxFields) {
			throw new MultipartError("too_many_fields", `more than ${limits.maxFields} fields`);
		}
		const value = await framing(
			() =>
				body.readUntil(this.#delimiter, limits.maxFieldBytes).catch((err: unknown) => {
					if (err instanceof ByteStreamError && err.failure === "too_long") {
						throw new MultipartError("field_too_long", `field "${name}" is too long`);
					}
					throw err;
				}),
			`field "${name}"`,
		);
		this.fields[name] = dec.decode(value);
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
