import type { Job, UploadState } from "../base/contracts";
import { count } from "../base/metering";
import { SqliteObject } from "../base/sql";
import { originalKey } from "../base/storage";
import { ApiError, type Problem } from "../http/errors";
import { makeJob } from "../jobs/make";
import { ownerStub, slugClaim } from "../objects";
import { concat } from "../upload/bytes";
import { HEAD_BYTES, ingestFile, inspectHead, type UploadLimits } from "../upload/ingest";
import { PART_BYTES } from "../upload/r2-writer";
import { beyondLength, offsetMismatch, uploadLocked, uploadNotFound } from "./protocol";
import { type Facts, factsColumns, gone, SCHEMA, settled, toState, type UploadRow } from "./record";

/** What the Worker knows of a new upload once its creation request passed every check. */
export interface NewUpload
	extends Pick<UploadState, "id" | "ownerId" | "length" | "metadata" | "slug" | "callbackUrl" | "filename" | "traceId"> {
	/** The API key that made it: its webhook secrets sign the job's events. */
	keyHash: string | null;
	/** The limits in force at creation: the whole upload is held to them. */
	limits: UploadLimits;
	/** How long an unfinished upload lives after its last bytes; a finished one is remembered as long. */
	ttlMs: number;
}

/** One slice of a PATCH body; the first names the offset the client gave, the last lets go of the upload. */
export interface Slice {
	token: string;
	/** Upload-Offset, on a PATCH's first slice; null on the slices after it. */
	offset: number | null;
	bytes: Uint8Array;
	end: boolean;
}

/** What a change of the upload came to: the upload (and its job, once made), or the problem that refused it. */
export type Answer = { upload: UploadState; job: Job | null } | { problem: Problem };

/** The most bytes one slice carries: a row of `pending` (SQLite rows hold at most 2 MB). */
export const SLICE_BYTES = 1024 * 1024;

/** Enough of a file to tell its type (an AVIF's or HEIC's brands included), checked before HEAD_BYTES are in. */
const SNIFF_BYTES = 1024;

/** The longest HEAD waits for a PATCH under way to end (UploadObject.get). */
const SETTLE_MS = 3000;

/** How long a gone upload answers 410 before it is forgotten (404). */
const TOMBSTONE_MS = 24 * 60 * 60_000;

/** How soon a completion cut short (R2 or the job's object unreachable) is tried again. */
const FINISH_RETRY_MS = 30_000;

/**
 * One resumable (tus) upload, in its own SQLite object named by its id: the id of the job it
 * becomes. Bytes arrive in slices of at most SLICE_BYTES (the Worker cuts each PATCH body into
 * them) and are kept as they arrive: in this object's SQLite (`pending`, a row a slice) until
 * PART_BYTES of them make an R2 part of the original's multipart upload. The file's first bytes
 * are checked as POST /jobs checks them, as they come (its type from SNIFF_BYTES, its size and
 * scans from HEAD_BYTES); a refused file leaves nothing. The slice with the last byte goes to R2
 * with what is pending, the stored file is read back to be hashed and checked to its end, and the
 * job is made. One PATCH at a time: a PATCH's first slice takes the upload, its last lets go.
 * Calls that change the upload run one after another (`#serial`).
 */
