import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { z } from "zod";
import { rateLimit } from "../access/limits";
import { type AuthEnv, requireKey } from "../access/middleware";
import { settings } from "../base/config";
import { ulid } from "../base/ids";
import { bearer, json, KEYED, problem } from "../http/describe";
import { ApiError } from "../http/errors";
import { valid } from "../http/validate";
import { keyObject } from "../objects";
import { attemptDelivery } from "./deliver";
import { checkCallbackUrl } from "./url";

const PingResult = z
	.object({
		id: z.string().describe("The webhook-id sent"),
		url: z.string(),
		delivered: z.boolean(),
		status: z.number().int().nullable(),
		error: z.string().nullable(),
		ms: z.number().int(),
	})
	.meta({ id: "PingResult" });

/** Checking an endpoint: a signed `ping`, sent at once, with the receiver's answer in the response. */
export const webhooks = new Hono<AuthEnv>().use(requireKey).post(
	"/test",
	describeRoute({
		tags: ["webhooks"],
		summary: "Send a signed `ping` to a URL now, and see what it answered",
		security: bearer,
		responses: {
			200: json(PingResult, "The receiver's answer (delivered: a 2xx)"),
			...KEYED,
			400: problem("A bad body or callback URL (`invalid_callback_url`)"),
			409: problem("This API key has no webhook secret (`no_webhook`)"),
		},
	}),
	rateLimit("UPLOAD_RATE_LIMITER", "requests"),
	valid("json", z.object({ url: z.string() })),
	async (c) => {
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
	},
);
