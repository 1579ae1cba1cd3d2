/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): a `whsec_` secret is
 * base64 of the HMAC key; `webhook-signature` is `v1,` + base64 HMAC-SHA256 of
 * `<webhook-id>.<webhook-timestamp>.<body>`, one per secret, space-separated (during
 * a rotation both the new and the old secret sign).
 */
import { WEBHOOK_SECRET_PREFIX } from "../access/keys";
import { base64, fromBase64, hmac } from "../base/crypto";

async function signOne(secret: string, content: string): Promise<string> {
	return `v1,${base64(await hmac(fromBase64(secret.slice(WEBHOOK_SECRET_PREFIX.length)), "SHA-256", content))}`;
}

/** The three Standard Webhooks headers for one delivery attempt of message `id`. */
export async function webhookHeaders(
	secrets: readonly string[],
	id: string,
	body: string,
	now = Date.now(),
): Promise<Record<string, string>> {
	const timestamp = String(Math.floor(now / 1000));
	const signatures = await Promise.all(secrets.map((s) => signOne(s, `${id}.${timestamp}.${body}`)));
	return {
		"webhook-id": id,
		"webhook-timestamp": timestamp,
		"webhook-signature": signatures.join(" "),
		"Content-Type": "application/json",
		"User-Agent": "edge-thumbnails-webhooks",
	};
}
