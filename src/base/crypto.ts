/** HMAC and base64 helpers shared by the Thumbor URL signer, listing cursors, API keys and webhook signatures. */

const encoder = new TextEncoder();

/** An HMAC key: a text secret's UTF-8 bytes, or raw bytes (a Standard Webhooks secret, decoded). */
async function hmacKey(secret: string | Uint8Array, hash: "SHA-1" | "SHA-256"): Promise<CryptoKey> {
	const raw = typeof secret === "string" ? encoder.encode(secret) : secret;
	return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash }, false, ["sign", "verify"]);
}

export async function hmac(secret: string | Uint8Array, hash: "SHA-1" | "SHA-256", message: string): Promise<Uint8Array> {
	const key = await hmacKey(secret, hash);
	return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

/** Constant-time check of an HMAC given as bytes. */
export async function hmacVerify(
	secret: string,
	hash: "SHA-1" | "SHA-256",
	message: string,
	signature: Uint8Array,
): Promise<boolean> {
	const key = await hmacKey(secret, hash);
	return crypto.subtle.verify("HMAC", key, signature, encoder.encode(message));
}

/** Lowercase hex of `bytes` (digests as the API and storage show them). */
export const hex = (bytes: ArrayBuffer | Uint8Array) =>
	[...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Standard base64 (with padding). */
export function base64(bytes: Uint8Array): string {
	let bin = "";
	for (const b of bytes) bin += String.fromCharCode(b);
	return btoa(bin);
}

/** The bytes of standard base64 `s`. */
export const fromBase64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** URL-safe base64; `pad` keeps the `=` padding (Thumbor's signatures have it). */
export function base64url(bytes: Uint8Array, pad = false): string {
	const s = base64(bytes).replaceAll("+", "-").replaceAll("/", "_");
	return pad ? s : s.replace(/=+$/, "");
}

export function fromBase64url(s: string): Uint8Array | null {
	if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s)) return null;
	try {
		const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/").replace(/=+$/, ""));
		return Uint8Array.from(bin, (c) => c.charCodeAt(0));
	} catch {
		return null;
	}
}
