/**
 * GET /usage: what the caller's owner used, by day (UTC) of upload, from the usage its
 * OwnerObject counts as each job ends (no request per job beyond the release it already
 * makes). One request per read: the owner's object.
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { z } from "zod";
import { settings } from "../base/config";
import { UsageDay } from "../base/contracts";
import { bearer, json, KEYED } from "../http/describe";
import { ApiError } from "../http/errors";
import { valid } from "../http/validate";
import { ownerStub } from "../objects";
import { rateLimit } from "./limits";
import { type AuthEnv, requireKey } from "./middleware";
import { dayOf, monthEnd } from "./owner-object";

const DAY_MS = 86_400_000;
/** The longest range one read may ask for. */
export const MAX_USAGE_DAYS = 366;

const UsageQuery = z.object({
	from: z.iso.date().optional().describe("First day (UTC), YYYY-MM-DD; default 29 days before `to`"),
	to: z.iso.date().optional().describe("Last day (UTC), YYYY-MM-DD, inclusive; default today"),
});

const Totals = UsageDay.omit({ date: true });
const Usage = z
	.object({
		from: z.iso.date(),
		to: z.iso.date(),
		days: z.array(UsageDay).describe("Each day of the range with any usage, oldest first"),
		totals: Totals.describe("The range's days added up"),
		inFlight: z.number().int().describe("Uploads whose jobs have not ended yet: counted once they end"),
		uploading: z
			.number()
			.int()
			.describe("Resumable uploads still receiving bytes (GET /uploads lists them): under a cap of their own"),
		quota: z
			.object({
				limit: z.number().int(),
				used: z.number().int().describe("Uploads this month (UTC), ended and in flight"),
				resetsAt: z.iso.datetime(),
			})
			.nullable()
			.describe("MONTHLY_UPLOAD_QUOTA and this month's use of it; null when there is no quota"),
	})
	.meta({ id: "Usage" });

const add = (a: z.infer<typeof Totals>, b: z.infer<typeof Totals>) =>
	Object.fromEntries(Object.keys(a).map((k) => [k, a[k as keyof typeof a] + b[k as keyof typeof b]])) as z.infer<typeof Totals>;
const ZERO = { uploads: 0, thumbnails: 0, failures: 0, deleted: 0, bytesReceived: 0, bytesStored: 0 };

export const usage = new Hono<AuthEnv>().use(requireKey).get(
	"/",
	describeRoute({
		tags: ["jobs"],
		summary: "What the caller's owner used, by day",
		description:
			"Uploads, thumbnails made, failures and bytes, by the day (UTC) each upload was accepted, counted as its " +
			"job ends; uploads still in flight are `inFlight`. At most 366 days per request.",
		security: bearer,
		responses: { 200: json(Usage, "The owner's usage over the range"), ...KEYED },
	}),
	rateLimit("READ_RATE_LIMITER", "requests"),
	valid("query", UsageQuery),
	async (c) => {
		const now = Date.now();
		const query = c.req.valid("query");
		const to = query.to ?? dayOf(now);
		const from = query.from ?? dayOf(Date.parse(to) - 29 * DAY_MS);
		const span = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
		if (span < 1 || span > MAX_USAGE_DAYS) {
			throw new ApiError(400, "invalid_parameter", `from must not be after to, and the range at most ${MAX_USAGE_DAYS} days.`);
		}
		const { days, inFlight, uploading, thisMonth } = await ownerStub(c.env, c.var.caller.ownerId).usage(from, to);
		const limit = settings(c.env).MONTHLY_UPLOAD_QUOTA;
		const quota = limit > 0 ? { limit, used: thisMonth, resetsAt: new Date(monthEnd(now)).toISOString() } : null;
		return c.json({ from, to, days, totals: days.reduce(add, ZERO), inFlight, uploading, quota }, 200, {
			"Cache-Control": "no-store",
		});
	},
);
