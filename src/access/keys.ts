/**
 * API keys: `et_live_`, 32 URL-safe base64 characters (192 random bits), then an
 * 11-character checksum: the first 64 bits of HMAC-SHA256(KEY_CHECKSUM_SECRET, the rest).
 * The prefix lets people and secret scanners spot a key; the checksum lets the Worker
 * refuse a made-up key from its characters alone, before any lookup (GitHub's tokens end
 * in a CRC32 for the same reason, but anyone can compute a CRC). Only a key's SHA-256 is
 * ever stored (a key is random enough that a fast hash is safe), and lookups go by it.
 * Changing KEY_CHECKSUM_SECRET invalidates every key.
 */
import { base64, base64url, hex, hmac } from "../base/crypto";

export const KEY_PREFIX = "et_live_";
const KEY_SHAPE = /^(et_live_[A-Za-z0-9_-]{32})([A-Za-z0-9_-]{11})$/;
/** How much of a key the admin API shows, to recognise it by. */
const SHOWN = KEY_PREFIX.length + 4;

const checksum = async (checksumSecret: string, body: string) =>
	base64url((await hmac(checksumSecret, "SHA-256", body)).subarray(0, 8));

export async function newKeySecret(checksumSecret: string): Promise<string> {
	const body = KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(24)));
	return body + (await checksum(checksumSecret, body));
}

/** Whether `secret` has a key's shape and a checksum made with `checksumSecret`: no lookup needed to refuse it. */
export async function keyChecksumValid(secret: string, checksumSecret: string): Promise<boolean> {
	const m = KEY_SHAPE.exec(secret);
	if (!m) return false;
	return secretsEqual(await checksum(checksumSecret, m[1]!), m[2]!);
}

export const shownPrefix = (secret: string) => `${secret.slice(0, SHOWN)}…`;

/** Lowercase hex SHA-256 of `text`. */
export async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return hex(digest);
}

/** Compares two secrets in constant time (by their digests, so lengths leak nothing either). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
	const enc = new TextEncoder();
	const [da, db] = await Promise.all([
		crypto.subtle.digest("SHA-256", enc.encode(a)),
		crypto.subtle.digest("SHA-256", enc.encode(b)),
	]);
	return crypto.subtle.timingSafeEqual(da, db);
}

/** What starts a webhook signing secret (Standard Webhooks: `whsec_` and base64 of the HMAC key). */
export const WEBHOOK_SECRET_PREFIX = "whsec_";

/** A new webhook signing secret for a key: 192 random bits. */
export function newWebhookSecret(): string {
	return WEBHOOK_SECRET_PREFIX + base64(crypto.getRandomValues(new Uint8Array(24)));
}
