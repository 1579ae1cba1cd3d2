/**
 * The pieces every route's OpenAPI description is made of: the error format, the headers
 * the API sends, and JSON bodies from the same zod schemas the routes validate and answer
 * with. Routes call `describeRoute` (hono-openapi) with these; /openapi.json is generated.
 */
import { resolver } from "hono-openapi";
import { z } from "zod";

/** RFC 9457 problem+json, the one error format (src/http/errors.ts). */
export const Problem = z
	.object({
		type: z.literal("about:blank"),
		title: z.string(),
		status: z.number().int().min(400).max(599),
		code: z.string().describe("Machine-readable: what went wrong (docs/api.md, per route)"),
		detail: z.string().describe("What went wrong, in words a user can act on"),
	})
	.catchall(z.unknown())
	.describe("Extra members name the numbers involved (limit, width, issues…)")
	.meta({ id: "Problem" });

type Header = { description: string; schema: { type: "string" | "integer" } };
const header = (description: string, type: "string" | "integer" = "string"): Header => ({ description, schema: { type } });

/** Response headers, by name. */
export const HEADERS = {
	"Cache-Control": header("no-store on API answers; public, immutable on thumbnails"),
	"Server-Timing": header("The steps the answer took (auth, ratelimit, admit, store, create, wait…)"),
	Location: header("The job's URL"),
	"Retry-After": header("Seconds to wait before trying again", "integer"),
	"Idempotent-Replayed": header("true: an earlier request with this Idempotency-Key made the job"),
	Link: header('The next page: <…>; rel="next"'),
	"WWW-Authenticate": header('Bearer realm="edge-thumbnails"'),
	ETag: header("The thumbnail's strong validator"),
	"Tus-Resumable": header("The tus version this answer speaks: 1.0.0"),
	"Tus-Version": header("The tus versions this server speaks: 1.0.0"),
	"Tus-Extension": header("creation,creation-with-upload,termination,expiration"),
	"Tus-Max-Size": header("The largest Upload-Length accepted (MAX_UPLOAD_BYTES)", "integer"),
	"Upload-Offset": header("Bytes of the upload received and kept: resume from here", "integer"),
	"Upload-Length": header("The upload's size, as declared at creation", "integer"),
	"Upload-Metadata": header("The upload's metadata, as given at creation"),
	"Upload-Expires": header("When the unfinished upload will be given up (an HTTP date)"),
} as const;
export const pick = (...names: (keyof typeof HEADERS)[]) => Object.fromEntries(names.map((n) => [n, HEADERS[n]]));

/** A JSON answer of `schema`, with `headers` besides Cache-Control and Server-Timing. */
export const json = (schema: z.ZodType, description: string, ...headers: (keyof typeof HEADERS)[]) => ({
	description,
	headers: pick("Cache-Control", "Server-Timing", ...headers),
	content: { "application/json": { schema: resolver(schema) } },
});

/** An answer without a body. */
export const empty = (description: string) => ({ description, headers: pick("Cache-Control", "Server-Timing") });

/** An error answer in the one format. */
export const problem = (description: string, ...headers: (keyof typeof HEADERS)[]) => ({
	description,
	headers: pick("Cache-Control", "Server-Timing", ...headers),
	content: { "application/problem+json": { schema: resolver(Problem) } },
});

/** What every route behind an API key may answer besides its own. */
export const KEYED = {
	400: problem("A parameter or body is malformed (`invalid_parameter`, with `issues`)"),
	401: problem("No API key, or not a valid one (`unauthorized`)", "WWW-Authenticate"),
	429: problem("Over the key's request rate (`rate_limited`)", "Retry-After"),
	500: problem("Something went wrong on our side (`internal_error`)"),
} as const;

export const bearer = [{ apiKey: [] }];

/** The `:id` path parameter, described. */
export const idParam = (description: string) => ({
	name: "id",
	in: "path" as const,
	required: true,
	schema: { type: "string" as const },
	description,
});
export const admin = [{ adminToken: [] }];
