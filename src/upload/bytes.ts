/**
 * A reader over a byte stream that can look ahead and put bytes back: the tool
 * the upload parsers are built on. It knows nothing of HTTP; its failures are
 * ByteStreamErrors, which the caller turns into answers.
 */

export type ByteStreamFailure =
	/** The stream ended before the bytes asked for. */
	| "ended"
	/** The stream itself failed (the client went away). */
	| "failed"
	/** No byte arrived for the reader's idle bound; the stream is cancelled. */
	| "idle"
	/** A delimiter was not found within the allowed number of bytes. */
	| "too_long";

export class ByteStreamError extends Error {
	constructor(
		readonly failure: ByteStreamFailure,
		message: string,
	) {
		super(message);
		this.name = "ByteStreamError";
	}
}

export class ByteReader {
	readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
	readonly #pushedBack: Uint8Array[] = [];
	readonly #idleMs: number;
	readonly #stop: AbortSignal | undefined;
	/** Bytes handed out so far. */
	consumed = 0;

	/**
	 * `idleMs`: how long a read may wait for the next bytes before the stream is given up ("idle").
	 * `stop`: once aborted, the next read fails with its reason (the upload was refused meanwhile).
	 */
	constructor(
		stream: ReadableStream<Uint8Array>,
		{ idleMs = Number.POSITIVE_INFINITY, stop }: { idleMs?: number; stop?: AbortSignal } = {},
	) {
		this.#reader = stream.getReader();
		this.#idleMs = idleMs;
		this.#stop = stop;
	}

	/** The next chunk, or null at the end of the stream. */
	async next(): Promise<Uint8Array | null> {
		let chunk = this.#pushedBack.shift();
		if (!chunk) {
			const read = await this.#read();
			if (read.done) return null;
			chunk = read.value;
		}
		this.consumed += chunk.length;
		return chunk;
	}

	/** One read of the stream, within the idle bound; none once stopped (checked between reads, as chunks arrive). */
	async #read(): Promise<ReadableStreamReadResult<Uint8Array>> {
		this.#stop?.throwIfAborted();
		let timer: ReturnType<typeof setTimeout> | undefined;
		const idle = new Promise<never>((_, reject) => {
			if (Number.isFinite(this.#idleMs)) {
				timer = setTimeout(() => reject(new ByteStreamError("idle", `no bytes for ${this.#idleMs / 1000} s`)), this.#idleMs);
			}
		});
		try {
			return await Promise.race([
				this.#reader.read().catch((err: unknown) => {
					throw new ByteStreamError("failed", `the stream failed: ${err instanceof Error ? err.message : String(err)}`);
				}),
				idle,
			]);
		} catch (err) {
			// A stalled client is not waited for any longer: what it might still send is refused.
			if (err instanceof ByteStreamError && err.failure === "idle") this.#reader.cancel(err).catch(() => {});
			throw err;
		} finally {
			if (timer !== undefined) clearTimeout(timer);
		}
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
			if (!chunk) throw new ByteStreamError("ended", `the stream ended ${left} bytes early`);
			if (chunk.length > left) {
				this.unread(chunk.subarray(left));
				yield chunk.subarray(0, left);
				return;
			}
			left -= chunk.length;
			yield chunk;
		}
	}

	/**
	 * The bytes before `needle`, as they arrive (the needle is consumed, not yielded); the stream
	 * ending first is "ended". At most `needle.length - 1` bytes are held back at a time.
	 */
	async *upTo(needle: Uint8Array): AsyncGenerator<Uint8Array> {
		let carry: Uint8Array = new Uint8Array(0);
		for (;;) {
			const chunk = await this.next();
			if (!chunk) throw new ByteStreamError("ended", "the stream ended before the delimiter");
			const window = carry.length > 0 ? concat([carry, chunk]) : chunk;
			const at = indexOf(window, needle);
			if (at !== -1) {
				this.unread(window.subarray(at + needle.length));
				if (at > 0) yield window.subarray(0, at);
				return;
			}
			const keep = Math.min(window.length, needle.length - 1);
			if (window.length > keep) yield window.subarray(0, window.length - keep);
			carry = window.subarray(window.length - keep);
		}
	}

	/** Everything left, as it arrives. */
	async *rest(): AsyncGenerator<Uint8Array> {
		for (let chunk = await this.next(); chunk; chunk = await this.next()) yield chunk;
	}

	async readExactly(n: number): Promise<Uint8Array> {
		const parts: Uint8Array[] = [];
		for await (const chunk of this.take(n)) parts.push(chunk);
		return concat(parts);
	}

	/** The bytes before `needle` (consumed along with it), at most `limit` of them. */
	async readUntil(needle: Uint8Array, limit: number): Promise<Uint8Array> {
		let buf: Uint8Array = new Uint8Array(0);
		for (;;) {
			const at = indexOf(buf, needle);
			if (at !== -1 && at <= limit) {
				this.unread(buf.subarray(at + needle.length));
				return buf.subarray(0, at);
			}
			if (buf.length > limit + needle.length || at > limit) {
				throw new ByteStreamError("too_long", `no delimiter within ${limit} bytes`);
			}
			const chunk = await this.next();
			if (!chunk) throw new ByteStreamError("ended", "the stream ended before the delimiter");
			buf = concat([buf, chunk]);
		}
	}

	/** Lets go of the stream, so that what is left of it can be read (or drained) elsewhere. */
	release(): void {
		this.#reader.releaseLock();
	}

	/** True when nothing is left. */
	async atEnd(): Promise<boolean> {
		const chunk = await this.next();
		if (!chunk) return true;
		this.unread(chunk);
		return false;
	}
}

export function concat(parts: Uint8Array[]): Uint8Array {
	if (parts.length === 1) return parts[0]!;
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}

export function indexOf(hay: Uint8Array, needle: Uint8Array): number {
	const first = needle[0];
	const last = hay.length - needle.length;
	for (let i = hay.indexOf(first!); i !== -1 && i <= last; i = hay.indexOf(first!, i + 1)) {
		let j = 1;
		while (j < needle.length && hay[i + j] === needle[j]) j++;
		if (j === needle.length) return i;
	}
	return -1;
}

export const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
