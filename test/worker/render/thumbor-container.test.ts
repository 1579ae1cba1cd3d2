import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { settings } from "../../../src/base/config";
import { ulid } from "../../../src/base/ids";
import { slugClaim } from "../../../src/objects";
import { THUMBOR_PORT, ThumborContainer } from "../../../src/render/thumbor-container";
import { env } from "../helpers";

/**
 * A stand-in for the runtime's container (the test runtime runs none): it records how it is
 * started and answers on Thumbor's port as a Thumbor would, once started.
 */
function fakeContainer() {
	const seen: {
		started: ContainerStartupOptions[];
		requests: { port: number; url: string; method: string; traceparent: string | null }[];
	} = {
		started: [],
		requests: [],
	};
	const container = {
		running: false,
		start(options: ContainerStartupOptions) {
			seen.started.push(options);
			container.running = true;
		},
		monitor: () => new Promise<void>(() => {}),
		destroy: async () => {},
		signal: () => {},
		getTcpPort: (port: number) => ({
			fetch: async (url: string, init?: RequestInit) => {
				const request = new Request(url, init);
				seen.requests.push({ port, url: request.url, method: request.method, traceparent: request.headers.get("traceparent") });
				if (!container.running) throw new Error("connection refused");
				return new Response(request.method === "POST" ? "WEBP" : "WORKING");
			},
		}),
		setInactivityTimeout: async () => {},
		interceptOutboundHttp: async () => {},
	};
	return { container, seen };
}

/** A ThumborContainer on a real Durable Object's storage, with `container` as its runtime container. */
async function withContainer<T>(container: object, work: (thumbor: ThumborContainer) => Promise<T>): Promise<T> {
	return runInDurableObject(slugClaim(env, `container-${ulid()}`), async (_obj, state) => {
		// The runtime's own state object (its constructor checks that), given a container.
		Object.defineProperty(state, "container", { value: container });
		return work(new ThumborContainer(state as DurableObjectState<never>, env));
	});
}

describe("ThumborContainer (@cloudflare/containers)", () => {
	it("is configured as Thumbor needs: its port, no internet, the shared key and limits, asleep after 10 idle minutes", async () => {
		const { container } = fakeContainer();
		await withContainer(container, async (thumbor) => {
			const cfg = settings(env);
			expect(thumbor.defaultPort).toBe(THUMBOR_PORT);
			expect(thumbor.enableInternet).toBe(false);
			expect(thumbor.sleepAfter).toBe("10m");
			expect(thumbor.pingEndpoint).toBe("thumbor/healthcheck");
			expect(thumbor.envVars).toEqual({
				THUMBOR_SECURITY_KEY: cfg.THUMBOR_SECURITY_KEY,
				THUMBOR_MAX_PIXELS: String(cfg.MAX_PIXELS),
				THUMBOR_MAX_DECODED_BYTES: String(cfg.MAX_DECODED_BYTES),
			});
		});
	});

	it("starts Thumbor on first use with that configuration, waits for its health check, then forwards the request", async () => {
		const { container, seen } = fakeContainer();
		await withContainer(container, async (thumbor) => {
			expect(await thumbor.healthy()).toBe(false); // not running: a health check never starts it
			expect(seen.started).toEqual([]);
			const res = await thumbor.render("/sig/100x100/smart/job", new Response("original").body!, { traceparent: "00-t" });
			expect(await res.text()).toBe("WEBP");
			expect(seen.started).toHaveLength(1);
			expect(seen.started[0]).toMatchObject({ enableInternet: false, env: thumbor.envVars });
			const last = seen.requests.at(-1)!;
			expect(last).toEqual({
				port: THUMBOR_PORT,
				url: "http://thumbor/sig/100x100/smart/job",
				method: "POST",
				traceparent: "00-t",
			});
			expect(seen.requests.some((r) => r.url === "http://thumbor/healthcheck")).toBe(true);
			expect(await thumbor.healthy()).toBe(true);
		});
	});

	it("answers 503 (a passing fault) when the container cannot be started", async () => {
		const { container } = fakeContainer();
		container.start = () => {
			throw new Error("no capacity");
		};
		await withContainer(container, async (thumbor) => {
			const res = await thumbor.render("/sig/op/job", new Response("original").body!);
			expect(res.status).toBe(503);
			expect(await res.text()).toMatch(/did not start/);
		});
	});
});
