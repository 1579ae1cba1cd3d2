/**
 * The upload size policy, for every path that takes an original (POST /jobs raw or as a form,
 * tus creation, the bytes counted as they stream): the most bytes an upload may have
 * (MAX_UPLOAD_BYTES; a form that and its framing), and the one 413 that says so — from a declared
 * length before a byte is read, or from the count once it passes the limit.
 */
import { ApiError } from "../http/errors";

/** Room for a form's framing and text fields beside the file: the most a multipart body may exceed MAX_UPLOAD_BYTES by. */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** The most bytes a body may have: the file's limit, and for a form its framing too. */
export const mostBytes = (maxBytes: number, { multipart = false } = {}) =>
	multipart ? maxBytes + MULTIPART_OVERHEAD_BYTES : maxBytes;

/** The 413: `what` is over `limit` bytes (`headers`: what a protocol adds, tus's Tus-Max-Size). */
export const tooLarge = (what: string, limit: number, headers?: Record<string, string>) =>
	new ApiError(413, "payload_too_large", `${what}; the limit is ${limit} bytes.`, { limit }, headers);

/** Refuses a body by the length it declares (Content-Length, Upload-Length), before a byte is read. */
export function refuseDeclared(declared: number | null, limit: number, what: string, headers?: Record<string, string>): void {
	if (declared !== null && declared > limit) throw tooLarge(`${what} is ${declared} bytes`, limit, headers);
}

/** Counts bytes as they stream, refusing the chunk that takes them past `limit`. */
export class ByteCount {
	bytes = 0;

	constructor(readonly limit: number) {}

	add(n: number): void {
		this.bytes += n;
		if (this.bytes > this.limit) throw tooLarge(`The image is over ${this.limit} bytes`, this.limit);
	}
}
