import { Hono } from "hono";
import { z } from "zod";
import { NewApiKey, OwnerId } from "../contracts";
import { settings } from "../config";
import { ApiError } from "../errors";
import { valid } from "../validate";
import { requireAdmin } from "./middleware";
import { keyRegistry } from "./objects";
import { meterReset, meterSnapshot } from "../metering";

const keyNotFound = (id: string) => new ApiError(404, "not_found", `No API key with id "${id}".`);

/** API keys, made, listed and revoked without a redeploy; guarded by ADMIN_TOKEN. */
export const admin = new Hono<{ Bindings: Env }>()
	.use(requireAdmin)
	/** Makes a key; its secret is in this answer only. */
	.post("/keys", valid("json", NewApiKey), async (c) => {
		const { key, secret, webhookSecret } = await keyRegistry(c.env).create(c.req.valid("json"));
		return c.json({ ...key, key: secret, webhookSecret }, 201, { "Cache-Control": "no-store", Location: `/admin/keys/${key.id}` });
	})
	/** A new webhook secret for the key; the old one keeps signing for WEBHOOK_SECRET_OVERLAP_HOURS. */
	.post("/keys/:id/webhook-secret", async (c) => {
		const overlapMs = settings(c.env).WEBHOOK_SECRET_OVERLAP_HOURS * 3_600_000;
		const rotated = await keyRegistry(c.env).rotateWebhookSecret(c.req.param("id"), overlapMs);
		if (!rotated) throw keyNotFound(c.req.param("id"));
		return c.json({ id: c.req.param("id"), webhookSecret: rotated.secret, previousValidUntil: rotated.previousValidUntil }, 200, {
			"Cache-Control": "no-store",
		});
	})
	.get("/keys", valid("query", z.object({ ownerId: OwnerId.optional() })), async (c) => {
		const keys = await keyRegistry(c.env).list(c.req.valid("query").ownerId);
		return c.json({ items: keys }, 200, { "Cache-Control": "no-store" });
	})
	/** Revokes a key: it stops working everywhere within AUTH_CACHE_SECONDS. */
	.delete("/keys/:id", async (c) => {
		const key = await keyRegistry(c.env).revoke(c.req.param("id"));
		if (!key) throw keyNotFound(c.req.param("id"));
		return c.json(key, 200, { "Cache-Control": "no-store" });
	})
	/** The billed operations counted since the last reset (METER_OPS="1" only; src/metering.ts). */
	.get("/meter", (c) => {
		requireMetering(c.env);
		return c.json({ ops: meterSnapshot() }, 200, { "Cache-Control": "no-store" });
	})
	.delete("/meter", (c) => {
		requireMetering(c.env);
		meterReset();
		return c.body(null, 204, { "Cache-Control": "no-store" });
	});

function requireMetering(env: Env): void {
	if (env.METER_OPS !== "1") throw new ApiError(404, "not_found", "Operation metering is off (METER_OPS).");
}
