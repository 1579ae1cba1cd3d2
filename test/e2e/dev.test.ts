/**
 * `npm run dev` as a person uses it: it comes up, it survives Thumbor dying (the
 * Worker stays up and Thumbor is started again), and Ctrl-C stops everything.
 */
import { describe, expect, it } from "vitest";
import { killGroup, startDev } from "./support.mjs";

describe("npm run dev", () => {
	it("makes a development key, starts Thumbor again when it dies (the Worker stays up), and stops everything on Ctrl-C", async () => {
		const dev = await startDev();
		try {
			const health = async () => (await (await fetch(`${dev.baseUrl}/health`)).json()) as { status: string; thumbor: string; detail?: string };
			expect(await health()).toEqual({ status: "ok", thumbor: "ok" });
			// It made a development key and says so; the key works.
			const key = /API key +(et_live_\S+)/.exec(dev.output())?.[1];
			expect(key).toBeDefined();
			const job = await fetch(`${dev.baseUrl}/jobs/00000000000000000000000000`, { headers: { Authorization: `Bearer ${key}` } });
			expect(job.status).toBe(404);
			expect(dev.output()).toMatch(/Webhooks +signed with the secret in \S+\.dev-webhook-secret/);

			await killGroup(dev.thumborPid, dev.thumborPort);
			// The Worker answers while Thumbor is away, and says it is degraded.
			expect(await health()).toMatchObject({ status: "degraded", thumbor: "unreachable" });
			const back = await dev.waitFor(/Thumbor is back \(pid (\d+)\)/, 60_000);
			expect(Number(back[1])).not.toBe(dev.thumborPid);
			expect(await health()).toEqual({ status: "ok", thumbor: "ok" });
			expect(dev.output()).toMatch(/Thumbor exited .*starting it again in 1 s/);
		} finally {
			expect(await dev.stop()).toBe(0);
		}
		await expect(fetch(`${dev.baseUrl}/health`)).rejects.toThrow();
		await expect(fetch(`http://127.0.0.1:${dev.thumborPort}/healthcheck`)).rejects.toThrow();
	});
});
