import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { dayOf, monthEnd } from "../../../src/access/owner-object";
import { NO_DETAILS } from "../../../src/base/contracts";
import type { JobView } from "../../../src/http/job-view";
import { jobStub, ownerStub } from "../../../src/objects";
import { CANONICAL_ONLY, env, expectProblem, newKey, pngLike, request, WEBP } from "../helpers";

type Usage = {
	from: string;
	to: string;
	days: {
		date: string;
		uploads: number;
		thumbnails: number;
		failures: number;
		deleted: number;
		bytesReceived: number;
		bytesStored: number;
	}[];
	totals: Record<string, number>;
	inFlight: number;
	quota: { limit: number; used: number; resetsAt: string } | null;
};

const usageOf = async (key: string, query = "") => (await (await request(`/usage${query}`, {}, key)).json()) as Usage;

describe("GET /usage", () => {
	it("counts each upload once its job ends, on the day it was uploaded: thumbnails, failures, bytes", async () => {
		const { secret } = await newKey();
		const upload = async (size: number) =>
			(await (await request("/jobs", { method: "POST", body: pngLike(size) }, secret)).json()) as JobView;
		const done = await upload(700);
		const failed = await upload(800);
		const waiting = await upload(900);

		const before = await usageOf(secret);
		expect(before).toMatchObject({ days: [], inFlight: 3, quota: { limit: 1000, used: 3 } });

		const stub = jobStub(env, done.id);
		await stub.begin();
		await stub.storeThumbnail(CANONICAL_ONLY, NO_DETAILS, null);
		await jobStub(env, failed.id).fail({ code: "unprocessable_image", message: "corrupt" });
		// The release that counts them is sent in the background.
		await expect.poll(async () => (await usageOf(secret)).inFlight).toBe(1);

		const today = dayOf(Date.now());
		const usage = await usageOf(secret);
		expect(usage.to).toBe(today);
		expect(usage.days).toEqual([
			{
				date: today,
				uploads: 2,
				thumbnails: 1,
				failures: 1,
				deleted: 0,
				bytesReceived: 700 + 800,
				bytesStored: WEBP.lossy100.length,
			},
		]);
		expect(usage.totals).toMatchObject({ uploads: 2, thumbnails: 1, failures: 1 });

		// Deleted in flight: an upload that came to nothing.
		await request(`/jobs/${waiting.id}`, { method: "DELETE" }, secret);
		await expect.poll(async () => (await usageOf(secret)).inFlight).toBe(0);
		expect((await usageOf(secret)).days[0]).toMatchObject({ uploads: 3, deleted: 1, bytesReceived: 700 + 800 + 900 });
		// Another owner sees none of it.
		expect((await usageOf((await newKey()).secret)).days).toEqual([]);
	});

	it("takes a range of at most 366 days, from before to", async () => {
		const { secret } = await newKey();
		expect(await usageOf(secret, "?from=2026-01-01&to=2026-01-31")).toMatchObject({ from: "2026-01-01", to: "2026-01-31" });
		await expectProblem(await request("/usage?from=2026-02-01&to=2026-01-31", {}, secret), 400, "invalid_parameter");
		await expectProblem(await request("/usage?from=2024-01-01&to=2026-01-31", {}, secret), 400, "invalid_parameter");
		await expectProblem(await request("/usage?from=yesterday", {}, secret), 400, "invalid_parameter");
	});
});

describe("MONTHLY_UPLOAD_QUOTA", () => {
	it("refuses an owner's uploads past the month's quota with 429 quota_exceeded and when it starts again", async () => {
		// The quota is 1000 here (vitest.config.ts): this owner is started at 998 used this month.
		const { secret, ownerId } = await newKey();
		const post = (size: number, key = secret) => request("/jobs", { method: "POST", body: pngLike(size) }, key);
		expect((await post(600)).status).toBe(202); // in flight: 1
		await runInDurableObject(ownerStub(env, ownerId), (_o, state) =>
			state.storage.sql.exec(
				"INSERT INTO usage (day, uploads, thumbnails, failures, deleted, bytes_received, bytes_stored) VALUES (?, 998, 0, 0, 0, 0, 0)",
				dayOf(Date.now()),
			),
		);
		expect((await post(601)).status).toBe(202); // 998 ended + 1 in flight: the 1000th
		const refused = await post(602);
		const resetsAt = new Date(monthEnd(Date.now())).toISOString();
		const body = await expectProblem(refused, 429, "quota_exceeded");
		expect(body).toMatchObject({ limit: 1000, used: 1000, resetsAt });
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
		// Another owner has a quota of its own.
		const other = await newKey();
		expect((await post(603, other.secret)).status).toBe(202);
		// /usage says where the owner stands.
		expect((await usageOf(secret)).quota).toEqual({ limit: 1000, used: 1000, resetsAt });
	});
});
