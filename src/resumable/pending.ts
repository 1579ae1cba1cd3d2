/**
 * A resumable upload's bytes that wait for an R2 part, in its object's SQLite table `pending`: a
 * row per slice of at most SLICE_BYTES (SQLite rows hold at most 2 MB), in the order they came.
 * The upload's object decides when bytes are added, taken back or made into a part.
 */
import { concat } from "../upload/bytes";

/** The most bytes one slice carries: a row of `pending`. */
export const SLICE_BYTES = 1024 * 1024;

/** The front of what is pending: its bytes, the last row wholly in them, and what is left of a row cut in two. */
export interface Front {
	bytes: Uint8Array;
	consumed: number | null;
	rest: { seq: number; bytes: Uint8Array } | null;
}

export class PendingBytes {
	constructor(private readonly sql: SqlStorage) {}

	/** Keeps `bytes` after what is pending, in rows of at most SLICE_BYTES. */
	add(bytes: Uint8Array): void {
		for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
			this.sql.exec("INSERT INTO pending (bytes) VALUES (?)", bytes.subarray(at, at + SLICE_BYTES));
		}
	}

	/** How many bytes are pending. */
	size(): number {
		return this.sql.exec<{ n: number }>("SELECT COALESCE(SUM(LENGTH(bytes)), 0) AS n FROM pending").one().n;
	}

	/** All of them, in order (read whole only while they are few: the file's head, or less than a part). */
	all(): Uint8Array {
		const rows = this.sql.exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM pending ORDER BY seq").toArray();
		return concat(rows.map((r) => new Uint8Array(r.bytes)));
	}

	/** The last row now: what a PATCH found, so that its own rows can be taken back (dropAfter). */
	lastSeq(): number {
		return this.sql.exec<{ seq: number }>("SELECT COALESCE(MAX(seq), 0) AS seq FROM pending").one().seq;
	}

	/** Takes back every row after `seq`. */
	dropAfter(seq: number): void {
		this.sql.exec("DELETE FROM pending WHERE seq > ?", seq);
	}

	clear(): void {
		this.sql.exec("DELETE FROM pending");
	}

	/** The first `size` pending bytes (or all of them, if fewer), read without removing them (drop does). */
	front(size: number): Front {
		const chunks: Uint8Array[] = [];
		let got = 0;
		let consumed: number | null = null;
		while (got < size) {
			const after: number = consumed ?? 0;
			const next = this.sql
				.exec<{ seq: number; bytes: ArrayBuffer }>("SELECT seq, bytes FROM pending WHERE seq > ? ORDER BY seq LIMIT 1", after)
				.toArray()[0];
			if (!next) break;
			const bytes = new Uint8Array(next.bytes);
			if (got + bytes.length > size) {
				chunks.push(bytes.subarray(0, size - got));
				return { bytes: concat(chunks), consumed, rest: { seq: next.seq, bytes: bytes.subarray(size - got) } };
			}
			chunks.push(bytes);
			got += bytes.length;
			consumed = next.seq;
		}
		return { bytes: concat(chunks), consumed, rest: null };
	}

	/** Removes a front once R2 has it: its whole rows, and the part of a row it cut. */
	drop({ consumed, rest }: Front): void {
		if (consumed !== null) this.sql.exec("DELETE FROM pending WHERE seq <= ?", consumed);
		if (rest) this.sql.exec("UPDATE pending SET bytes = ? WHERE seq = ?", rest.bytes, rest.seq);
	}
}
