import { Hono } from "hono";
import { JobId } from "../contracts";
import { settings } from "../config";
import { ApiError } from "../errors";
import { jobStub } from "../jobs/stubs";
import { originalKey } from "../storage";
import { verifyOriginalSignature } from "./signing";
import { describeRoute } from "hono-openapi";
import { problem } from "../openapi/describe";

/** Originals, for Thumbor's HTTP loader only: every URL is signed and expires within minutes. */
const described = describeRoute({
	tags: ["internal"],
	summary: "An original, for Thumbor's loader only (signed, expires within minutes)",
	parameters: [
		{ name: "id", in: "path", required: true, schema: { type: "string" } },
		{ name: "exp", in: "query", required: true, schema: { type: "integer" }, description: "Expiry, epoch seconds" },
		{ name: "sig", in: "query", required: true, schema: { type: "string" }, description: "HMAC-SHA256, base64url" },
	],
	responses: {
		200: { description: "The original's bytes", content: { "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } } } },
		403: problem("Not signed, or the signature has expired (`forbidden`)"),
		404: problem("No such original"),
		500: problem("Something went wrong on our side"),
	},
});

export const originals = new Hono<{ Bindings: Env }>().get("/:id", described, async (c) => {
	const id = JobId.safeParse(c.req.param("id"));
	const exp = Number(c.req.query("exp"));
	const sig = c.req.query("sig") ?? "";
	if (!id.success || !(await verifyOriginalSignature(settings(c.env).ORIGINALS_SIGNING_KEY, id.data, exp, sig))) {
		throw new ApiError(403, "forbidden", "This URL is not signed, or its signature has expired.");
	}
	// Noting the fetch lets the consumer tell "Thumbor choked on this image" from "Thumbor could not reach us".
	const [object] = await Promise.all([c.env.BUCKET.get(originalKey(id.data)), jobStub(c.env, id.data).noteOriginalServed()]);
	if (!object) throw new ApiError(404, "not_found", "No such original.");
	return new Response(object.body, {
		headers: {
			"Content-Type": object.httpMetadata?.contentType ?? "application/octet-stream",
			"Content-Length": String(object.size),
			"Cache-Control": "private, no-store",
		},
	});
});
