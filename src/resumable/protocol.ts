/**
 * The tus 1.0 protocol's words (tus.io/protocols/resumable-upload): its version and extensions,
 * its headers, and Upload-Metadata, which carries what POST /jobs takes in its query string.
 */
import { z } from "zod";
import { UploadOptions, type UploadState } from "../base/contracts";
import { fromBase64 } from "../base/crypto";
import { ApiError } from "../http/errors";

export const TUS_VERSION = "1.0.0";

/**
 * What this server speaks beyond the core. Not `checksum`: a PATCH's bytes are kept as they
 * arrive (an interrupted one keeps all that reached us), so there is nothing to take back when a
 * checksum sent at its end disagrees. Not `creation-defer-length` or `concatenation`.
 */
export const TUS_EXTENSIONS = ["creation", "creation-with-upload", "termination", "expiration"] as const;

/** The only body type a PATCH (or a creation with upload) may have. */
export const OFFSET_OCTET_STREAM = "application/offset+octet-stream";

/** Request headers a browser may send, and response headers it may read (CORS). */
export const TUS_REQUEST_HEADERS = ["Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata"];
export const TUS_RESPONSE_HEADERS = [
	"Tus-Resumable",
	"Tus-Version",
	"Tus-Extension",
	"Tus-Max-Size",
	"Upload-Offset",
	"Upload-Length",
	"Upload-Metadata",
	"Upload-Expires",
];

/** What Upload-Metadata may say: the options of POST /jobs, and what the file was called. */
export const UploadMetadata = UploadOptions.extend({
	filename: z.string().max(255).optional().describe("The file's name on the client: kept, never trusted"),
	filetype: z.string().max(255).optional().describe("The type the client gives: the file's bytes decide"),
});
export type UploadMetadata = z.infer<typeof UploadMetadata>;

/** The most Upload-Metadata may hold: room for a callback URL and a long file name. */
export const MAX_METADATA_BYTES = 4096;

/**
 * Upload-Metadata: comma-separated `key base64(value)` pairs (a key alone means an empty value),
 * keys unique. Unknown keys are ignored, as the protocol expects; known ones are checked as
 * POST /jobs checks its query.
 */
export function parseMetadata(header: string | null): UploadMetadata {
	if (header === null || header.trim() === "") return {};
	if (header.length > MAX_METADATA_BYTES) {
		throw new ApiError(400, "invalid_parameter", `Upload-Metadata is over ${MAX_METADATA_BYTES} characters.`);
	}
	// A Map, not an object: a key such as `constructor` or `__proto__` is a key like any other.
	const pairs = new Map<string, string>();
	for (const pair of header.split(",")) {
		const match = /^\s*([^\s,]+)(?: ([A-Za-z0-9+/]*={0,2}))?\s*$/.exec(pair);
		if (!match?.[1]) throw new ApiError(400, "invalid_parameter", "Malformed Upload-Metadata: use `key base64value` pairs.");
		const [, key, encoded = ""] = match;
		if (pairs.has(key)) throw new ApiError(400, "invalid_parameter", `Upload-Metadata gives ${key} twice.`);
		pairs.set(key, decodeValue(key, encoded));
	}
	const known = Object.fromEntries(
		(["slug", "callback_url", "filename", "filetype"] as const).flatMap((name) => {
			const value = pairs.get(name);
			return value === undefined ? [] : [[name, value]];
		}),
	);
	const parsed = UploadMetadata.safeParse(known);
	if (!parsed.success) throw ApiError.invalid(parsed.error, "Upload-Metadata");
	return parsed.data;
}

function decodeValue(key: string, encoded: string): string {
	try {
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64(encoded));
	} catch {
		throw new ApiError(400, "invalid_parameter", `Upload-Metadata's ${key} is not base64 of UTF-8 text.`);
	}
}

/** Whether the request's body is of the one type a PATCH (and a creation with upload) may carry. */
export function isOffsetStream(req: Request): boolean {
	return (req.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase() === OFFSET_OCTET_STREAM;
}

/** The body's Content-Length, when the client declared one (a chunked body has none). */
export function declaredLength(req: Request): number | null {
	const raw = req.headers.get("Content-Length");
	return raw !== null && /^\d{1,16}$/.test(raw.trim()) ? Number(raw.trim()) : null;
}

/** A non-negative integer header (Upload-Length, Upload-Offset), or a 400 naming it. */
export function integerHeader(req: Request, name: string): number {
	const raw = req.headers.get(name);
	if (raw === null || !/^\d{1,16}$/.test(raw.trim())) {
		throw new ApiError(
			400,
			"invalid_parameter",
			`${name} must be a non-negative integer${raw === null ? "; it is missing" : ""}.`,
		);
	}
	return Number(raw.trim());
}

/** Every request but OPTIONS says which version it speaks; this server speaks one (412 otherwise). */
export function checkVersion(req: Request): void {
	const version = req.headers.get("Tus-Resumable");
	if (version !== TUS_VERSION) {
		throw new ApiError(
			412,
			"unsupported_version",
			version === null ? `Send Tus-Resumable: ${TUS_VERSION}.` : `This server speaks tus ${TUS_VERSION}, not ${version}.`,
			{ supported: [TUS_VERSION] },
			{ "Tus-Version": TUS_VERSION },
		);
	}
}

/** Upload-Expires is an HTTP date (RFC 9110). */
export const httpDate = (ms: number) => new Date(ms).toUTCString();

/** The answers the protocol gives about one upload. */
export const uploadNotFound = (id: string) => new ApiError(404, "not_found", `No upload with id "${id}".`);

export const uploadLocked = () =>
	new ApiError(
		423,
		"upload_locked",
		"Another PATCH of this upload is under way; send this one when it has ended.",
		{},
		{
			"Retry-After": "1",
		},
	);

export const offsetMismatch = (given: number, received: number) =>
	new ApiError(409, "offset_mismatch", `Upload-Offset is ${given}, but the upload has ${received} bytes: resume from there.`, {
		offset: received,
	});

export const beyondLength = (length: number) =>
	new ApiError(413, "payload_too_large", `The PATCH goes past the upload's Upload-Length, ${length} bytes.`, { limit: length });

/** The answer to a request for an upload that has gone, saying why it went. */
export function uploadGone(why: UploadState["problem"]): ApiError {
	return new ApiError(410, "gone", `This upload is gone${why ? `: ${why.detail}` : "."}`, why ? { reason: why.code } : {});
}
