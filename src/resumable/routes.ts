/**
 * /uploads: a tus 1.0 server (tus.io) for uploads that survive a dropped connection. Behind
 * the same API keys, limits and checks as POST /jobs; an upload's id is the id of the job it
 * becomes, so GET /jobs/<id> follows it from creation (`uploading`) to its end.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { describeRoute } from "hono-openapi";
import { rateLimit } from "../access/limits";
import { type AuthEnv, requireKey } from "../access/middleware";
import { settings } from "../base/config";
import { JobId, type UploadState } from "../base/contracts";
import { annotate } from "../base/tracing";
import { empty, idParam, json, KEYED, pick, problem } from "../http/describe";
import { ApiError, orThrow } from "../http/errors";
import { JobView, jobView, uploadingView } from "../http/job-view";
import { valid } from "../http/validate";
import { uploadStub } from "../objects";
import { UploadListQuery, UploadPage, uploadsInProgress } from "./in-progress";
import {
	checkVersion,
	declaredLength,
	httpDate,
	integerHeader,
	isOffsetStream,
	OFFSET_OCTET_STREAM,
	TUS_EXTENSIONS,
	TUS_VERSION,
	uploadGone,
	uploadNotFound,
} from "./protocol";
import { receive } from "./receive";
import { startUpload } from "./start";

const idPath = idParam("The upload's id: the id of the job it becomes");
const tusResumable = {
	name: "Tus-Resumable",
	in: "header" as const,
	required: true,
	schema: { type: "string" as const, const: TUS_VERSION },
	description: "The tus version the client speaks",
};
const notFound = problem("No such upload, or another owner's (`not_found`)");
const goneUpload = problem("Expired, terminated, or refused by the checks (`gone`, with `reason`)");
const wrongVersion = problem("Tus-Resumable is missing or not 1.0.0 (`unsupported_version`)", "Tus-Version");
const chunk = { type: "string" as const, contentMediaType: "application/octet-stream" };

/** Every answer under /uploads says Tus-Resumable, errors too, besides what every answer says: documented so. */
function tusAnswers<R extends { headers?: object }>(responses: Record<number, R>): Record<number, R> {
	const always = pick("Cache-Control", "Server-Timing", "Tus-Resumable");
	return Object.fromEntries(
		Object.entries(responses).map(([status, r]) => [status, { ...r, headers: { ...always, ...r.headers } }]),
	);
}

/** The caller's upload `id` as its object keeps it, or 404: a malformed id, another owner's, or none. */
async function ownUpload(env: Env, ownerId: string, raw: string, { settled = false } = {}): Promise<UploadState> {
	const upload = await uploadStub(env, uploadId(raw)).get({ settled });
	if (!upload || upload.ownerId !== ownerId) throw uploadNotFound(raw);
	return upload;
}

/** The upload's id in the path, or 404: a malformed id names no upload. */
function uploadId(raw: string): JobId {
	const id = JobId.safeParse(raw);
	if (!id.success) throw uploadNotFound(raw);
	return id.data;
}

/** What every answer about an upload says of it: how far it is, and until when it waits. */
function progressHeaders(upload: UploadState): Record<string, string> {
	return {
		"Upload-Offset": String(upload.offset),
		"Upload-Length": String(upload.length),
		...(upload.status === "receiving" && { "Upload-Expires": httpDate(upload.expiresAt) }),
		"Cache-Control": "no-store",
	};
}

/**
 * Tus-Resumable on every answer (errors too); every tus request (all but OPTIONS, and the
 * listing, which is no part of tus) must speak 1.0.0.
 */
const tus = createMiddleware(async (c, next) => {
	try {
		const listing = c.req.method === "GET" && new URL(c.req.url).pathname.replace(/\/+$/, "") === "/uploads";
		if (c.req.method !== "OPTIONS" && !listing) checkVersion(c.req.raw);
		await next();
	} finally {
		c.res.headers.set("Tus-Resumable", TUS_VERSION);
	}
});

/** OPTIONS: what this server speaks, no key needed (a browser's CORS preflight is answered before). */
function discovery(c: Context<{ Bindings: Env }>) {
	return c.body(null, 204, {
		"Tus-Resumable": TUS_VERSION,
		"Tus-Version": TUS_VERSION,
		"Tus-Extension": TUS_EXTENSIONS.join(","),
		"Tus-Max-Size": String(settings(c.env).MAX_UPLOAD_BYTES),
	});
}
const describeDiscovery = describeRoute({
	tags: ["uploads"],
	summary: "What this tus server speaks (no key needed)",
	responses: {
		204: {
			description: "Its version, extensions and largest upload",
			headers: pick("Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size"),
		},
	},
});

