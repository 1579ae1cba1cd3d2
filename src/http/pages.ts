/**
 * How the service's own pages (the upload page, /docs) are answered: with a strict
 * Content-Security-Policy. The upload page holds an API key, so nothing but its own inline
 * script (allowed by a fresh nonce per answer) may run there, nothing may frame it
 * (clickjacking), and it may talk only to this Worker.
 */
import type { Context } from "hono";

/** Marks every inline <script> and <style> of a page: replaced by the answer's nonce. */
export const NONCE = "__CSP_NONCE__";

/** Answers `html` (a page whose <script> and <style> tags carry `nonce="${NONCE}"`) with its policy. */
export function servePage(c: Context, html: string, thumbnailsOrigin: string): Response {
	const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
	const policy = [
		"default-src 'none'",
		`script-src 'nonce-${nonce}'`,
		`style-src 'nonce-${nonce}'`,
		// Thumbnails are served from PUBLIC_BASE_URL, normally this origin.
		`img-src 'self' data: blob: ${thumbnailsOrigin}`,
		"connect-src 'self'",
		"form-action 'none'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	].join("; ");
	return c.html(html.replaceAll(NONCE, nonce), 200, {
		"Cache-Control": "no-store",
		"Content-Security-Policy": policy,
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer",
	});
}
