/**
 * Thumbor down for a long while, on a stack of this test's own (so the other files keep
 * theirs): jobs wait, saying why, and all finish once Thumbor is back. Retries are
 * compressed about 20-fold: 15 s here stands for a 5-minute outage, which with the old five
 * attempts (4+8+16+32 s) failed every job for good.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readWebpInfo } from "../../src/images/webp";
import type { JobView } from "../../src/jobs/view";
import { readFixture, startOwnStack } from "./support.mjs";

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
		while (Date.now() < outageEnds) {
			await new Promise((r) => setTimeout(r, 500));
			for (const c of created) {
				job = (await (await api(`/jobs/${c.id}`)).json()) as JobView;
				expect(job.status).not.toBe("failed");
				// Between attempts a job says why it waits and until when.
				if (job.nextAttemptAt && job.error?.code === "thumbor_unavailable") sawBackoff = true;
			}
		}
		expect(sawBackoff).toBe(true);
		expect(["queued", "processing"]).toContain(job.status);
		expect(job.attempts).toBeGreaterThanOrEqual(5);
		const health = (await (await fetch(`${stack.baseUrl}/health`)).json()) as { thumbor: string };
		expect(health.thumbor).toBe("unreachable");

		await stack.restartThumbor();
		for (const c of created) {
			let done = c;
			while (done.status !== "done" && done.status !== "failed") done = (await (await api(`/jobs/${c.id}?wait=20`)).json()) as JobView;
			expect(done.status).toBe("done");
			expect(done.error).toBeUndefined();
			const bytes = new Uint8Array(await (await fetch(done.thumbnailUrl)).arrayBuffer());
			expect(readWebpInfo(bytes)).toEqual({ width: 100, height: 100, animated: false });
		}
	});
});
