/**
 * A resumable upload's storage in its UploadObject: version 1 of its tables, the row as SQLite
 * gives it, how a row becomes the UploadState contract, and the answers a row's state gives.
 */
import type { ImageType, JobId, OwnerId, Slug, UploadState, UploadStatus } from "../base/contracts";
import { ApiError } from "../http/errors";
import type { inspectHead } from "../upload/ingest";
import { uploadGone } from "./protocol";

/**
 * Version 1: the upload's row (its R2 parts written, as JSON, and the PATCH that holds it among its
 * columns), and the bytes waiting for a part.
 */
export const SCHEMA = [
	[
		`CREATE TABLE upload (
		id TEXT NOT NULL,
		owner_id TEXT NOT NULL,
		key_hash TEXT,
		status TEXT NOT NULL,
		length INTEGER NOT NULL,
		received INTEGER NOT NULL,
		metadata TEXT NOT NULL,
		slug TEXT NOT NULL,
		callback_url TEXT,
		filename TEXT,
		trace_id TEXT NOT NULL,
		limits TEXT NOT NULL,
		content_type TEXT,
		width INTEGER,
		height INTEGER,
		multipart_id TEXT,
		parts TEXT NOT NULL DEFAULT '[]',
		problem TEXT,
		lock_token TEXT,
		lock_until INTEGER,
		lock_offset INTEGER,
		lock_seq INTEGER,
		lock_promoted INTEGER,
		ttl_ms INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	)`,
		"CREATE TABLE pending (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL)",
	],
];

export type UploadRow = {
	id: JobId;
	owner_id: OwnerId;
	key_hash: string | null;
	status: UploadStatus;
	length: number;
	received: number;
	metadata: string;
	slug: Slug;
	callback_url: string | null;
	filename: string | null;
	trace_id: string;
	limits: string;
	content_type: ImageType | null;
	width: number | null;
	height: number | null;
	multipart_id: string | null;
	/** The R2 parts written so far: JSON of R2UploadedPart[] (at most MAX_UPLOAD_BYTES / 5 MiB of them). */
	parts: string;
	problem: string | null;
	/**
	 * The PATCH that holds the upload (a random token), until when, the offset and last pending row
	 * it found, and whether it took a job's place already (1: it declared the upload's last byte).
	 */
	lock_token: string | null;
	lock_until: number | null;
	lock_offset: number | null;
	lock_seq: number | null;
	lock_promoted: number | null;
	ttl_ms: number;
	created_at: number;
	updated_at: number;
	expires_at: number;
};

/** What the file's first bytes say of it (upload/ingest.ts, inspectHead): its type and size. */
export type HeadFacts = ReturnType<typeof inspectHead>;

/** The head's facts as the upload's columns, if there are any yet. */
export const factsColumns = (facts: HeadFacts | null): Partial<UploadRow> =>
	facts ? { content_type: facts.contentType, width: facts.width, height: facts.height } : {};

/** The refusal (410) of a change of an upload that has gone, saying why it went. */
export const goneRefusal = (row: UploadRow) => uploadGone(toState(row).problem);

/** The refusal of a change of an upload whose bytes are all in (it is a job now), or that has gone. */
export const finishedRefusal = (row: UploadRow) =>
	row.status === "gone"
		? goneRefusal(row)
		: new ApiError(409, "upload_finished", `The upload is finished: it is job ${row.id} (DELETE /jobs/${row.id} deletes it).`);

export function toState(row: UploadRow): UploadState {
	return {
		id: row.id,
		ownerId: row.owner_id,
		status: row.status,
		offset: row.received,
		length: row.length,
		metadata: row.metadata,
		slug: row.slug,
		callbackUrl: row.callback_url,
		filename: row.filename,
		traceId: row.trace_id,
		original: row.content_type && { contentType: row.content_type, width: row.width, height: row.height },
		problem: row.problem ? JSON.parse(row.problem) : null,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
		expiresAt: row.expires_at,
	};
}
