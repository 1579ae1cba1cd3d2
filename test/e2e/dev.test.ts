/**
 * `npm run dev` as a person uses it: it comes up, it survives Thumbor dying (the
 * Worker stays up and Thumbor is started again), and Ctrl-C stops everything.
 */
import { describe, expect, inject, it } from "vitest";
import type { JobView } from "../../src/http/job-view";
import { healthUntil, killGroup, readFixture, startBlackHole, startDev } from "./support.mjs";

describe("npm run dev", () => {
	it("makes a dev key, restarts Thumbor when it dies (the Worker stays up), stops everything on Ctrl-C", async () => {
		const dev = await startDev();
		try {
			const health = async () =>
				(await (await fetch(`${dev.baseUrl}/health`)).json()) as { status: string; thumbor: string; checkedAt: string };
			expect(await health()).toEqual({ status: "ok", thumbor: "ok", checkedAt: expect.any(String) });
			// It made a development key and says so; the key works.
			const key = /API key +(et_live_\S+)/.exec(dev.output())?.[1];
			expect(key).toBeDefined();
			const job = await fetch(`${dev.baseUrl}/jobs/00000000000000000000000000`, { headers: { Authorization: `Bearer ${key}` } });
			expect(job.status).toBe(404);
			expect(dev.output()).toMatch(/Webhooks +signed with the secret in \S+\.dev-webhook-secret/);

			await killGroup(dev.thumborPid, dev.thumborPort);
			// The Worker answers while Thumbor is away (from its latest finding, seconds old: Thumbor is back
			// sooner than that goes stale, so it may still say ok; outage.test.ts sees it say unreachable).
			expect(["ok", "unreachable"]).toContain((await health()).thumbor);
			const back = await dev.waitFor(/Thumbor is back \(pid (\d+)\)/, 60_000);
			expect(Number(back[1])).not.toBe(dev.thumborPid);
			expect((await healthUntil(dev.baseUrl, "ok")).body).toMatchObject({ status: "ok" });
			expect(dev.output()).toMatch(/Thumbor exited .*starting it again in 1 s/);
		} finally {
			expect(await dev.stop()).toBe(0);
		}
		await expect(fetch(`${dev.baseUrl}/health`)).rejects.toThrow();
		await expect(fetch(`http://127.0.0.1:${dev.thumborPort}/healthcheck`)).rejects.toThrow();
	});

	it("picks up, on its next start, the jobs a stopped run left in flight (its local queue lost their messages)", async () => {
		const first = await startDev();
		let hole: Awaited<ReturnType<typeof startBlackHole>> | undefined;
		let second: Awaited<ReturnType<typeof startDev>> | undefined;
		try {
			const key = /API key +(et_live_\S+)/.exec(first.output())![1]!;
			const api = (base: string, path: string, init: RequestInit = {}) =>
				fetch(`${base}${path}`, { ...init, headers: { Authorization: `Bearer ${key}` } });
			// Thumbor hangs: a server on its port that never answers (the supervisor's restarts find the port taken).
			await killGroup(first.thumborPid, first.thumborPort);
			hole = await startBlackHole(first.thumborPort);
			// Twelve uploads, more than a queue batch: some wait in their attempt, the rest in the queue.
			const photo = readFixture(inject("fixtures"), "photo-640x480.jpg");
			const created = await Promise.all(
				Array.from({ length: 12 }, async (_, i) => {
					const bytes = new Uint8Array(photo.length + 1);
					bytes.set(photo);
					bytes[photo.length] = i; // distinct bytes after the image's end: no two jobs share a thumbnail
					return (await (await api(first.baseUrl, "/jobs", { method: "POST", body: bytes })).json()) as JobView;
				}),
			);
			await new Promise((r) => setTimeout(r, 1_500));
			const states = await Promise.all(
				created.map(async (c) => ((await (await api(first.baseUrl, `/jobs/${c.id}`)).json()) as JobView).status),
			);
			expect(
				states.every((s) => s === "queued" || s === "processing"),
				states.join(),
			).toBe(true);
			expect(await first.stop({ keep: true })).toBe(0);
			await hole.close();
			hole = undefined;

			second = await startDev({ dir: first.dir });
			const up = Date.now();
			await second.waitFor(/sent 12 jobs left unfinished by the last run to the queue again/, 10_000);
			for (const c of created) {
				let job = c;
				while (job.status !== "done" && job.status !== "failed" && Date.now() - up < 30_000) {
					job = (await (await api(second.baseUrl, `/jobs/${c.id}?wait=5`)).json()) as JobView;
				}
				expect(job.status, `${c.id} ${Date.now() - up} ms after the restart`).toBe("done");
			}
			console.log(`all 12 jobs done ${Date.now() - up} ms after the restart`);
		} finally {
			await hole?.close();
			if (second) expect(await second.stop()).toBe(0);
			else await first.stop();
		}
	});
});
