/**
 * Sends again every job in flight whose queue message may be lost: each owner's jobs in
 * flight (their OwnerObjects, found through the keys' owners) are asked to requeue
 * (JobObject.requeue). In production the queue keeps its messages and each job's watchdog
 * alarm covers the rest, so this is a tool for after an incident; `npm run dev` calls it
 * on every start (with `abandonLeases`), since a local queue loses its messages on restart.
 */
import { Hono } from "hono";
import { z } from "zod";
import { describeAdmin } from "../access/admin";
import { requireAdmin } from "../access/middleware";
import { json, problem } from "../http/describe";
import { valid } from "../http/validate";
import { jobStub, keyRegistry, ownerStub } from "../objects";

export interface Requeued {
	/** Jobs in flight that were looked at. */
	inFlight: number;
	/** Of those, the ones sent to the queue again. */
	requeued: number;
}

export async function requeueStranded(env: Env, abandonLeases: boolean): Promise<Requeued> {
	const owners = await keyRegistry(env).owners();
	const perOwner = await Promise.all(
		owners.map(async (ownerId) => {
			const ids = await ownerStub(env, ownerId).inFlightJobs();
			const sent = await Promise.all(ids.map((id) => jobStub(env, id).requeue(abandonLeases)));
			return { inFlight: ids.length, requeued: sent.filter(Boolean).length };
		}),
	);
	return perOwner.reduce((sum, n) => ({ inFlight: sum.inFlight + n.inFlight, requeued: sum.requeued + n.requeued }), {
		inFlight: 0,
		requeued: 0,
	});
}

/** POST /admin/jobs/requeue (ADMIN_TOKEN). */
export const requeueAdmin = new Hono<{ Bindings: Env }>()
	.use(requireAdmin)
	/** Sends again every job in flight whose queue message may be lost (jobs/requeue.ts). */
	.post(
		"/requeue",
		describeAdmin("Send again the jobs in flight whose queue message may be lost (npm run dev does this on every start)", {
			200: json(
				z.object({ inFlight: z.number().int(), requeued: z.number().int() }),
				"How many jobs were in flight, and how many were sent again",
			),
			400: problem("A bad body"),
		}),
		valid(
			"json",
			z.object({
				abandonLeases: z.boolean().default(false).describe("Take every lease as held by a dead attempt (the Worker restarted)"),
			}),
		),
		async (c) => c.json(await requeueStranded(c.env, c.req.valid("json").abandonLeases), 200, { "Cache-Control": "no-store" }),
	);
