/**
 * The one error format: RFC 9457 problem+json with a machine-readable `code`.
 * Every route throws ApiError; `onError` turns anything else into a generic 500.
 */

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { annotate } from "../base/tracing";

/** A validation issue, as zod and every Standard Schema library report it. */
type Issue = { readonly message: string; readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] };

export type ProblemCode =
	| "bad_request"
	| "empty_body"
	| "invalid_multipart"
	| "upload_interrupted"
	| "upload_stalled"
	| "unsupported_version"
	| "offset_mismatch"
	| "upload_locked"
	| "upload_finished"
	| "invalid_parameter"
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
	| "unauthorized"
	| "invalid_cursor"
	| "invalid_callback_url"
	| "no_webhook"
	| "gone"
	| "rate_limited"
	| "too_many_jobs_in_flight"
	| "too_many_uploads_in_progress"
	| "quota_exceeded"
	| "forbidden"
	| "method_not_allowed"
	| "unavailable"
	| "internal_error";

const TITLES: Record<number, string> = {
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	408: "Request Timeout",
	409: "Conflict",
	410: "Gone",
	412: "Precondition Failed",
	413: "Content Too Large",
	415: "Unsupported Media Type",
	422: "Unprocessable Content",
	423: "Locked",
	429: "Too Many Requests",
	500: "Internal Server Error",
	503: "Service Unavailable",
};

/**
 * What an object's RPC method answered: its result, or — for a refusal, which crosses RPC as
 * plain data — that refusal thrown as the ApiError it was.
 */
export function orThrow<T extends object>(answer: T): Exclude<T, { problem: unknown }> {
	if ("problem" in answer) throw ApiError.from(answer.problem as Problem);
	return answer as Exclude<T, { problem: unknown }>;
}

/** An ApiError as plain data (ApiError.toProblem, ApiError.from). */
export interface Problem {
	status: ContentfulStatusCode;
	code: ProblemCode;
	detail: string;
	extra: Record<string, unknown>;
	headers: Record<string, string>;
}

export class ApiError extends Error {
	constructor(
		readonly status: ContentfulStatusCode,
		readonly code: ProblemCode,
		readonly detail: string,
		readonly extra: Record<string, unknown> = {},
		readonly headers: Record<string, string> = {},
	) {
		super(detail);
		this.name = "ApiError";
	}

	/** As plain data, to cross a Durable Object's RPC boundary (an error's class does not). */
	toProblem(): Problem {
		return { status: this.status, code: this.code, detail: this.detail, extra: this.extra, headers: this.headers };
	}

	/** The error a Problem describes (from toProblem, on the other side of an RPC call). */
	static from(p: Problem): ApiError {
		return new ApiError(p.status, p.code, p.detail, p.extra, p.headers);
	}

	/** From a ZodError, or the issues of any Standard Schema validation. */
	static invalid(error: ZodError | { readonly issues: readonly Issue[] } | readonly Issue[], where: string): ApiError {
		const list = "issues" in error ? error.issues : (error as readonly Issue[]);
		const key = (p: PropertyKey | { key: PropertyKey }) => String(typeof p === "object" ? p.key : p);
		const issues = list.map((i) => ({ field: (i.path ?? []).map(key).join(".") || where, message: i.message }));
		const first = issues[0];
		return new ApiError(400, "invalid_parameter", `Invalid ${first?.field ?? where}: ${first?.message ?? "malformed"}`, {
			issues,
		});
	}
}

export function problemResponse(err: ApiError, headers: HeadersInit = {}): Response {
	// The request's span says why it was refused: operators filter by the code.
	annotate({ "error.code": err.code });
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
	// Errors are not cached, unless one says otherwise (a deleted thumbnail's 410).
	if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
	return new Response(JSON.stringify(body), { status: err.status, headers: h });
}

/**
 * The most of an unread request body read and thrown away after a refusal, so the client,
 * still sending, gets to read the answer (as a server's "lingering close" does); past it the
 * connection is cut. About the largest upload the API accepts.
 */
const DRAIN_LIMIT_BYTES = 32 * 1024 * 1024;

/** A client sending slower than this, or stalled, is cut off rather than waited for. */
const DRAIN_TIMEOUT_MS = 30_000;

/** Reads and discards what is left of `body`, at most DRAIN_LIMIT_BYTES of it, for at most DRAIN_TIMEOUT_MS. */
async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
	const reader = body.getReader();
	const deadline = Date.now() + DRAIN_TIMEOUT_MS;
	let read = 0;
	try {
		for (;;) {
			const left = deadline - Date.now();
			// A read of a stalled body never returns: it is raced against what is left of the time.
			const chunk = left > 0 ? await Promise.race([reader.read(), scheduler.wait(left).then(() => null)]) : null;
			if (chunk === null) return void (await reader.cancel());
			if (chunk.done) return;
			read += chunk.value.length;
			if (read > DRAIN_LIMIT_BYTES) return void (await reader.cancel());
		}
	} catch {
		// the client went away: nothing left to do
	}
}

export async function onError(err: Error, c: Context): Promise<Response> {
	// A refused upload may be answered before its body is read. Answering while the client
	// is still sending gets the connection reset (and, under wrangler dev, Miniflare's own
	// 500): read the rest first, up to a bound, so the client sees the answer.
	const body = c.req.raw.body;
	const declared = Number(c.req.header("content-length") ?? 0);
	if (body && !body.locked) {
		if (declared <= DRAIN_LIMIT_BYTES) await drain(body);
		else body.cancel().catch(() => {});
	}
	if (err instanceof ApiError) return problemResponse(err, err.headers);
	// Hono's own refusals (a JSON body that is not JSON, say).
	if (err instanceof HTTPException && err.status < 500) {
		return problemResponse(new ApiError(err.status, "bad_request", err.message || "The request is malformed."));
	}
	// Internal reasons stay in the logs.
	console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err);
	return problemResponse(new ApiError(500, "internal_error", "Something went wrong on our side; try again."));
}

/** A route as Hono lists it (`app.routes`): middleware is method "ALL". */
type Route = { readonly method: string; readonly path: string };

/** The methods `routes` answer on `path` (HEAD wherever GET), in a stable order; none when no route has it. */
export function allowedMethods(routes: readonly Route[], path: string): string[] {
	const methods = new Set<string>();
	for (const route of routes) {
		if (route.method === "ALL") continue;
		const pattern = route.path
			.replace(/[.+?^${}()|[\]\\]/g, "\\$&")
			.replace(/\/:[^/]+/g, "/[^/]+")
			.replace(/\/\*$/, "(?:/.*)?");
		if (new RegExp(`^${pattern}/?$`).test(path)) methods.add(route.method);
	}
	if (methods.has("GET")) methods.add("HEAD");
	return ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].filter((m) => methods.has(m));
}

/** The answer where no route matched: 405 with Allow when the path has routes for other methods, else 404. */
export function notFound(routes: readonly Route[]) {
	return (c: Context): Response => {
		const path = new URL(c.req.url).pathname;
		const allowed = allowedMethods(routes, path);
		if (allowed.length > 0) {
			const allow = allowed.join(", ");
			return problemResponse(
				new ApiError(405, "method_not_allowed", `${path} answers ${allow}, not ${c.req.method}.`, { allow: allowed }),
				{ Allow: allow },
			);
		}
		return problemResponse(new ApiError(404, "not_found", `No route for ${c.req.method} ${path}.`));
	};
}
