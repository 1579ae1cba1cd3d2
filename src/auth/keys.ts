/**
 * API keys: `et_live_` and 32 URL-safe base64 characters (192 random bits). The prefix
 * lets people and secret scanners spot a key; only its SHA-256 is ever stored (a key
 * is random enough that a fast hash is safe), and lookups go by that hash.
 */
import { base64url, hex } from "../crypto";

export const KEY_PREFIX = "et_live_";
const KEY_SHAPE = /^et_live_[A-Za-z0-9_-]{32}$/;
/** How much of a key the admin API shows, to recognise it by. */
const SHOWN = KEY_PREFIX.length + 4;

export function newKeySecret(): string {
	return KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(24)));
}

export const looksLikeKey = (secret: string) => KEY_SHAPE.test(secret);
export const shownPrefix = (secret: string) => `${secret.slice(0, SHOWN)}…`;

/** Lowercase hex SHA-256 of `text`. */
export async function sha256Hex(text: string): Promise<string> {
	const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
	return hex(digest);
}

/** Compares two secrets in constant time (by their digests, so lengths leak nothing either). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
	const enc = new TextEncoder();
	const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
	return crypto.subtle.timingSafeEqual(da, db);
}
