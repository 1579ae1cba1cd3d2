import { Hono } from "hono";
import { z } from "zod";
import { keyObject } from "../auth/objects";
import { rateLimit } from "../auth/limits";
import { type AuthEnv, requireKey } from "../auth/middleware";
import { settings } from "../config";
import { ApiError } from "../errors";
import { ulid } from "../ids";
import { valid } from "../validate";
import { attemptDelivery } from "./deliver";
import { checkCallbackUrl } from "./url";

/** Checking an endpoint: a signed `ping`, sent at once, with the receiver's answer in the response. */
export const webhooks = new Hono<AuthEnv>()
	.use(requireKey)
	.post("/test", rateLimit("UPLOAD_RATE_LIMITER", "requests"), valid("json", z.object({ url: z.string() })), async (c) => {
		const url = checkCallbackUrl(c.req.valid("json").url, settings(c.env).webhookDevHosts);
		const secrets = await keyObject(c.env, c.var.caller.keyHash).webhookSecrets();
		if (secrets.length === 0) throw new ApiError(409, "no_webhook", "This API key has no webhook secret.");
		const id = `msg_${ulid()}`;
		const body = JSON.stringify({ type: "ping", timestamp: new Date().toISOString(), data: { keyId: c.var.caller.keyId } });
		const outcome = await attemptDelivery(url, secrets, id, body);
		return c.json(
			{ id, url, delivered: outcome.result === "delivered", status: outcome.status, error: outcome.error, ms: outcome.ms },
			200,
			{ "Cache-Control": "no-store" },
		);
	});
