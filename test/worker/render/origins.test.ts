import { afterEach, describe, expect, it, vi } from "vitest";
import { HEALTH_OK_MS, HEALTH_RECHECK_MS, healthCache, type OriginHealth, thumborOrigin } from "../../../src/render/origins";
import { env } from "../helpers";

describe("where Thumbor is", () => {
	afterEach(() => vi.restoreAllMocks());

	it("POSTs the original to THUMBOR_URL when it is set", async () => {
		const fetch = vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("WORKING"));
		const origin = thumborOrigin({ ...env, THUMBOR_URL: "http://thumbor.internal:8888/" }, "job:1");
		const body = new Response("original").body!;
		const headers = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" };
		expect(await (await origin.render("/sig/op/name", body, headers, AbortSignal.timeout(5000))).text()).toBe("WORKING");
		expect(fetch).toHaveBeenCalledWith(
			"http://thumbor.internal:8888/sig/op/name",
			expect.objectContaining({ method: "POST", body, headers }),
		);
		expect(await origin.healthy()).toBe(true);
		expect(fetch).toHaveBeenLastCalledWith("http://thumbor.internal:8888/healthcheck", expect.anything());
	});

	it("routes to one of THUMBOR_INSTANCES containers by job and attempt, so a retry can land elsewhere", async () => {
		// A namespace that records which instance is asked, and what (the test runtime runs no containers).
		const asked: { name: string; path: string; headers: Record<string, string> }[] = [];
		const THUMBOR = {
			idFromName: (name: string) => ({ name }),
			get: ({ name }: { name: string }) => ({
				render: async (path: string, original: ReadableStream, headers: Record<string, string>) => {
					await original.cancel();
					asked.push({ name, path, headers });
					return new Response("WEBP");
				},
				healthy: async () => name === "thumbor-0",
			}),
		} as unknown as Env["THUMBOR"];
		const containers = { ...env, THUMBOR_URL: "", THUMBOR_INSTANCES: "4", THUMBOR };
		const instances = new Set<string>();
		for (let attempt = 1; attempt <= 40; attempt++) {
			const origin = thumborOrigin(containers, `01kb0000000000000000000000:${attempt}`);
			const res = await origin.render("/sig/op/name", new Response("x").body!, { traceparent: "t" }, AbortSignal.timeout(5000));
			expect(await res.text()).toBe("WEBP");
			instances.add(asked.at(-1)!.name);
		}
		expect([...instances].sort()).toEqual(["thumbor-0", "thumbor-1", "thumbor-2", "thumbor-3"]);
		expect(asked[0]).toMatchObject({ path: "/sig/op/name", headers: { traceparent: "t" } });
		// The same job and attempt always go to the same instance.
		const again = thumborOrigin(containers, "01kb0000000000000000000000:1");
		await again.render("/p", new Response("x").body!, {}, AbortSignal.timeout(5000));
		expect(asked.at(-1)!.name).toBe(asked[0]!.name);
	});
});

describe("the health check's cache", () => {
	/** A probe that counts its round trips and answers `finding`; a clock the test moves. */
	function setUp(finding: OriginHealth) {
		const state = { now: 1_000_000, calls: 0, finding };
		let release: () => void = () => {};
		const gate = { held: false };
		const probe = async () => {
			state.calls++;
			if (gate.held) await new Promise<void>((r) => (release = r));
			return state.finding;
		};
		const check = healthCache(probe, () => state.now);
		const holdProbe = () => {
			gate.held = true;
		};
		const releaseProbe = () => {
			gate.held = false;
			release();
		};
		return { state, check, hold: holdProbe, release: releaseProbe };
	}

	it("makes one round trip however many ask at once, and keeps an ok finding HEALTH_OK_MS", async () => {
		const { state, check, hold, release } = setUp({ thumbor: "ok" });
		hold();
		const flood = Array.from({ length: 200 }, () => check());
		release();
		const answers = await Promise.all(flood);
		expect(state.calls).toBe(1);
		expect(new Set(answers.map((a) => a.checkedAt))).toEqual(new Set([1_000_000]));
		state.now += HEALTH_OK_MS - 1;
		await check();
		expect(state.calls).toBe(1);
		state.now += 1;
		expect(await check()).toEqual({ thumbor: "ok", checkedAt: state.now });
		expect(state.calls).toBe(2);
	});

	it("looks again sooner after a finding that is not ok, and logs its reason instead of answering it", async () => {
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		const { state, check } = setUp({ thumbor: "misconfigured", detail: "Thumbor answered 400 at http://10.0.0.7:8888" });
		expect(await check()).toMatchObject({ thumbor: "misconfigured" });
		expect(warn).toHaveBeenCalledWith(expect.stringContaining("10.0.0.7"));
		state.now += HEALTH_RECHECK_MS - 1;
		await check();
		expect(state.calls).toBe(1);
		state.finding = { thumbor: "ok" };
		state.now += 1;
		expect(await check()).toMatchObject({ thumbor: "ok" });
		expect(state.calls).toBe(2);
		warn.mockRestore();
	});
});
