/**
 * What we ask of Thumbor, as a URL: the one operation, and how the path is signed (Thumbor's
 * HMAC-SHA1 over the path after the signature). Plain functions: the end-to-end tests sign
 * with them too.
 */
import { THUMBNAIL } from "../base/contracts";
import { base64url, hmac } from "../base/crypto";

/** Crop to a square around the most interesting part, then encode as WebP. */
export const OPERATION = `${THUMBNAIL.width}x${THUMBNAIL.height}/smart/filters:format(webp):quality(${THUMBNAIL.quality})`;

/** Thumbor's signature: URL-safe base64 (padded) of HMAC-SHA1 over the path after the signature. */
export async function signThumborPath(securityKey: string, path: string): Promise<string> {
	return base64url(await hmac(securityKey, "SHA-1", path), true);
}

/**
 * The signed Thumbor path (from its leading slash) for the original named `name` (a job id).
 * The original itself goes in the request's body (thumbor/pushed_original.py): the name only
 * labels it in Thumbor's logs, and the signature covers it like the rest of the path.
 */
export async function thumborPath(securityKey: string, name: string): Promise<string> {
	const path = `${OPERATION}/${encodeURIComponent(name)}`;
	return `/${await signThumborPath(securityKey, path)}/${path}`;
}
