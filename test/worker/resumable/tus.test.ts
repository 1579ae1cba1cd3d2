import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hex } from "../../../src/base/crypto";
import { ulid } from "../../../src/base/ids";
import { originalKey } from "../../../src/base/storage";
import type { JobView } from "../../../src/http/job-view";
import { jobStub, ownerStub, slugClaim, uploadStub } from "../../../src/objects";
import { receive } from "../../../src/resumable/receive";
import { caller, env, expectProblem, jpegLike, newKey, pngLike, request, storedState, uniqueSlug } from "../helpers";
import { b64, breaksOff, create, created, expire, head, jobOf, lockOf, offsetOf, patch, places, TUS } from "./support";

describe("tus discovery and version", () => {
	it("OPTIONS says the version, extensions and largest size, with no key", async () => {
		const res = await request("/uploads", { method: "OPTIONS" }, null);
		expect(res.status).toBe(204);
		expect(Object.fromEntries(res.headers)).toMatchObject({
			"tus-resumable": "1.0.0",
			"tus-version": "1.0.0",
			"tus-extension": "creation,creation-with-upload,termination,expiration",
			"tus-max-size": "65536",
		});
	});

	it("refuses a request without Tus-Resumable 1.0.0 (412, Tus-Version)", async () => {
		const res = await request("/uploads", { method: "POST", headers: { "Upload-Length": "10" } });
		expect(res.headers.get("Tus-Version")).toBe("1.0.0");
		expect(res.headers.get("Tus-Resumable")).toBe("1.0.0");
		await expectProblem(res, 412, "unsupported_version");
		await expectProblem(
			await request("/uploads", { method: "POST", headers: { "Tus-Resumable": "0.2.2" } }),
			412,
			"unsupported_version",
		);
	});

	it("answers a browser's preflight as CORS, and lets it read the tus headers", async () => {
		const preflight = await request(
			"/uploads/01m8hf579a46pj7cvwrb2j8xcf",
			{
				method: "OPTIONS",
				headers: {
					Origin: "https://app.example",
					"Access-Control-Request-Method": "PATCH",
					"Access-Control-Request-Headers": "authorization, tus-resumable, upload-offset, content-type",
				},
			},
			null,
		);
		expect(preflight.status).toBe(204);
		expect(preflight.headers.get("Access-Control-Allow-Methods")).toMatch(/PATCH/);
		expect(preflight.headers.get("Access-Control-Allow-Headers")).toMatch(/Upload-Offset/);
		const created = await request("/uploads", {
			method: "POST",
			headers: { ...TUS, "Upload-Length": "10", Origin: "https://app.example" },
		});
		expect(created.headers.get("Access-Control-Expose-Headers")).toMatch(/Location.*Upload-Offset|Upload-Offset.*Location/);
	});

	it("needs an API key, and shows no other owner's upload (404)", async () => {
		await expectProblem(await create(100, {}, { key: null }), 401, "unauthorized");
		const { url } = await created(100);
		const other = await newKey();
		expect((await head(url, other.secret)).status).toBe(404);
		const refused = await request(
			url,
			{
				method: "PATCH",
				headers: { ...TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
				body: "x",
			},
			other.secret,
		);
		await expectProblem(refused, 404, "not_found");
		const refusedDelete = await request(url, { method: "DELETE", headers: TUS }, other.secret);
		expect((await expectProblem(refusedDelete, 404, "not_found")).detail).toBe(`No upload with id "${url.split("/").pop()}".`);
	});
});

describe("tus creation", () => {
	it("answers 201 with Location and expiry; the job is uploading from the start", async () => {
		const slug = uniqueSlug("tus");
		const { url, id, res } = await created(4096, { slug, filename: "cat.png", filetype: "image/png" });
		expect(url).toBe(`/uploads/${id}`);
		// Before its first byte it lives RESUMABLE_UPLOAD_START_SECONDS (10 min), then a day after its last.
		const expires = Date.parse(res.headers.get("Upload-Expires")!);
		expect(expires).toBeGreaterThan(Date.now() + 8 * 60_000);
		expect(expires).toBeLessThan(Date.now() + 11 * 60_000);
		const body = (await res.json()) as JobView;
		expect(body).toMatchObject({ id, status: "uploading", slug, upload: { url, offset: 0, length: 4096, filename: "cat.png" } });
		expect(body.original).toBeUndefined();
		expect(await jobOf(id)).toMatchObject({ status: "uploading", upload: { offset: 0 } });
		const probe = await head(url);
		expect(probe.status).toBe(200);
		expect(probe.headers.get("Upload-Length")).toBe("4096");
		expect(probe.headers.get("Upload-Metadata")).toContain(`slug ${b64(slug)}`);
		expect(probe.headers.get("Cache-Control")).toBe("no-store");
		// It holds an upload's place, not a job's.
		expect(await places()).toEqual({ inFlight: 0, uploading: 1 });
		expect((await patch(url, 0, pngLike(4096).slice(0, 10))).status).toBe(204);
		expect(Date.parse((await head(url)).headers.get("Upload-Expires")!)).toBeGreaterThan(Date.now() + 23 * 3600_000);
	});

	it("checks Upload-Length and Upload-Metadata before anything is kept", async () => {
		const before = await places();
		const tooBig = await create(65_537);
		expect(tooBig.headers.get("Tus-Max-Size")).toBe("65536");
		await expectProblem(tooBig, 413, "payload_too_large");
		await expectProblem(await create(0), 400, "empty_body");
		await expectProblem(await request("/uploads", { method: "POST", headers: TUS }), 400, "invalid_parameter");
		await expectProblem(await create(10, { slug: "Not A Slug" }), 400, "invalid_parameter");
		await expectProblem(await create(10, { callback_url: "http://10.0.0.1/hook" }), 400, "invalid_callback_url");
		const malformed = await request("/uploads", {
			method: "POST",
			headers: { ...TUS, "Upload-Length": "10", "Upload-Metadata": "slug not*base64" },
		});
		await expectProblem(malformed, 400, "invalid_parameter");
		const slug = uniqueSlug("held");
		await created(10, { slug });
		await expectProblem(await create(10, { slug }), 409, "slug_taken");
		expect(await places()).toEqual({ inFlight: 0, uploading: before.uploading + 1 });
	});

	it("takes the first bytes with the creation (creation-with-upload), the whole file too", async () => {
		const image = pngLike(3000);
		const res = await create(image.length, {}, { body: image });
		expect(res.status).toBe(201);
		expect(res.headers.get("Upload-Offset")).toBe("3000");
		const job = (await res.json()) as JobView;
		expect(job).toMatchObject({ status: "queued", original: { contentType: "image/png", bytes: 3000, width: 16, height: 16 } });
		expect(new Uint8Array(await (await env.BUCKET.get(originalKey(job.id)))!.arrayBuffer())).toEqual(image);
	});
});

describe("tus PATCH", () => {
	it("takes a file in pieces, and its last piece makes the job as POST /jobs would", async () => {
		const image = pngLike(40_000, 32, 24);
		const slug = uniqueSlug("pieces");
		const { url, id } = await created(image.length, { slug });
		for (const [from, to] of [
			[0, 100],
			[100, 30_000],
			[30_000, 40_000],
		] as const) {
			const res = await patch(url, from, image.slice(from, to));
			expect(res.status).toBe(204);
			expect(res.headers.get("Upload-Offset")).toBe(String(to));
			expect(res.headers.get("Tus-Resumable")).toBe("1.0.0");
			if (to < image.length) expect((await jobOf(id)).upload?.offset).toBe(to);
		}
		const job = await jobOf(id);
		expect(job).toMatchObject({
			status: "queued",
			slug,
			original: { contentType: "image/png", bytes: 40_000, width: 32, height: 24 },
		});
		expect(job.upload).toBeUndefined();
		const stored = await jobStub(env, id).get();
		expect(stored?.sha256).toBe(hex(await crypto.subtle.digest("SHA-256", image)));
		expect(new Uint8Array(await (await env.BUCKET.get(originalKey(id)))!.arrayBuffer())).toEqual(image);
		// Finished: HEAD still says where it is; the bytes went to the job, the upload's own are gone.
		expect(await offsetOf(url)).toBe(40_000);
		const tables = await runInDurableObject(uploadStub(env, id), (_o, state) =>
			state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM pending").one(),
		);
		expect(tables.n).toBe(0);
		await expectProblem(await request(url, { method: "DELETE", headers: TUS }), 409, "upload_finished");
	});

	it("answers 409 with the right offset when Upload-Offset is not it, changing nothing", async () => {
		const image = pngLike(5000);
		const { url } = await created(image.length);
		expect((await patch(url, 0, image.slice(0, 1000))).status).toBe(204);
		const problem = await expectProblem(await patch(url, 500, image.slice(500, 2000)), 409, "offset_mismatch");
		expect(problem.offset).toBe(1000);
		await expectProblem(await patch(url, 2000, image.slice(2000)), 409, "offset_mismatch");
		expect(await offsetOf(url)).toBe(1000);
	});

	it("answers 415 to a PATCH that is not application/offset+octet-stream", async () => {
		const { url } = await created(100);
		const res = await patch(url, 0, pngLike(100), { "Content-Type": "application/octet-stream" });
		await expectProblem(res, 415, "unsupported_media_type");
		expect(await offsetOf(url)).toBe(0);
	});

	it("answers 413 to bytes past Upload-Length, keeping none of them", async () => {
		const image = pngLike(2000);
		const { url } = await created(1500);
		await expectProblem(await patch(url, 0, image), 413, "payload_too_large");
		expect(await offsetOf(url)).toBe(0);
		expect((await patch(url, 0, image.slice(0, 1000))).status).toBe(204);
		await expectProblem(await patch(url, 1000, image.slice(1000)), 413, "payload_too_large");
		expect(await offsetOf(url)).toBe(1000);
	});

	it("refuses a file on its first bytes: the upload goes, nothing of it stays, its slug and place are free", async () => {
		const slug = uniqueSlug("refused");
		const { url, id } = await created(60_000, { slug });
		const text = new TextEncoder().encode("hello, this is not an image ".repeat(2200)).slice(0, 60_000);
		// Its first PATCH, 2 KiB of it, is enough to tell.
		await expectProblem(await patch(url, 0, text.slice(0, 2048)), 415, "unsupported_media_type");
		const gone = await head(url);
		expect(gone.status).toBe(410);
		await expectProblem(await patch(url, 2048, text.slice(2048)), 410, "gone");
		expect(await env.BUCKET.head(originalKey(id))).toBeNull();
		const pending = await runInDurableObject(uploadStub(env, id), (_o, state) =>
			state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM pending").one(),
		);
		expect(pending.n).toBe(0);
		expect(await slugClaim(env, slug).holder()).toBeNull();
		expect(await places()).toEqual({ inFlight: 0, uploading: 0 });
		expect((await request(`/jobs/${id}`)).status).toBe(404);
		// Too many pixels, said by the header, is refused the same way.
		const huge = await created(2000);
		await expectProblem(await patch(huge.url, 0, pngLike(2000, 20_000, 20_000)), 422, "image_too_large");
		expect((await head(huge.url)).status).toBe(410);
	});

	it("checks a file to its end once it is in (JPEG scans): refused, nothing stays", async () => {
		const file = jpegLike(150, 8000);
		const { url, id } = await created(file.length);
		await expectProblem(await patch(url, 0, file), 422, "image_too_complex");
		expect(await env.BUCKET.head(originalKey(id))).toBeNull();
		expect((await head(url)).status).toBe(410);
		expect(await places()).toEqual({ inFlight: 0, uploading: 0 });
	});

	it("lets one PATCH at a time write an upload: a second while the first is open gets 423", async () => {
		const image = pngLike(3000);
		const { url, id } = await created(image.length);
		let release!: () => void;
		const open = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(image.slice(0, 1000));
				release = () => {
					controller.enqueue(image.slice(1000));
					controller.close();
				};
			},
		});
		const first = patch(url, 0, open);
		await expect.poll(async () => (await lockOf(id)).token).not.toBeNull();
		const second = await patch(url, 0, image);
		const problem = await expectProblem(second, 423, "upload_locked");
		expect(problem.detail).toMatch(/under way/);
		// HEAD meanwhile answers once the PATCH under way has ended (as a client cut off asks at once).
		const probe = offsetOf(url);
		release();
		expect((await first).status).toBe(204);
		expect(await probe).toBe(3000);
	});

	it("keeps every byte of a PATCH whose body breaks off, and the client resumes from there", async () => {
		const image = pngLike(20_000);
		const { url, id } = await created(image.length);
		const failing = breaksOff(image, 7000);
		// Called directly: between the test and the Worker a failing body is cut short silently.
		const target = { id, ownerId: caller.ownerId, offset: 0, declared: null, idleSeconds: 1 };
		const refused = await receive(env, { waitUntil: () => {} }, target, failing).catch((e) => e);
		expect(refused).toMatchObject({ status: 400, code: "upload_interrupted", extra: { offset: 7000 } });
		expect(await offsetOf(url)).toBe(7000);
		expect((await patch(url, 7000, image.slice(7000))).status).toBe(204);
		expect(new Uint8Array(await (await env.BUCKET.get(originalKey(id)))!.arrayBuffer())).toEqual(image);
	});

	it("keeps the bytes of a PATCH that stalls (408), and lets the next PATCH in", async () => {
		const image = pngLike(6000);
		const { url } = await created(image.length);
		const stalling = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(image.slice(0, 2500));
			},
		});
		const res = await patch(url, 0, stalling);
		const problem = await expectProblem(res, 408, "upload_stalled");
		expect(problem.offset).toBe(2500);
		expect((await patch(url, 2500, image.slice(2500))).status).toBe(204);
	});

	it("writes R2 parts of 5 MiB as the bytes arrive, gathering smaller PATCHes durably first", async () => {
		// Made through the object: this project's MAX_UPLOAD_BYTES is 64 KiB.
		const id = ulid();
		const size = 6 * 1024 * 1024 + 12_345;
		await uploadStub(env, id).create({
			id,
			ownerId: caller.ownerId,
			keyHash: null,
			length: size,
			metadata: "",
			slug: id,
			callbackUrl: null,
			filename: null,
			traceId: "0".repeat(32),
			limits: { maxBytes: size, maxPixels: 50_000_000, maxDecodedBytes: 200_000_000, maxJpegScans: 100, idleSeconds: 30 },
			ttlMs: 3600_000,
			startMs: 3600_000,
		});
		const image = pngLike(size, 2000, 1500);
		const url = `/uploads/${id}`;
		const state = () =>
			runInDurableObject(uploadStub(env, id), (_o, s) => ({
				pending: s.storage.sql.exec<{ n: number }>("SELECT COALESCE(SUM(LENGTH(bytes)), 0) AS n FROM pending").one().n,
				parts: (JSON.parse(s.storage.sql.exec<{ parts: string }>("SELECT parts FROM upload").one().parts) as unknown[]).length,
			}));
		expect((await patch(url, 0, image.slice(0, 3_000_000))).status).toBe(204);
		expect(await state()).toEqual({ pending: 3_000_000, parts: 0 });
		expect((await patch(url, 3_000_000, image.slice(3_000_000, 6_000_000))).status).toBe(204);
		expect(await state()).toEqual({ pending: 6_000_000 - 5 * 1024 * 1024, parts: 1 });
		expect((await patch(url, 6_000_000, image.slice(6_000_000))).status).toBe(204);
		const stored = await env.BUCKET.get(originalKey(id));
		expect(stored?.size).toBe(size);
		expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(image);
		expect((await jobOf(id)).status).toBe("queued");
	});
});