const creations = rateLimit("UPLOAD_RATE_LIMITER", "uploads");
const requests = rateLimit("READ_RATE_LIMITER", "requests");

export const uploads = new Hono<AuthEnv>()
	.options("/", describeDiscovery, discovery)
	.options("/:id", describeDiscovery, discovery)
	.use(tus)
	.use(requireKey)
	/** tus creation (and creation-with-upload): a new upload, checked as POST /jobs checks one before any byte. */
	.post(
		"/",
		describeRoute({
			tags: ["uploads"],
			summary: "Start a resumable upload (tus creation, creation-with-upload)",
			description:
				"Upload-Metadata carries what POST /jobs takes in its query: `slug` and `callback_url` (checked now, the slug " +
				"claimed), and `filename`, `filetype` (kept; the file's bytes decide its type). The answer's Location is the " +
				"upload's URL and its id the job's: GET /jobs/<id> shows it `uploading`. A body of type " +
				"application/offset+octet-stream is the upload's first bytes.",
			security: [{ apiKey: [] }],
			parameters: [
				tusResumable,
				{
					name: "Upload-Length",
					in: "header",
					required: true,
					schema: { type: "integer", minimum: 1 },
					description: "The file's size in bytes (at most MAX_UPLOAD_BYTES)",
				},
				{
					name: "Upload-Metadata",
					in: "header",
					required: false,
					schema: { type: "string" },
					description: "Comma-separated `key base64(value)`: slug, callback_url, filename, filetype",
				},
			],
			requestBody: { required: false, content: { [OFFSET_OCTET_STREAM]: { schema: chunk } } },
			responses: tusAnswers({
				201: {
					...json(JobView, "Made: the job, uploading (or queued if the body held the whole file)", "Location"),
					headers: pick("Location", "Upload-Offset", "Upload-Length", "Upload-Expires"),
				},
				...KEYED,
				400: problem("Upload-Length missing or malformed, Upload-Metadata malformed, a bad slug or callback URL"),
				409: problem("The slug is taken (`slug_taken`)"),
				412: wrongVersion,
				413: problem("Upload-Length over MAX_UPLOAD_BYTES (`payload_too_large`)", "Tus-Max-Size"),
				415: problem("The first bytes are not a supported image (`unsupported_media_type`): nothing is kept"),
				422: problem("Too many pixels or JPEG scans, or a zero-sized header: nothing is kept"),
				429: problem(
					"Over the key's upload rate (`rate_limited`), the owner's uploads in progress " +
						"(`too_many_uploads_in_progress`), or its monthly quota (`quota_exceeded`)",
					"Retry-After",
				),
			}),
		}),
		creations,
		async (c) => {
			const base = settings(c.env).PUBLIC_BASE_URL;
			const { upload, job } = await startUpload(c.env, c.executionCtx, c.var.caller, c.req.raw, c.var.steps);
			if (job) c.set("uploaded", job);
			const view = job ? jobView(job, base) : uploadingView(upload, base);
			return c.json(view, 201, { Location: `/uploads/${upload.id}`, ...progressHeaders(upload) });
		},
	)
	/** The owner's uploads still receiving bytes, newest first: the ones to resume, or to terminate. */
	.get(
		"/",
		describeRoute({
			tags: ["uploads"],
			summary: "The caller's resumable uploads in progress, newest first",
			description:
				"Uploads still receiving bytes, each as GET /jobs/<id> shows it (`uploading`, with its offset and expiry). " +
				"They count against MAX_UPLOADS_IN_PROGRESS, apart from the jobs in flight; `next` pages on.",
			security: [{ apiKey: [] }],
			responses: tusAnswers({
				200: json(UploadPage, "A page; follow `nextCursor` (or the Link header) for the next", "Link"),
				...KEYED,
				400: problem("A bad `limit` or `cursor`"),
			}),
		}),
		requests,
		valid("query", UploadListQuery),
		async (c) => {
			const query = c.req.valid("query");
			const { items, nextCursor } = await uploadsInProgress(c.env, c.var.caller.ownerId, query);
			const base = settings(c.env).PUBLIC_BASE_URL;
			const headers: Record<string, string> = { "Cache-Control": "no-store" };
			if (nextCursor) headers.Link = `</uploads?limit=${query.limit}&cursor=${nextCursor}>; rel="next"`;
			return c.json({ items: items.map((upload) => uploadingView(upload, base)), nextCursor }, 200, headers);
		},
	)
	/** tus core: how many bytes the upload has (resume from there). HEAD is GET without the body (Hono answers both here). */
	.get(
		"/:id",
		describeRoute({
			tags: ["uploads"],
			summary: "How far an upload is (tus uses HEAD): resume from Upload-Offset",
			security: [{ apiKey: [] }],
			parameters: [idPath, tusResumable],
			responses: tusAnswers({
				200: {
					description: "The upload",
					headers: pick("Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Expires"),
				},
				...KEYED,
				404: notFound,
				410: goneUpload,
				412: wrongVersion,
			}),
		}),
		requests,
		async (c) => {
			// The offset once a PATCH under way has ended: a client cut off asks at once, and must not send a byte twice.
			const upload = await ownUpload(c.env, c.var.caller.ownerId, c.req.param("id"), { settled: true });
			if (upload.status === "gone") throw uploadGone(upload.problem);
			return c.body(null, 200, {
				...progressHeaders(upload),
				...(upload.metadata !== "" && { "Upload-Metadata": upload.metadata }),
			});
		},
	)
	/** tus core: more bytes, from Upload-Offset on. */
	.patch(
		"/:id",
		describeRoute({
			tags: ["uploads"],
			summary: "Send more of the upload's bytes, from Upload-Offset",
			description:
				"Bytes are kept as they arrive: a PATCH cut short keeps all that reached the server (HEAD says how many). " +
				"The PATCH that brings the last byte makes the job, exactly as POST /jobs would.",
			security: [{ apiKey: [] }],
			parameters: [
				idPath,
				tusResumable,
				{
					name: "Upload-Offset",
					in: "header",
					required: true,
					schema: { type: "integer", minimum: 0 },
					description: "Where these bytes start: the upload's offset",
				},
			],
			requestBody: { required: true, content: { [OFFSET_OCTET_STREAM]: { schema: chunk } } },
			responses: tusAnswers({
				204: { description: "Kept", headers: pick("Upload-Offset", "Upload-Length", "Upload-Expires") },
				...KEYED,
				400: problem("Upload-Offset missing or malformed, or the body broke off (`upload_interrupted`: resume)"),
				404: notFound,
				408: problem("The body stalled (`upload_stalled`): what came is kept, resume"),
				409: problem("Upload-Offset is not the upload's offset (`offset_mismatch`, with `offset`), or it is finished"),
				410: goneUpload,
				412: wrongVersion,
				413: problem("The bytes go past Upload-Length (`payload_too_large`)"),
				415: problem("Content-Type is not application/offset+octet-stream, or the file is not a supported image"),
				422: problem("Too many pixels or JPEG scans, or a zero-sized header: the upload goes, nothing is kept"),
				423: problem("Another PATCH of this upload is under way (`upload_locked`)", "Retry-After"),
				429: problem(
					"The PATCH brings the last byte, and the owner has MAX_JOBS_IN_FLIGHT jobs in flight " +
						"(`too_many_jobs_in_flight`): nothing of it is kept, send it again later",
					"Retry-After",
				),
			}),
		}),
		requests,
		async (c) => {
			const cfg = settings(c.env);
			if (!isOffsetStream(c.req.raw)) {
				throw new ApiError(415, "unsupported_media_type", `A PATCH's Content-Type is ${OFFSET_OCTET_STREAM}.`);
			}
			const id = uploadId(c.req.param("id"));
			const offset = integerHeader(c.req.raw, "Upload-Offset");
			const { ownerId } = c.var.caller;
			annotate({ "job.id": id, "owner.id": ownerId });
			const target = { id, ownerId, offset, declared: declaredLength(c.req.raw), idleSeconds: cfg.UPLOAD_IDLE_SECONDS };
			const received = await c.var.steps.time("store", () => receive(c.env, c.executionCtx, target, c.req.raw.body));
			if (received.job) c.set("uploaded", received.job);
			return c.body(null, 204, progressHeaders(received.upload));
		},
	)
	/** tus termination: an unfinished upload goes, and every byte of it. */
	.delete(
		"/:id",
		describeRoute({
			tags: ["uploads"],
			summary: "Give up an unfinished upload (tus termination): its bytes go, its slug is free",
			security: [{ apiKey: [] }],
			parameters: [idPath, tusResumable],
			responses: tusAnswers({
				204: empty("Terminated"),
				...KEYED,
				404: notFound,
				409: problem("The upload is finished: it is a job now (`upload_finished`); DELETE /jobs/<id> deletes it"),
				410: goneUpload,
				412: wrongVersion,
			}),
		}),
		creations,
		async (c) => {
			// The upload's object says 404 for another owner's upload, or none.
			orThrow(await uploadStub(c.env, uploadId(c.req.param("id"))).terminate(c.var.caller.ownerId));
			return c.body(null, 204, { "Cache-Control": "no-store" });
		},
	);
