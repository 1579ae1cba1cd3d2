import { afterEach, describe, expect, it, vi } from "vitest";
import { thumborOrigin } from "../../../src/render/origins";
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

	it("routes to a ThumborContainer instance when THUMBOR_URL is empty", async () => {
		const origin = thumborOrigin({ ...env, THUMBOR_URL: "" }, "job:1");
		// The test runtime has no container engine: reaching the object is what is checked here.
		const res = await origin.render("/sig/op/name", new Response("original").body!, {}, AbortSignal.timeout(5000));
		expect(res.status).toBe(503);
		expect(await res.text()).toMatch(/has no container/);
		expect(await origin.healthy()).toBe(false);
	});
});