describe("tus and the owner's places", () => {
	it("an upload still receiving keeps its place when the owner's stale places are swept", async () => {
		const { id } = await created(5000);
		const owner = ownerStub(env, caller.ownerId);
		// The owner at its cap of uploads (5 here), every place looking old, as uploads that have taken
		// minutes do: asking for one more sweeps stale places, and those of uploads still receiving stay.
		for (let i = 0; i < 4; i++) await created(5000);
		await runInDurableObject(owner, (_o, state) => state.storage.sql.exec("UPDATE in_flight SET admitted_at = 0"));
		expect(await owner.admit(ulid(), "upload")).toEqual({ reason: "uploads" });
		expect(await places()).toEqual({ inFlight: 0, uploading: 5 });
		// Terminated, it gives its place back.
		expect((await request(`/uploads/${id}`, { method: "DELETE", headers: TUS })).status).toBe(204);
		expect(await places()).toEqual({ inFlight: 0, uploading: 4 });
	});
});

describe("tus completion cut short", () => {
	it("makes the job from its alarm when the original is whole in R2 but the job was not made", async () => {
		const image = pngLike(3000);
		const { url, id } = await created(image.length);
		// As if the Worker died after the last PATCH made the original whole: the alarm finishes the job.
		await env.BUCKET.put(originalKey(id), image, { httpMetadata: { contentType: "image/png" } });
		await runInDurableObject(uploadStub(env, id), (_o, state) =>
			state.storage.sql.exec("UPDATE upload SET status = 'finishing', received = length, content_type = 'image/png'"),
		);
		expect(await jobStub(env, id).get()).toBeNull();
		expect(await runDurableObjectAlarm(uploadStub(env, id))).toBe(true);
		expect(await jobOf(id)).toMatchObject({ status: "queued", original: { contentType: "image/png", bytes: 3000 } });
		expect(await offsetOf(url)).toBe(3000);
	});
});

