import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { z } from "zod";
import { settings } from "../base/config";
import { ApiKey, NewApiKey, OwnerId } from "../base/contracts";
import { meterReset, meterSnapshot } from "../base/metering";
import { admin as adminAuth, empty, json, problem } from "../http/describe";
import { ApiError } from "../http/errors";
import { valid } from "../http/validate";
import { keyRegistry } from "../objects";
import { requireAdmin } from "./middleware";

const keyId = { name: "id", in: "path" as const, required: true, schema: { type: "string" as const } };
const NewKeyAnswer = ApiKey.extend({
	key: z.string().describe("The API key: shown here only"),
	webhookSecret: z.string().describe("whsec_…: signs this key's webhooks; shown here only"),
}).meta({ id: "NewApiKey" });
const ADMIN = {
	401: problem("No ADMIN_TOKEN, or not the right one (`unauthorized`)", "WWW-Authenticate"),
	500: problem("Something went wrong on our side (`internal_error`)"),
};
/** An admin route's description: tagged, secured by ADMIN_TOKEN, its 401 and 500 documented. */
export const describeAdmin = (
	summary: string,
	responses: Parameters<typeof describeRoute>[0]["responses"],
	parameters?: (typeof keyId)[],
) =>
	describeRoute({
		tags: ["admin"],
		summary,
		security: adminAuth,
		...(parameters && { parameters }),
		responses: { ...responses, ...ADMIN },
	});

const keyNotFound = (id: string) => new ApiError(404, "not_found", `No API key with id "${id}".`);

/** API keys, made, listed and revoked without a redeploy; guarded by ADMIN_TOKEN. */
export const admin = new Hono<{ Bindings: Env }>()
	.use(requireAdmin)
	/** Makes a key; its secret is in this answer only. */
	.post(
		"/keys",
		describeAdmin("Make an API key (and its webhook secret)", {
			201: json(NewKeyAnswer, "The key, shown once", "Location"),
			400: problem("A bad body"),
		}),
		valid("json", NewApiKey),
		async (c) => {
			const { key, secret, webhookSecret } = await keyRegistry(c.env).create(c.req.valid("json"));
			return c.json({ ...key, key: secret, webhookSecret }, 201, {
				"Cache-Control": "no-store",
				Location: `/admin/keys/${key.id}`,
			});
		},
	)
	/** A new webhook secret for the key; the old one keeps signing for WEBHOOK_SECRET_OVERLAP_HOURS. */
	.post(
		"/keys/:id/webhook-secret",
		describeAdmin(
			"Rotate a key's webhook secret (the old one keeps signing for WEBHOOK_SECRET_OVERLAP_HOURS)",
			{
				200: json(
					z.object({ id: z.string(), webhookSecret: z.string(), previousValidUntil: z.number().int() }),
					"The new secret, shown once",
				),
				404: problem("No such key"),
			},
			[keyId],
		),
		async (c) => {
			const overlapMs = settings(c.env).WEBHOOK_SECRET_OVERLAP_HOURS * 3_600_000;
			const rotated = await keyRegistry(c.env).rotateWebhookSecret(c.req.param("id"), overlapMs);
			if (!rotated) throw keyNotFound(c.req.param("id"));
			return c.json(
				{ id: c.req.param("id"), webhookSecret: rotated.secret, previousValidUntil: rotated.previousValidUntil },
				200,
				{
					"Cache-Control": "no-store",
				},
			);
		},
	)
	.get(
		"/keys",
		describeAdmin("List API keys (never their secrets)", {
			200: json(z.object({ items: z.array(ApiKey) }), "The keys"),
			400: problem("A bad parameter"),
		}),
		valid("query", z.object({ ownerId: OwnerId.optional() })),
		async (c) => {
			const keys = await keyRegistry(c.env).list(c.req.valid("query").ownerId);
			return c.json({ items: keys }, 200, { "Cache-Control": "no-store" });
		},
	)
	/** Revokes a key: it stops working everywhere within AUTH_CACHE_SECONDS. */
	.delete(
		"/keys/:id",
		describeAdmin("Revoke an API key", { 200: json(ApiKey, "The key, revoked"), 404: problem("No such key") }, [keyId]),
		async (c) => {
			const key = await keyRegistry(c.env).revoke(c.req.param("id"));
			if (!key) throw keyNotFound(c.req.param("id"));
			return c.json(key, 200, { "Cache-Control": "no-store" });
		},
	)
	/** The billed operations counted since the last reset (METER_OPS="1" only; src/base/metering.ts). */
	.get(
		"/meter",
		describeAdmin("The billed operations counted since the last reset (METER_OPS=1)", {
			200: json(z.object({ ops: z.record(z.string(), z.number()) }), "Counts by operation"),
			404: problem("Metering is off"),
		}),
		(c) => {
			requireMetering(c.env);
			return c.json({ ops: meterSnapshot() }, 200, { "Cache-Control": "no-store" });
		},
	)
	.delete(
		"/meter",
		describeAdmin("Zero the operation counts", { 204: empty("Zeroed"), 404: problem("Metering is off") }),
		(c) => {
			requireMetering(c.env);
			meterReset();
			return c.body(null, 204, { "Cache-Control": "no-store" });
		},
	);

function requireMetering(env: Env): void {
	if (env.METER_OPS !== "1") throw new ApiError(404, "not_found", "Operation metering is off (METER_OPS).");
}
