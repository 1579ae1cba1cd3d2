import { promote } from "../access/limits";
import type { Job, UploadState } from "../base/contracts";
import { count } from "../base/metering";
import { SqliteObject } from "../base/sql";
import { originalKey } from "../base/storage";
import { ApiError, type Problem } from "../http/errors";
import { makeJob } from "../jobs/make";
import { ownerStub, slugClaim } from "../objects";
import { concat } from "../upload/bytes";
import { HEAD_BYTES, ingestFile, inspectHead, type UploadLimits } from "../upload/ingest";
import { OriginalParts, PART_BYTES } from "../upload/originals";
import { PendingBytes } from "./pending";
import { beyondLength, offsetMismatch, uploadLocked, uploadNotFound } from "./protocol";
import { factsColumns, finishedRefusal, goneRefusal, type HeadFacts, SCHEMA, toState, type UploadRow } from "./record";

/** What the Worker knows of a new upload once its creation request passed every check. */
export interface NewUpload
	extends Pick<UploadState, "id" | "ownerId" | "length" | "metadata" | "slug" | "callbackUrl" | "filename" | "traceId"> {
	/** The API key that made it: its webhook secrets sign the job's events. */
	keyHash: string | null;
	/** The limits in force at creation: the whole upload is held to them. */
	limits: UploadLimits;
	/** How long an unfinished upload lives after its last bytes; a finished one is remembered as long. */
	ttlMs: number;
	/** How long it lives before its first byte: a client that never sends one holds nothing for long. */
	startMs: number;
}

/**
 * One slice of a PATCH body. The first, with no bytes, names the offset the client gave and
 * takes the upload; the last (`end`) lets go of it.
 */
export interface Slice {
	token: string;
	/** Upload-Offset, on a PATCH's first slice; null on the slices after it. */
	offset: number | null;
	/** The body's Content-Length, on a PATCH's first slice, when the client declared one. */
	declared?: number | null;
	bytes: Uint8Array;
	end: boolean;
}

/** What a change of the upload came to: the upload (and its job, once made), or the problem that refused it. */
export type Answer = { upload: UploadState; job: Job | null } | { problem: Problem };

/** Enough of a file to tell its type (an AVIF's or HEIC's brands included), checked before HEAD_BYTES are in. */
const SNIFF_BYTES = 1024;

/** The longest HEAD waits for a PATCH under way to end (UploadObject.get). */
const SETTLE_MS = 3000;

/** How long past its idle limit a PATCH keeps the upload: its Worker may still be telling us how it ended. */
const LOCK_GRACE_MS = 10_000;

/** How long a gone upload answers 410 before it is forgotten (404). */
const TOMBSTONE_MS = 24 * 60 * 60_000;

/** How soon a completion cut short (R2 or the job's object unreachable) is tried again. */
const FINISH_RETRY_MS = 30_000;

/**
 * One resumable (tus) upload, in its own SQLite object named by its id: the id of the job it
 * becomes. Bytes arrive in slices of at most SLICE_BYTES (the Worker cuts each PATCH body into
 * them) and are kept as they arrive: in this object's SQLite (`pending`, a row a slice) until
 * a PATCH has ended and PART_BYTES of them make an R2 part of the original's multipart upload.
 * The file's first bytes are checked as POST /jobs checks them, as they come (its type from
 * SNIFF_BYTES, its size and scans from HEAD_BYTES); a refused file leaves nothing. When the PATCH
 * that brought the last byte ends, what is pending goes to R2, the stored file is read back to be
 * hashed and checked to its end, and the job is made.
 *
 * One PATCH at a time: a PATCH's first slice takes the upload (the lock is in the row, so it
 * outlives this object's eviction between slices), its last lets go; a PATCH whose Worker died
 * loses it LOCK_GRACE_MS after its idle limit. A PATCH that would go past Upload-Length is
 * refused whole: at its start when it declares its length, else when the excess comes (its bytes
 * are taken back: parts are written only from PATCHes that have ended). Calls that change the
 * upload run one after another (`#serial`).
 */