describe("tus termination and expiration", () => {
	it("DELETE terminates an unfinished upload: 204, then 410; its bytes, slug and place go", async () => {
		const slug = uniqueSlug("term");
		const { url, id } = await created(5000, { slug });
		expect((await patch(url, 0, pngLike(5000).slice(0, 2000))).status).toBe(204);
		const res = await request(url, { method: "DELETE", headers: TUS });
		expect(res.status).toBe(204);
		expect(res.headers.get("Tus-Resumable")).toBe("1.0.0");
		expect((await head(url)).status).toBe(410);
		await expectProblem(await patch(url, 2000, new Uint8Array(10)), 410, "gone");
		expect(await slugClaim(env, slug).holder()).toBeNull();
		expect(await places()).toEqual({ inFlight: 0, uploading: 0 });
		// Its job reads as deleted, as a deleted job does, for as long as the upload is remembered.
		expect(await jobOf(id)).toMatchObject({ id, status: "deleted", deletedAt: expect.any(String) });
		expect((await jobOf(id)).upload).toBeUndefined();
	});

	it("DELETE /jobs/<id> of a job still uploading terminates its upload; GET then shows it deleted", async () => {
		const { url, id } = await created(5000);
		expect((await request(`/jobs/${id}`, { method: "DELETE" })).status).toBe(204);
		expect((await head(url)).status).toBe(410);
		expect(await jobOf(id)).toMatchObject({ id, status: "deleted" });
		expect((await request(`/jobs/${id}`, { method: "DELETE" })).status).toBe(204);
	});

	it("expires an upload left unfinished: its alarm deletes everything, then forgets it (410, then 404)", async () => {
		const slug = uniqueSlug("exp");
		const { url, id } = await created(5000, { slug });
		expect((await patch(url, 0, pngLike(5000).slice(0, 3000))).status).toBe(204);
		expect(await runDurableObjectAlarm(uploadStub(env, id))).toBe(true);
		expect(await offsetOf(url)).toBe(3000); // not yet due: the alarm only set itself again
		expect(await expire(id)).toBe(true);
		const problem = await expectProblem(await patch(url, 3000, "x"), 410, "gone");
		expect(problem.reason).toBe("expired");
		expect(await slugClaim(env, slug).holder()).toBeNull();
		expect(await places()).toEqual({ inFlight: 0, uploading: 0 });
		expect(await expire(id)).toBe(true);
		expect((await head(url)).status).toBe(404);
		expect(await storedState(uploadStub(env, id))).toEqual({ tables: [], alarm: null });
	});
});
