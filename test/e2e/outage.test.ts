/**
 * Thumbor down for a long while, then running with the wrong key, on a stack of this file's
 * own (so the other files keep theirs): jobs wait, saying why, and all finish once Thumbor
 * is back as it should be. Retries are compressed about 20-fold: 15 s here stands for a
 * 5-minute outage.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { JobView } from "../../src/http/job-view";
import { readWebpInfo } from "../../src/images/webp";
import { expectNoInternals, healthUntil, readFixture, readLog, startOwnStack } from "./support.mjs";

let stack: Awaited<ReturnType<typeof startOwnStack>>;
beforeAll(async () => {
	stack = await startOwnStack({ RETRY_BASE_SECONDS: "0.25", RETRY_MAX_DELAY_SECONDS: "2", RETRY_WINDOW_SECONDS: "600" });
});
afterAll(async () => stack?.stop());

const api = (path: string, init: RequestInit = {}) =>
	fetch(`${stack.baseUrl}${path}`, { ...init, headers: { Authorization: `Bearer ${stack.apiKey}` } });

describe("nothing is lost while Thumbor is down", () => {
	it("keeps jobs queued through a long outage, saying why, and finishes them once Thumbor is back", async () => {
		await stack.stopThumbor();
		const image = readFixture(inject("fixtures"), "photo-640x480.jpg");
		const created = await Promise.all(
			[1, 2, 3].map(async () => (await (await api("/jobs", { method: "POST", body: image })).json()) as JobView),
		);
		const outageEnds = Date.now() + 15_000;
		let job = created[0]!;
		let sawBackoff = false;
		const messages = new Set<string>();
		while (Date.now() < outageEnds) {
			await new Promise((r) => setTimeout(r, 500));
			for (const c of created) {
				job = (await (await api(`/jobs/${c.id}`)).json()) as JobView;
				expect(job.status).not.toBe("failed");
				// Between attempts a job says why it waits and until when.
				if (job.nextAttemptAt && job.error?.code === "thumbor_unavailable") sawBackoff = true;
				if (job.error) messages.add(job.error.message);
				expectNoInternals(JSON.stringify(job), { allowed: [stack.baseUrl] });
			}
		}
		expect(sawBackoff).toBe(true);
		expect(["queued", "processing"]).toContain(job.status);
		expect(job.attempts).toBeGreaterThanOrEqual(5);
		const down = await healthUntil(stack.baseUrl, "unreachable");
		expect(down).toMatchObject({ status: 503, body: { status: "degraded" } });
		expectNoInternals(JSON.stringify(down.body));
		// What the job says is the public description; the runtime's words are in the Worker's log only.
		expect([...messages]).toEqual(["The image service could not be reached; the job waits and is tried again."]);

		await stack.restartThumbor();
		for (const c of created) {
			let done = c;
			while (done.status !== "done" && done.status !== "failed")
				done = (await (await api(`/jobs/${c.id}?wait=20`)).json()) as JobView;
			expect(done.status).toBe("done");
			expect(done.error).toBeUndefined();
			const bytes = new Uint8Array(await (await fetch(done.thumbnailUrl)).arrayBuffer());
			expect(readWebpInfo(bytes)).toEqual({ width: 100, height: 100, animated: false });
		}
	});

	it("never blames the image for a wrongly keyed Thumbor: jobs wait, /health says so, all finish once fixed", async () => {
		// One character off, as a key copied by hand would be.
		const wrong = `${stack.thumborKey.slice(0, -1)}${stack.thumborKey.endsWith("A") ? "B" : "A"}`;
		await stack.stopThumbor();
		await stack.restartThumbor(wrong);
		// The component and its state to anyone; why, to the operator's log.
		const health = await healthUntil(stack.baseUrl, "misconfigured");
		expect(health).toEqual({
			status: 503,
			body: { status: "degraded", thumbor: "misconfigured", checkedAt: expect.any(String) },
		});
		expectNoInternals(JSON.stringify(health.body));
		// (wrangler writes its log a moment after the answer: waited for, not assumed.)
		await expect.poll(() => readLog(stack.logDir, "wrangler")).toMatch(/health: Thumbor misconfigured: .*THUMBOR_SECURITY_KEY/);

		// Not the photo of the test before: the same bytes would copy its thumbnail without asking Thumbor.
		const names = ["alpha-300x200.png", "photo-256.webp", "photo-200x150.tiff"];
		const created = await Promise.all(
			names.map(
				async (name) =>
					(await (await api("/jobs", { method: "POST", body: readFixture(inject("fixtures"), name) })).json()) as JobView,
			),
		);
		// Several attempts each, every one refused by Thumbor: the jobs wait, saying why.
		const seen = new Map<string, JobView>();
		const deadline = Date.now() + 30_000;
		while (seen.size < created.length && Date.now() < deadline) {
			await new Promise((r) => setTimeout(r, 500));
			for (const c of created) {
				const job = (await (await api(`/jobs/${c.id}`)).json()) as JobView;
				expect(job.status).not.toBe("failed");
				if (job.attempts >= 3 && job.error?.code === "thumbor_misconfigured") seen.set(job.id, job);
				expectNoInternals(JSON.stringify(job), { allowed: [stack.baseUrl] });
			}
		}
		expect([...seen.values()].map((j) => [j.status, j.error?.code])).toEqual(
			created.map(() => ["queued", "thumbor_misconfigured"]),
		);
		expect(readLog(stack.logDir, "wrangler")).toMatch(/THUMBOR MISCONFIGURED: it answered 400 without looking at the image/);

		await stack.stopThumbor();
		await stack.restartThumbor();
		expect((await healthUntil(stack.baseUrl, "ok")).status).toBe(200);
		for (const c of created) {
			let done = c;
			while (done.status !== "done" && done.status !== "failed")
				done = (await (await api(`/jobs/${c.id}?wait=20`)).json()) as JobView;
			expect(done.status).toBe("done");
			const bytes = new Uint8Array(await (await fetch(done.thumbnailUrl)).arrayBuffer());
			expect(readWebpInfo(bytes)).toEqual({ width: 100, height: 100, animated: false });
		}
	});
});