export class UploadObject extends SqliteObject {
	/** The PATCH that holds the upload, until its last slice or until `until` passes (its Worker died). */
	#holder: { token: string; until: number } | null = null;
	#queue: Promise<unknown> = Promise.resolve();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, SCHEMA);
	}

	/** Records a new upload; calling it again returns the stored one. */
	async create(input: NewUpload): Promise<UploadState> {
		const existing = this.#row();
		if (existing) return toState(existing);
		this.schema.ensure();
		const now = Date.now();
		this.sql.exec(
			`INSERT INTO upload (id, owner_id, key_hash, status, length, received, metadata, slug, callback_url, filename, trace_id,
			   limits, ttl_ms, created_at, updated_at, expires_at) VALUES (?, ?, ?, 'receiving', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			input.id,
			input.ownerId,
			input.keyHash,
			input.length,
			input.metadata,
			input.slug,
			input.callbackUrl,
			input.filename,
			input.traceId,
			JSON.stringify(input.limits),
			input.ttlMs,
			now,
			now,
			now + input.ttlMs,
		);
		await this.ctx.storage.setAlarm(now + input.ttlMs);
		return toState(this.#row()!);
	}

	/**
	 * The upload, or null if this object has none (never had, or forgot it). With `settled`, once
	 * no PATCH holds it, waiting SETTLE_MS at most: a client whose connection broke asks for the
	 * offset at once, while its last PATCH is still keeping the bytes that came.
	 */
	async get({ settled = false } = {}): Promise<UploadState | null> {
		const deadline = Date.now() + SETTLE_MS;
		while (settled && this.#holder && this.#holder.until > Date.now() && Date.now() < deadline) await scheduler.wait(20);
		const row = this.#row();
		return row && toState(row);
	}

	/** Keeps one slice of a PATCH; the slice with the last byte finishes the upload and answers with its job. */
	append(ownerId: string, slice: Slice): Promise<Answer> {
		return this.#serial(async () => {
			try {
				return await this.#append(ownerId, slice);
			} catch (err) {
				if (err instanceof ApiError) return { problem: err.toProblem() };
				// R2 or SQLite failed: the PATCH ends here, and the next may go on at once.
				if (this.#holder?.token === slice.token) this.#holder = null;
				throw err;
			}
		});
	}

	/** tus termination: an unfinished upload goes, bytes and all (410 from then on). */
	terminate(ownerId: string): Promise<Answer> {
		return this.#serial(async () => {
			const row = this.#row();
			if (!row || row.owner_id !== ownerId) return { problem: uploadNotFound(this.#id()).toProblem() };
			if (row.status !== "receiving") return { problem: settled(row).toProblem() };
			await this.#giveUp(row, { status: 410, code: "terminated", detail: "Its owner terminated it." });
			return { upload: toState(this.#row()!), job: null };
		});
	}

	/** An unfinished upload expires; a completion cut short is tried again; a settled upload is forgotten in time. */
	override async alarm(): Promise<void> {
		count("do alarm UploadObject");
		await this.#serial(async () => {
			const row = this.#row();
			if (!row) return;
			const now = Date.now();
			if (row.status === "finishing") {
				await this.ctx.storage.setAlarm(now + FINISH_RETRY_MS);
				await this.#finish(row, new Uint8Array(0), null);
				return;
			}
			const until = Math.max(row.expires_at, row.status === "receiving" ? (this.#holder?.until ?? 0) : 0);
			if (now < until) return void (await this.ctx.storage.setAlarm(until));
			if (row.status === "receiving") {
				const detail = `It was not finished by ${new Date(row.expires_at).toISOString()}; nothing of it was kept.`;
				return void (await this.#giveUp(row, { status: 410, code: "expired", detail }));
			}
			// A gone upload's cleanup is done again (in case a step of it failed), then it is forgotten.
			if (row.status === "gone") await this.#cleanUp(row);
			await this.schema.dropAll(this.ctx.storage);
		});
	}

	async #append(ownerId: string, slice: Slice): Promise<Answer> {
		let row = this.#row();
		if (!row || row.owner_id !== ownerId) throw uploadNotFound(this.#id());
		if (row.status === "gone") throw gone(row);
		const now = Date.now();
		const limits = JSON.parse(row.limits) as UploadLimits;
		if (slice.offset !== null) {
			// A PATCH's first slice: the upload must be free, and the offsets agree.
			if (this.#holder && this.#holder.token !== slice.token && this.#holder.until > now) throw uploadLocked();
			if (slice.offset !== row.received) throw offsetMismatch(slice.offset, row.received);
			if (row.status !== "receiving") {
				if (slice.bytes.length > 0) throw beyondLength(row.length);
				return { upload: toState(row), job: null };
			}
		} else if (this.#holder?.token !== slice.token) {
			// This PATCH stalled long enough for another to take the upload over.
			throw uploadLocked();
		}
		const n = slice.bytes.length;
		const received = row.received + n;
		if (received > row.length) {
			this.#holder = null;
			throw beyondLength(row.length);
		}
		this.#holder = slice.end ? null : { token: slice.token, until: now + limits.idleSeconds * 1000 + 10_000 };
		// The file's first bytes, checked as they come, before any of this slice is kept: a refused file
		// is refused on its first PATCH, the upload goes and nothing of it stays. Its facts are kept once
		// HEAD_BYTES are in (or the whole of a smaller file).
		const headIn = received >= HEAD_BYTES || received === row.length;
		let facts: Facts | null = null;
		if (n > 0 && row.content_type === null && (headIn || received >= SNIFF_BYTES)) {
			try {
				const image = inspectHead(concat([this.#pending(), slice.bytes]).subarray(0, HEAD_BYTES), limits);
				if (headIn) facts = image;
			} catch (err) {
				if (err instanceof ApiError) await this.#giveUp(row, err.toProblem());
				throw err;
			}
		}
		if (received === row.length) return this.#finish(row, slice.bytes, facts);
		if (n > 0) {
			this.sql.exec("INSERT INTO pending (bytes) VALUES (?)", slice.bytes);
			this.#update(row, { received, updated_at: now, expires_at: now + row.ttl_ms, ...factsColumns(facts) });
			row = this.#row()!;
		}
		await this.#writeParts(row);
		return { upload: toState(this.#row()!), job: null };
	}

	/**
	 * Every full part of what is pending (and `tail`, bytes not kept yet) goes to R2 as a part of the
	 * original's multipart upload, made with the first part, and leaves `pending`; with `last`, what is
	 * left after them too, as the last part. A part's bytes leave `pending` once R2 has them.
	 */
	async #writeParts(row: UploadRow, tail: Uint8Array = new Uint8Array(0), last = false): Promise<void> {
		let bytes = concat([this.#pending(), tail]);
		const parts = JSON.parse(row.parts) as R2UploadedPart[];
		let uploadId = row.multipart_id;
		while (bytes.length >= PART_BYTES || (last && bytes.length > 0)) {
			const upload = uploadId
				? this.env.BUCKET.resumeMultipartUpload(originalKey(row.id), uploadId)
				: await this.env.BUCKET.createMultipartUpload(originalKey(row.id), {
						httpMetadata: { contentType: row.content_type ?? undefined },
					});
			uploadId = upload.uploadId;
			parts.push(await upload.uploadPart(parts.length + 1, bytes.subarray(0, PART_BYTES)));
			bytes = bytes.subarray(PART_BYTES);
			this.#update(row, { multipart_id: uploadId, parts: JSON.stringify(parts) });
			this.sql.exec("DELETE FROM pending");
			if (bytes.length > 0 && !last) this.sql.exec("INSERT INTO pending (bytes) VALUES (?)", bytes);
		}
	}

	/**
	 * The last bytes are here (`tail`, not kept yet): the original is made whole in R2 before the
	 * upload says it has them all (a failure here leaves the offset where it was: the client sends the
	 * last bytes again). Then it is read back to be hashed and checked to its end (as POST /jobs checks
	 * a body) and its job made; those steps the alarm does again if they are cut short.
	 */
	async #finish(row: UploadRow, tail: Uint8Array, facts: Facts | null): Promise<Answer> {
		this.#holder = null;
		const key = originalKey(row.id);
		if (row.status === "receiving") {
			const contentType = facts?.contentType ?? row.content_type ?? undefined;
			if (!row.multipart_id) {
				// Under 5 MiB kept, and at most a slice more: one ordinary object.
				await this.env.BUCKET.put(key, concat([this.#pending(), tail]), { httpMetadata: { contentType } });
			} else if ((await this.env.BUCKET.head(key))?.size !== row.length) {
				// (A completion whose answer was lost finds the object whole.)
				await this.#writeParts(row, tail, true);
				const parts = JSON.parse(this.#row()!.parts) as R2UploadedPart[];
				await this.env.BUCKET.resumeMultipartUpload(key, row.multipart_id).complete(parts);
			}
			const now = Date.now();
			this.#update(row, { status: "finishing", received: row.length, updated_at: now, ...factsColumns(facts) });
			this.sql.exec("DELETE FROM pending");
			await this.ctx.storage.setAlarm(now + FINISH_RETRY_MS);
			row = this.#row()!;
		}
		const original = await this.env.BUCKET.get(key);
		if (!original) throw new Error(`upload ${row.id}: its original is not in R2 after completion`);
		const limits = JSON.parse(row.limits) as UploadLimits;
		let file: Awaited<ReturnType<typeof ingestFile>>;
		try {
			file = await ingestFile(original.body, row.length, null, limits);
		} catch (err) {
			if (!(err instanceof ApiError)) throw err;
			await this.#giveUp(row, err.toProblem());
			return { problem: err.toProblem() };
		}
		const job = await makeJob(this.env, this.ctx, {
			id: row.id,
			ownerId: row.owner_id,
			keyHash: row.key_hash,
			callbackUrl: row.callback_url,
			sha256: file.sha256,
			slug: row.slug,
			traceId: row.trace_id,
			original: { contentType: file.contentType, bytes: file.bytes, width: file.width, height: file.height },
		});
		const now = Date.now();
		this.#update(row, { status: "finished", updated_at: now, expires_at: now + row.ttl_ms });
		await this.ctx.storage.setAlarm(now + row.ttl_ms);
		return { upload: toState(this.#row()!), job };
	}

	/** The upload goes: nothing of its bytes stays, its place in flight and its slug are free; it answers 410 for a day. */
	async #giveUp(row: UploadRow, why: NonNullable<UploadState["problem"]>): Promise<void> {
		const now = Date.now();
		this.#holder = null;
		const problem = JSON.stringify({ status: why.status, code: why.code, detail: why.detail });
		this.#update(row, { status: "gone", problem, updated_at: now, expires_at: now + TOMBSTONE_MS });
		this.sql.exec("DELETE FROM pending");
		await this.ctx.storage.setAlarm(now + TOMBSTONE_MS);
		await this.#cleanUp(row);
	}

	/** What a gone upload held outside this object, let go (each step may be done again). */
	async #cleanUp(row: UploadRow): Promise<void> {
		const key = originalKey(row.id);
		if (row.multipart_id) {
			// An upload completed or aborted already cannot be aborted again: nothing to do then.
			await this.env.BUCKET.resumeMultipartUpload(key, row.multipart_id)
				.abort()
				.catch(() => {});
		}
		await this.env.BUCKET.delete(key);
		await ownerStub(this.env, row.owner_id).release(row.id);
		// No job was made (a gone upload never makes one), so its slug can go back.
		if (row.slug !== row.id) await slugClaim(this.env, row.slug).release(row.id);
	}

	/** Sets `columns` of the upload's row, in one statement: one row written. */
	#update(row: UploadRow, columns: Partial<UploadRow>): void {
		const names = Object.keys(columns).filter((name) => name in row);
		this.sql.exec(
			`UPDATE upload SET ${names.map((name) => `${name} = ?`).join(", ")}`,
			...names.map((name) => columns[name as keyof UploadRow] ?? null),
		);
	}

	/** The bytes waiting for a part, in order. */
	#pending(): Uint8Array {
		const rows = this.sql.exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM pending ORDER BY seq").toArray();
		return concat(rows.map((r) => new Uint8Array(r.bytes)));
	}

	#row(): UploadRow | null {
		if (!this.schema.exists) return null;
		return this.sql.exec<UploadRow>("SELECT * FROM upload").toArray()[0] ?? null;
	}

	#id(): string {
		return this.ctx.id.name ?? this.ctx.id.toString();
	}

	/** Runs `work` after every call before it has ended: one change of the upload at a time. */
	#serial<T>(work: () => Promise<T>): Promise<T> {
		const run = this.#queue.then(work, work);
		this.#queue = run.catch(() => {});
		return run;
	}
}
