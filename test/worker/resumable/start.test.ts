/**
 * tus creation (resumable/start.ts) and uploads in progress (resumable/in-progress.ts): a place
 * of their own under MAX_UPLOADS_IN_PROGRESS (5 here), listed, expiring soon when no byte came,
 * and nothing held after a creation that gave the client no Location.
 */
import { describe, expect, it } from "vitest";
import { Steps } from "../../../src/base/timing";
import type { JobView } from "../../../src/http/job-view";
import { slugClaim } from "../../../src/objects";
import { startUpload } from "../../../src/resumable/start";
import { caller, env, expectProblem, pngLike, request, slowly, uniqueSlug, upload } from "../helpers";
import { b64, breaksOff, create, created, expire, head, places, TUS } from "./support";

const MAX_UPLOADS = 5;

describe("uploads in progress: a bounded resource of their own", () => {
	it("caps them apart from jobs: abandoned uploads refuse more uploads (429, saying which cap), never POST /jobs", async () => {
		const abandoned: string[] = [];
		for (let i = 0; i < MAX_UPLOADS; i++) abandoned.push((await created(50_000)).id);
		const refused = await create(50_000);
		expect(refused.headers.get("Retry-After")).toBe("600");
		const problem = await expectProblem(refused, 429, "too_many_uploads_in_progress");
		expect(problem.detail).toMatch(/GET \/uploads/);
		expect(await places()).toEqual({ inFlight: 0, uploading: MAX_UPLOADS });
		// A plain upload is a job's place: untouched by the abandoned uploads.
		expect((await upload(pngLike(2000))).status).toBe(202);
		// An upload that never received a byte is given up after RESUMABLE_UPLOAD_START_SECONDS; then there is room.
		expect(await expire(abandoned[0]!)).toBe(true);
		expect((await head(`/uploads/${abandoned[0]}`)).status).toBe(410);
		expect(await places()).toEqual({ inFlight: 1, uploading: MAX_UPLOADS - 1 });
		expect((await create(50_000)).status).toBe(201);
	});

	it("lists them newest first, a page at a time, with no Tus-Resumable needed", async () => {
		const ids: string[] = [];
		for (let i = 0; i < 3; i++) ids.push((await created(50_000, { filename: `f${i}.png` })).id);
		const first = await request("/uploads?limit=2");
		expect(first.status).toBe(200);
		const page = (await first.json()) as { items: JobView[]; nextCursor: string | null };
		expect(page.items.map((u) => u.id)).toEqual([ids[2], ids[1]]);
		expect(page.items[0]).toMatchObject({ status: "uploading", upload: { offset: 0, length: 50_000, filename: "f2.png" } });
		expect(first.headers.get("Link")).toBe(`</uploads?limit=2&cursor=${page.nextCursor}>; rel="next"`);
		const rest = (await (await request(`/uploads?limit=2&cursor=${page.nextCursor}`)).json()) as typeof page;
		expect(rest).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
		// Terminated, finished or another owner's: not listed.
		expect((await request(`/uploads/${ids[1]}`, { method: "DELETE", headers: TUS })).status).toBe(204);
		const after = (await (await request("/uploads")).json()) as typeof page;
		expect(after.items.map((u) => u.id)).toEqual([ids[2], ids[0]]);
		await expectProblem(await request("/uploads?cursor=nope"), 400, "invalid_parameter");
	});
});

describe("a creation that gives the client no Location holds nothing", () => {
	it("a first body longer than Upload-Length: 413 before anything is made", async () => {
		const slug = uniqueSlug("long");
		const res = await create(1000, { slug }, { body: pngLike(2000) });
		await expectProblem(res, 413, "payload_too_large");
		expect(res.headers.get("Location")).toBeNull();
		expect(await places()).toEqual({ inFlight: 0, uploading: 0 });
		expect(await slugClaim(env, slug).holder()).toBeNull();
	});

	it("a first body that stalls: 408, and its upload, slug and place are given back", async () => {
		const slug = uniqueSlug("stall");
		const image = pngLike(6000);
		const res = await create(image.length, { slug }, { body: slowly(image, 4, 10, { stallAfter: 1 }) });
		await expectProblem(res, 408, "upload_stalled");
		expect(res.headers.get("Location")).toBeNull();
		expect(await places()).toEqual({ inFlight: 0, uploading: 0 });
		expect(await slugClaim(env, slug).holder()).toBeNull();
		// The slug can be taken again at once.
		expect((await create(image.length, { slug })).status).toBe(201);
	});

	it("a first body that breaks off (the client went away): the same, its bytes deleted", async () => {
		const slug = uniqueSlug("broken");
		const image = pngLike(20_000);
		const failing = breaksOff(image, 7000);
		// Called directly: between the test and the Worker a failing body is cut short silently.
		const req = new Request("http://thumbs.test/uploads", {
			method: "POST",
			headers: {
				...TUS,
				"Upload-Length": String(image.length),
				"Upload-Metadata": `slug ${b64(slug)}`,
				"Content-Type": "application/offset+octet-stream",
			},
			body: failing,
		});
		const waits: Promise<unknown>[] = [];
		const who = { ownerId: caller.ownerId, keyHash: "0".repeat(64), keyId: caller.id };
		const refused = await startUpload(env, { waitUntil: (p) => waits.push(p) }, who, req, new Steps("test")).catch((e) => e);
		expect(refused).toMatchObject({ status: 400, code: "upload_interrupted" });
		await Promise.all(waits);
		expect(await places()).toEqual({ inFlight: 0, uploading: 0 });
		expect(await slugClaim(env, slug).holder()).toBeNull();
		const ids = (await (await request("/uploads")).json()) as { items: JobView[] };
		expect(ids.items).toEqual([]);
	});
});

describe("Upload-Metadata", () => {
	it("takes any key as a key: names of Object's own members are ignored like any unknown key", async () => {
		for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
			const res = await request("/uploads", {
				method: "POST",
				headers: { ...TUS, "Upload-Length": "100", "Upload-Metadata": `${key} eA==,filename ${b64("a.png")}` },
			});
			expect(res.status, key).toBe(201);
			expect(((await res.json()) as JobView).upload?.filename).toBe("a.png");
			expect((await request(res.headers.get("Location")!, { method: "DELETE", headers: TUS })).status).toBe(204);
		}
		const twice = await request("/uploads", {
			method: "POST",
			headers: { ...TUS, "Upload-Length": "100", "Upload-Metadata": "constructor eA==,constructor eQ==" },
		});
		await expectProblem(twice, 400, "invalid_parameter");
	});
});
