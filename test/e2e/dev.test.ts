/**
 * `npm run dev` as a person uses it: it comes up, it survives Thumbor dying (the
 * Worker stays up and Thumbor is started again), and Ctrl-C stops everything.
 */
import { describe, expect, it } from "vitest";
import { killGroup, startDev } from "./support.mjs";

describe("npm run dev", () => {
	it("starts Thumbor again when it dies, keeping the Worker up, and stops everything on Ctrl-C", async () => {
		const dev = await startDev();
		try {
			const health = async () => (await (await fetch(`${dev.baseUrl}/health`)).json()) as { status: string; thumbor: string };
			expect(await health()).toEqual({ status: "ok", thumbor: "ok" });

			await killGroup(dev.thumborPid, dev.thumborPort);
			// The Worker answers while Thumbor is away.
			expect((await health()).status).toBe("ok");
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
