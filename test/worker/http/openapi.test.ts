import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../../src/index";

const spec = async () =>
	(await (await exports.default.fetch(new Request("http://thumbs.test/openapi.json"))).json()) as {
		openapi: string;
		paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
	};

describe("GET /openapi.json", () => {
	it("documents every route the app has, by method", async () => {
		const { openapi, paths } = await spec();
		expect(openapi).toBe("3.1.0");
		const routes = app.routes
			.filter((r) => r.method !== "ALL" && r.path !== "/openapi.json" && !r.path.endsWith("*"))
			.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
		const documented = Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
		expect(new Set(routes).size).toBeGreaterThan(15);
		for (const route of routes) expect(documented, `${route} is not in /openapi.json`).toContain(route);
	});

	it("gives every operation a success, and every keyed one 401 and 429", async () => {
		const { paths } = await spec();
		for (const [path, ops] of Object.entries(paths)) {
			for (const [method, op] of Object.entries(ops)) {
				const statuses = Object.keys(op.responses);
				expect(
					statuses.some((s) => s.startsWith("2")),
					`${method} ${path}`,
				).toBe(true);
				if (op.security?.some((s) => "apiKey" in (s as object)))
					expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(["401", "429"]));
			}
		}
	});
});
