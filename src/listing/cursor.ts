/**
 * Listing cursors: opaque to clients, signed so that a changed one is refused (400),
 * and bound to the owner and status filter they were made for.
 */
import { base64url, fromBase64url, hmac, hmacVerify } from "../base/crypto";
import { ApiError } from "../http/errors";

interface CursorState {
	/** List jobs with ids below this one (ids sort by creation time). */
	before: string;
	owner: string;
	status: string | null;
}

const invalid = () =>
	new ApiError(400, "invalid_cursor", "This cursor was not issued for this listing: pass nextCursor back exactly as given.");
const enc = new TextEncoder();
const dec = new TextDecoder();
const message = (payload: string) => `cursor|${payload}`;

export async function writeCursor(key: string, state: CursorState): Promise<string> {
	const payload = base64url(enc.encode(JSON.stringify([state.before, state.owner, state.status])));
	return `${payload}.${base64url(await hmac(key, "SHA-256", message(payload)))}`;
}

/** The cursor's `before` id, if it is genuine and was made for this owner and filter; else 400. */
export async function readCursor(key: string, cursor: string, owner: string, status: string | null): Promise<string> {
	const [payload, sig, ...rest] = cursor.split(".");
	const sigBytes = sig ? fromBase64url(sig) : null;
	if (!payload || !sigBytes || rest.length > 0 || !(await hmacVerify(key, "SHA-256", message(payload), sigBytes)))
		throw invalid();
	const bytes = fromBase64url(payload);
	const [before, forOwner, forStatus] = bytes ? (JSON.parse(dec.decode(bytes)) as [string, string, string | null]) : [];
	if (typeof before !== "string" || forOwner !== owner || forStatus !== status) throw invalid();
	return before;
}
