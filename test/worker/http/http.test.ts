import { describe, expect, it } from "vitest";
import { expectProblem, request } from "../helpers";

describe("the HTTP edge: health, unknown routes and methods, the pages", () => {
	it("answers /health: 503 while Thumbor does not answer (it is down in these runs)", async () => {
		const res = await request("/health");
		expect(res.status).toBe(503);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		// The component and its state, and when that was found; why is for the logs.
		expect(await res.json()).toEqual({ status: "degraded", thumbor: "unreachable", checkedAt: expect.any(String) });
	});

	it("serves its pages under a strict Content-Security-Policy: own inline script by nonce only, never framed", async () => {
		for (const path of ["/", "/docs"]) {
			const res = await request(path, {}, null);
			const html = await res.text();
			const policy = res.headers.get("Content-Security-Policy") ?? "";
			const nonce = /script-src 'nonce-([^']+)'/.exec(policy)?.[1];
			expect(nonce, path).toBeDefined();
			expect(policy).toContain("frame-ancestors 'none'");
			expect(policy).toContain("default-src 'none'");
			expect(policy).not.toContain("unsafe-inline");
			// Every script and style carries this answer's nonce, and the next answer has another.
			const tags = html.match(/<script\b[^>]*>|<style\b[^>]*>|<link rel="stylesheet"[^>]*>/g) ?? [];
			expect(tags.length, path).toBeGreaterThan(1);
			for (const tag of tags) expect(tag).toContain(` nonce="${nonce}"`);
			// Scripts and styles from a file come from this origin.
			for (const tag of tags) expect(tag).not.toMatch(/(src|href)="(https?:)?\/\//);
			expect((await request(path, {}, null)).headers.get("Content-Security-Policy")).not.toContain(nonce);
			expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
		}
	});

	it("answers unknown routes in the one error format", async () => {
		await expectProblem(await request("/nope"), 404, "not_found");
		await expectProblem(await request("/jobs/01h/nope", { method: "POST" }), 404, "not_found");
	});

	it("answers a method a known path does not take with 405 and Allow, in the one error format", async () => {
		const id = "01kb0000000000000000000000";
		for (const [path, method, allow] of [
			["/jobs", "PUT", "GET, HEAD, POST"],
			[`/jobs/${id}`, "PATCH", "GET, HEAD, DELETE"],
			[`/jobs/${id}/retry`, "GET", "POST"],
			["/health", "DELETE", "GET, HEAD"],
			["/thumbnails/some-slug.webp", "POST", "GET, HEAD"],
			["/openapi.json", "PUT", "GET, HEAD"],
		] as const) {
			const res = await request(path, { method });
			expect(res.headers.get("Allow"), `${method} ${path}`).toBe(allow);
			const problem = await expectProblem(res, 405, "method_not_allowed");
			expect(problem.allow).toEqual(allow.split(", "));
		}
	});
});
