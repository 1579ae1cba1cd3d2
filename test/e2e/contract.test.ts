/**
 * The API as /openapi.json describes it: a valid OpenAPI 3.1 document by an independent
 * validator, a reference page that needs no internet, and a typed client (hono/client)
 * that works against the real stack. (Every response of every e2e test is held to the
 * document as well: contract-setup.ts.)
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { hc } from "hono/client";
import { describe, expect, inject, it } from "vitest";
import type { AppType } from "../../src/index";
import { readFixture } from "./support.mjs";

const base = inject("baseUrl");

describe("/openapi.json", () => {
	it("is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)", async () => {
		const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
		const result = await new Validator().validate(spec);
		expect(result.errors).toBeUndefined();
		expect(result.valid).toBe(true);
		expect(Object.keys(spec.paths)).toEqual(
			expect.arrayContaining(["/jobs", "/jobs/{id}", "/thumbnails/{file}", "/webhooks/test", "/admin/keys"]),
		);
	});

	it("is rendered at /docs from this origin alone: the renderer's files are served here, cached for good", async () => {
		const res = await fetch(`${base}/docs`);
		expect(res.status).toBe(200);
		const page = await res.text();
		expect(page).toContain('url: "/openapi.json"');
		expect(page).not.toMatch(/(src|href)="(https?:)?\/\//);
		const files = [...page.matchAll(/(?:src|href)="(\/vendor\/[^"]+)"/g)].map((m) => String(m[1]));
		expect(files).toEqual([expect.stringMatching(/swagger-ui\.css$/), expect.stringMatching(/swagger-ui-bundle\.js$/)]);
		for (const file of files) {
			const asset = await fetch(`${base}${file}`, { redirect: "manual" });
			expect(asset.status, file).toBe(200);
			expect(asset.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
			expect(asset.headers.get("Content-Type")).toMatch(file.endsWith(".js") ? /javascript/ : /text\/css/);
			expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
		}
	});
});

describe("the typed client (hc<AppType>)", () => {
	it("uploads, waits, reads and lists a job with types from the app's own routes", async () => {
		const client = hc<AppType>(base, { headers: { Authorization: `Bearer ${inject("apiKeys").a}` } });
		const health = await (await client.health.$get()).json();
		expect(health.status).toBe("ok");

		const uploaded = await client.jobs.$post(
			{ query: { wait: "30" } },
			// The body is the image itself; the client's headers (the API key) still apply.
			{ headers: { "Content-Type": "image/jpeg" }, init: { body: readFixture(inject("fixtures"), "photo-640x480.jpg") } },
		);
		expect(uploaded.status).toBe(201);
		const job = await uploaded.json();
		if (!("id" in job)) throw new Error(`upload failed: ${JSON.stringify(job)}`);
		expect(job.status).toBe("done");

		const read = await client.jobs[":id"].$get({ param: { id: job.id }, query: {} });
		const again = await read.json();
		if (!("thumbnail" in again)) throw new Error(`no thumbnail: ${JSON.stringify(again)}`);
		expect(again.thumbnail).toMatchObject({ width: 100, height: 100 });

		const page = await (await client.jobs.$get({ query: { limit: "5" } })).json();
		if (!("items" in page)) throw new Error(`listing failed: ${JSON.stringify(page)}`);
		expect(page.items.map((j) => j.id)).toContain(job.id);
	});
});