export class UploadObject extends SqliteObject {
	#queue: Promise<unknown> = Promise.resolve();
	readonly #pending: PendingBytes;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, SCHEMA);
		this.#pending = new PendingBytes(this.sql);
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
			now + input.startMs,
		);
		await this.ctx.storage.setAlarm(now + input.startMs);
		return toState(this.#row()!);
	}

	/**
	 * The upload, or null if this object has none (never had, or forgot it). With `settled`, once
	 * no PATCH holds it, waiting SETTLE_MS at most: a client whose connection broke asks for the
	 * offset at once, while its last PATCH is still keeping the bytes that came.
	 */
	async get({ settled = false } = {}): Promise<UploadState | null> {
		const deadline = Date.now() + SETTLE_MS;
		let row = this.#row();
		while (settled && row && lockedBy(row, null) && Date.now() < deadline) {
			await scheduler.wait(20);
			row = this.#row();
		}
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
				const row = this.#row();
				if (row?.lock_token === slice.token) this.#update(row, UNLOCKED);
				throw err;
			}
		});
	}

	/** tus termination: an unfinished upload goes, bytes and all (410 from then on). */
	terminate(ownerId: string): Promise<Answer> {
		return this.#serial(async () => {
			const row = this.#row();
			if (!row || row.owner_id !== ownerId) return { problem: uploadNotFound(this.#id()).toProblem() };
			if (row.status !== "receiving") return { problem: finishedRefusal(row).toProblem() };
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
			const until = Math.max(row.expires_at, row.status === "receiving" ? (row.lock_until ?? 0) : 0);
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
		const row = this.#row();
		if (!row || row.owner_id !== ownerId) throw uploadNotFound(this.#id());
		if (row.status === "gone") throw goneRefusal(row);
		const now = Date.now();
		const limits = JSON.parse(row.limits) as UploadLimits;
		if (slice.offset !== null) return this.#lock(row, slice, now, limits);
		// This PATCH stalled long enough for another to take the upload over.
		if (row.lock_token !== slice.token || row.status !== "receiving") throw uploadLocked();
		const n = slice.bytes.length;
		const received = row.received + n;
		if (received > row.length) {
			this.#takeBack(row);
			throw beyondLength(row.length);
		}
		// The file's first bytes, checked as they come, before any of this slice is kept: a refused file
		// is refused on its first PATCH, the upload goes and nothing of it stays. Its facts are kept once
		// HEAD_BYTES are in (or the whole of a smaller file).
		const headIn = received >= HEAD_BYTES || received === row.length;
		let facts: HeadFacts | null = null;
		if (n > 0 && row.content_type === null && (headIn || received >= SNIFF_BYTES)) {
			try {
				const image = inspectHead(concat([this.#pending.all(), slice.bytes]).subarray(0, HEAD_BYTES), limits);
				if (headIn) facts = image;
			} catch (err) {
				if (err instanceof ApiError) await this.#giveUp(row, err.toProblem());
				throw err;
			}
		}
		if (slice.end && received === row.length) {
			// A body that did not declare its length takes a job's place only now (one that did, at its start).
			if (!row.lock_promoted) {
				try {
					await promote(this.env, row.owner_id, row.id);
				} catch (err) {
					this.#takeBack(row);
					throw err;
				}
			}
			return this.#finish(row, slice.bytes, facts);
		}
		if (n > 0) this.#pending.add(slice.bytes);
		this.#update(row, {
			received,
			updated_at: now,
			...(n > 0 && { expires_at: now + row.ttl_ms }),
			...factsColumns(facts),
			...(slice.end ? UNLOCKED : { lock_until: now + holdMs(limits) }),
		});
		if (slice.end) await this.#writeParts(this.#row()!);
		return { upload: toState(this.#row()!), job: null };
	}

	/**
	 * A PATCH's first slice, before any of its bytes is read: the upload must be free, the offsets
	 * agree, and a declared length fit. A PATCH that declares the upload's last byte takes a job's
	 * place now, so a refusal (429) comes before its bytes. A PATCH of no bytes at the end of a
	 * finished upload (its last PATCH, sent again) is answered as the first was.
	 */
	async #lock(row: UploadRow, slice: Slice, now: number, limits: UploadLimits): Promise<Answer> {
		if (lockedBy(row, slice.token, now)) throw uploadLocked();
		if (slice.offset !== row.received) throw offsetMismatch(slice.offset!, row.received);
		const declared = slice.declared ?? null;
		if (declared !== null && row.received + declared > row.length) throw beyondLength(row.length);
		if (row.status !== "receiving") return { upload: toState(row), job: null };
		const last = declared !== null && row.received + declared === row.length;
		if (last) await promote(this.env, row.owner_id, row.id);
		const seq = this.#pending.lastSeq();
		this.#update(row, {
			lock_token: slice.token,
			lock_until: now + holdMs(limits),
			lock_offset: row.received,
			lock_seq: seq,
			lock_promoted: last ? 1 : 0,
		});
		return { upload: toState(this.#row()!), job: null };
	}

	/** The PATCH that holds the upload is refused whole: its bytes are taken back, and the upload is free. */
	#takeBack(row: UploadRow): void {
		const from = row.lock_offset ?? row.received;
		this.#pending.dropAfter(row.lock_seq ?? 0);
		// Facts first kept by this PATCH go with its bytes: the next PATCH's head is checked anew.
		const factsGo = from < Math.min(HEAD_BYTES, row.length);
		this.#update(row, {
			received: from,
			...UNLOCKED,
			...(factsGo && { content_type: null, width: null, height: null }),
		});
	}

	/**
	 * Every full part of what is pending (and `tail`, bytes not kept yet) goes to R2 as a part of the
	 * original's multipart upload, made with the first part; with `last`, what is left after them
	 * too, as the last part. A part's bytes leave `pending` once R2 has them; one part is in memory
	 * at a time.
	 */
	async #writeParts(row: UploadRow, tail: Uint8Array = new Uint8Array(0), last = false): Promise<void> {
		const parts = JSON.parse(row.parts) as R2UploadedPart[];
		const original = new OriginalParts(this.env.BUCKET, row.id);
		let uploadId = row.multipart_id;
		let left = this.#pending.size() + tail.length;
		while (left >= PART_BYTES || (last && left > 0)) {
			const size = Math.min(PART_BYTES, left);
			const front = this.#pending.front(size);
			const { bytes } = front;
			const fromTail = tail.subarray(0, size - bytes.length);
			tail = tail.subarray(fromTail.length);
			const written = await original.uploadPart(
				uploadId,
				parts.length + 1,
				concat([bytes, fromTail]),
				row.content_type ?? undefined,
			);
			uploadId = written.uploadId;
			parts.push(written.part);
			this.#update(row, { multipart_id: uploadId, parts: JSON.stringify(parts) });
			this.#pending.drop(front);
			left -= size;
		}
		if (!last) this.#pending.add(tail);
	}

	/**
	 * The last bytes are here (`tail`, not kept yet): the original is made whole in R2 before the
	 * upload says it has them all (a failure here leaves the offset where it was: the client sends the
	 * last bytes again). Then it is read back to be hashed and checked to its end (as POST /jobs checks
	 * a body) and its job made; those steps the alarm does again if they are cut short.
	 */
	async #finish(row: UploadRow, tail: Uint8Array, facts: HeadFacts | null): Promise<Answer> {
		const key = originalKey(row.id);
		const original = new OriginalParts(this.env.BUCKET, row.id);
		if (row.status === "receiving") {
			const contentType = facts?.contentType ?? row.content_type ?? undefined;
			if (!row.multipart_id && row.length <= PART_BYTES) {
				// One part's worth at most: one ordinary object.
				await original.putWhole(concat([this.#pending.all(), tail]), contentType);
			} else if (!row.multipart_id || !(await original.isWhole(row.length))) {
				// (A completion whose answer was lost finds the object whole.)
				await this.#writeParts(row, tail, true);
				const written = this.#row()!;
				await original.complete(written.multipart_id!, JSON.parse(written.parts) as R2UploadedPart[]);
			}
			const now = Date.now();
			this.#update(row, { status: "finishing", received: row.length, updated_at: now, ...factsColumns(facts), ...UNLOCKED });
			this.#pending.clear();
			await this.ctx.storage.setAlarm(now + FINISH_RETRY_MS);
			row = this.#row()!;
		}
		const stored = await this.env.BUCKET.get(key);
		if (!stored) throw new Error(`upload ${row.id}: its original is not in R2 after completion`);
		const limits = JSON.parse(row.limits) as UploadLimits;
		let file: Awaited<ReturnType<typeof ingestFile>>;
		try {
			file = await ingestFile(stored.body, row.length, null, limits);
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
		const problem = JSON.stringify({ status: why.status, code: why.code, detail: why.detail });
		this.#update(row, { status: "gone", problem, updated_at: now, expires_at: now + TOMBSTONE_MS, ...UNLOCKED });
		this.#pending.clear();
		await this.ctx.storage.setAlarm(now + TOMBSTONE_MS);
		await this.#cleanUp(row);
	}

	/** What a gone upload held outside this object, let go (each step may be done again). */
	async #cleanUp(row: UploadRow): Promise<void> {
		await new OriginalParts(this.env.BUCKET, row.id).discard(row.multipart_id);
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

/** The lock's columns when no PATCH holds the upload. */
const UNLOCKED = {
	lock_token: null,
	lock_until: null,
	lock_offset: null,
	lock_seq: null,
	lock_promoted: null,
} satisfies Partial<UploadRow>;

/** How long a PATCH holds the upload after its latest slice. */
const holdMs = (limits: UploadLimits) => limits.idleSeconds * 1000 + LOCK_GRACE_MS;

/** Whether a PATCH other than `token`'s (any, with null) holds the upload now. */
function lockedBy(row: UploadRow, token: string | null, now = Date.now()): boolean {
	return row.lock_token !== null && row.lock_token !== token && (row.lock_until ?? 0) > now;
}
