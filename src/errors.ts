/**
 * The one error format: RFC 9457 problem+json with a machine-readable `code`.
 * Every route throws ApiError; `onError` turns anything else into a generic 500.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

export type ProblemCode =
	| "bad_request"
	| "empty_body"
	| "invalid_multipart"
	| "upload_interrupted"
	| "invalid_parameter"
	| "length_required"
	| "payload_too_large"
	| "unsupported_media_type"
	| "unprocessable_image"
	| "image_too_large"
	| "image_too_complex"
	| "not_retryable"
	| "slug_taken"
	| "idempotency_key_reused"
	| "idempotency_in_progress"
	| "not_found"
	| "forbidden"
	| "internal_error";

const TITLES: Record<number, string> = {
	400: "Bad Request",
	403: "Forbidden",
	404: "Not Found",
	409: "Conflict",
	411: "Length Required",
	413: "Content Too Large",
	415: "Unsupported Media Type",
	422: "Unprocessable Content",
	500: "Internal Server Error",
};

export class ApiError extends Error {
	constructor(
		readonly status: ContentfulStatusCode,
		readonly code: ProblemCode,
		readonly detail: string,
		readonly extra: Record<string, unknown> = {},
	) {
		super(detail);
		this.name = "ApiError";
	}

	static invalid(error: ZodError, where: string): ApiError {
		const issues = error.issues.map((i) => ({ field: i.path.join(".") || where, message: i.message }));
		const first = issues[0];
		return new ApiError(400, "invalid_parameter", `Invalid ${first?.field ?? where}: ${first?.message ?? "malformed"}`, {
			issues,
		});
	}
}

export function problemResponse(err: ApiError, headers: HeadersInit = {}): Response {
	const body = {
		type: "about:blank",
		title: TITLES[err.status] ?? "Error",
		status: err.status,
		code: err.code,
		detail: err.detail,
		...err.extra,
	};
	const h = new Headers(headers);
	h.set("Content-Type", "application/problem+json");
	h.set("Cache-Control", "no-store");
	return new Response(JSON.stringify(body), { status: err.status, headers: h });
}

export function onError(err: Error, c: Context): Response {
	// A refused upload may be answered before its body is read: let the client stop sending.
	const body = c.req.raw.body;
	if (body && !body.locked) body.cancel().catch(() => {});
	if (err instanceof ApiError) return problemResponse(err);
	// Internal reasons stay in the logs.
	console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err);
	return problemResponse(new ApiError(500, "internal_error", "Something went wrong on our side; try again."));
}

export function notFound(c: Context): Response {
	return problemResponse(new ApiError(404, "not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`));
}
