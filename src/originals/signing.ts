/** Short-lived signed URLs through which Thumbor, and only Thumbor, reads originals. */
import type { JobId } from "../contracts";
import { base64url, fromBase64url, hmac, hmacVerify } from "../crypto";

export const ORIGINAL_URL_TTL_S = 300;

const message = (id: JobId, exp: number) => `originals/${id}:${exp}`;

export async function signedOriginalUrl(baseUrl: string, key: string, id: JobId, now = Date.now()): Promise<string> {
	const exp = Math.floor(now / 1000) + ORIGINAL_URL_TTL_S;
	const sig = base64url(await hmac(key, "SHA-256", message(id, exp)));
	return `${baseUrl.replace(/\/+$/, "")}/originals/${id}?exp=${exp}&sig=${sig}`;
}

/** True when `sig` is ours for this id and `exp` has not passed. */
export async function verifyOriginalSignature(
	key: string,
	id: JobId,
	exp: number,
	sig: string,
	now = Date.now(),
): Promise<boolean> {
	if (!Number.isSafeInteger(exp) || exp * 1000 < now || exp * 1000 > now + 2 * ORIGINAL_URL_TTL_S * 1000) return false;
	const bytes = fromBase64url(sig);
	return bytes !== null && hmacVerify(key, "SHA-256", message(id, exp), bytes);
}
