import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ulid } from "../../../src/base/ids";
import { originalKey } from "../../../src/base/storage";
import { ApiError } from "../../../src/http/errors";
import type { JobView } from "../../../src/http/job-view";
import { idempotencyClaim, jobStub, slugClaim } from "../../../src/objects";
import { ingestUpload } from "../../../src/upload/ingest";
import {
	caller,
	countOriginals,
	env,
	expectProblem,
	jpegLike,
	multipart,
	pngLike,
	request,
	slowly,
	storedState,
	uniqueSlug,
	upload,
} from "../helpers";

type JobBody = JobView;

async function storedOriginal(id: string) {
	const object = await env.BUCKET.get(originalKey(id));
	return object && { type: object.httpMetadata?.contentType, bytes: new Uint8Array(await object.arrayBuffer()) };
}

/** The originals in R2 now (their keys). */
const originals = async () => (await env.BUCKET.list({ prefix: "originals/" })).objects.map((o) => o.key).sort();

describe("POST /jobs", () => {
	it("streams a raw body into R2 and answers 202 with the job, typed by its bytes not its header", async () => {
		const image = pngLike(4096);
		const slug = uniqueSlug();
		const res = await upload(image, { query: `?slug=${slug}`, headers: { "Content-Type": "image/jpeg" } });
		expect(res.status).toBe(202);
		const job = (await res.json()) as JobBody;
		expect(res.headers.get("Location")).toBe(`/jobs/${job.id}`);
		expect(job).toMatchObject({
			status: "queued",
			slug,
			thumbnailUrl: `https://img.example/thumbnails/${slug}.webp`,
			attempts: 0,
			original: { contentType: "image/png", bytes: 4096, width: 16, height: 16 },
		});
		expect(job.id).toMatch(/^[0-9a-z]{26}$/);
		expect(Date.parse(job.createdAt)).toBeGreaterThan(Date.now() - 60_000);
		expect(await storedOriginal(job.id)).toEqual({ type: "image/png", bytes: image });
	});

	it("generates a slug when none is given", async () => {
		const job = (await (await upload(pngLike())).json()) as JobBody;
		expect(job.slug).toBe(job.id);
	});

	it("accepts multipart/form-data with fields before the file", async () => {
		const image = pngLike(3000);
		const slug = uniqueSlug("form");
		const { body, contentType } = multipart([
			{ name: "slug", value: slug },
			{ name: "file", value: image, filename: "cat.jpg" },
		]);
		const res = await upload(body, { headers: { "Content-Type": contentType } });
		expect(res.status).toBe(202);
		const job = (await res.json()) as JobBody;
		expect(job).toMatchObject({ slug, original: { contentType: "image/png", bytes: 3000 } });
		expect(await storedOriginal(job.id)).toEqual({ type: "image/png", bytes: image });
	});

	it("takes a form whose fields come after the file: they still decide the job's slug and callback", async () => {
		const slug = uniqueSlug("late");
		const late = multipart([
			{ name: "file", value: pngLike(700), filename: "a.png" },
			{ name: "slug", value: slug },
			{ name: "callback_url", value: "https://hooks.example/200" },
		]);
		const res = await upload(late.body, { headers: { "Content-Type": late.contentType } });
		expect(res.status).toBe(202);
		const job = (await res.json()) as JobBody;
		expect(job).toMatchObject({ slug, original: { bytes: 700 }, webhook: { url: "https://hooks.example/200" } });
		expect((await env.BUCKET.head(originalKey(job.id)))?.size).toBe(700);
		// A callback refused after the file came: nothing of the upload stays.
		const refused = multipart([
			{ name: "file", value: pngLike(701), filename: "a.png" },
			{ name: "callback_url", value: "https://10.0.0.1/hook" },
		]);
		const before = await originals();
		await expectProblem(
			await upload(refused.body, { headers: { "Content-Type": refused.contentType } }),
			400,
			"invalid_callback_url",
		);
		expect(await originals()).toEqual(before);
	});

	it("refuses a form without a file, or with a malformed one", async () => {
		const none = multipart([{ name: "slug", value: uniqueSlug() }]);
		await expectProblem(await upload(none.body, { headers: { "Content-Type": none.contentType } }), 400, "empty_body");
		await expectProblem(
			await upload("--x\r\n", { headers: { "Content-Type": "multipart/form-data" } }),
			400,
			"invalid_multipart",
		);
	});

	it("refuses what is not a supported raster image with 415", async () => {
		for (const body of ["hello world", '<svg xmlns="http://www.w3.org/2000/svg"></svg>', "%PDF-1.7 ..."]) {
			const problem = await expectProblem(
				await upload(body, { headers: { "Content-Type": "image/png" } }),
				415,
				"unsupported_media_type",
			);
			expect(problem.supported).toContain("image/webp");
		}
		const form = multipart([{ name: "file", value: "plain text", filename: "a.png" }]);
		await expectProblem(
			await upload(form.body, { headers: { "Content-Type": form.contentType } }),
			415,
			"unsupported_media_type",
		);
	});

	it("refuses an image over the pixel limit at once with 422, and one with no pixels", async () => {
		const problem = await expectProblem(await upload(pngLike(512, 10_000, 10_000)), 422, "image_too_large");
		expect(problem).toMatchObject({ width: 10_000, height: 10_000, maxPixels: 50_000_000 });
		expect(problem.detail).toMatch(/10000x10000 \(100\.0 megapixels\); the limit is 50\.0 megapixels/);
		await expectProblem(await upload(pngLike(512, 0, 100)), 422, "unprocessable_image");
		expect((await upload(pngLike(512, 7071, 7071))).status).toBe(202);
		// Under the pixel limit, over the decoded-bytes one: 16-bit RGBA is 8 bytes a pixel (400 MB).
		const deep = await expectProblem(
			await upload(pngLike(512, 7070, 7070, { bitDepth: 16, colorType: 6 })),
			422,
			"image_too_large",
		);
		expect(deep).toMatchObject({ width: 7070, height: 7070, bytesPerPixel: 8, maxDecodedBytes: 200_000_000 });
		expect(deep.detail).toMatch(/400 MB decoded; the limit is 200 MB/);
	});

	it("refuses an empty body with 400", async () => {
		await expectProblem(await upload(new Uint8Array(0)), 400, "empty_body");
		await expectProblem(await upload(null), 400, "empty_body");
		const form = multipart([{ name: "file", value: "", filename: "a.png" }]);
		await expectProblem(await upload(form.body, { headers: { "Content-Type": form.contentType } }), 400, "empty_body");
	});

	it("refuses a body over the limit with 413 before storing anything", async () => {
		const problem = await expectProblem(await upload(pngLike(65_537)), 413, "payload_too_large");
		expect(problem.limit).toBe(65_536);
		const form = multipart([{ name: "file", value: pngLike(65_537), filename: "big.png" }]);
		await expectProblem(await upload(form.body, { headers: { "Content-Type": form.contentType } }), 413, "payload_too_large");
		expect((await upload(pngLike(65_536))).status).toBe(202);
	});

	it("answers 400 upload_interrupted when the body ends before its Content-Length", async () => {
		let sent = false;
		const failing = new ReadableStream<Uint8Array>({
			pull(controller) {
				if (sent) return controller.error(new Error("client went away"));
				sent = true;
				controller.enqueue(pngLike(1000));
			},
		});
		// Called directly: between the test and the Worker a failing body is cut short silently.
		const req = new Request("http://thumbs.test/jobs", { method: "POST", body: failing, headers: { "Content-Length": "5000" } });
		const refused = await ingestUpload(req, null, {
			maxBytes: 65_536,
			maxPixels: 50_000_000,
			maxDecodedBytes: 200_000_000,
			maxJpegScans: 100,
			idleSeconds: 30,
		}).catch((e) => e);
		expect(refused).toMatchObject({ status: 400, code: "upload_interrupted" });
	});

	it("answers 408 upload_stalled to a body idle for the bound, storing nothing; takes a slow body that moves", async () => {
		const limits = { maxBytes: 65_536, maxPixels: 50_000_000, maxDecodedBytes: 200_000_000, maxJpegScans: 100, idleSeconds: 0.3 };
		const image = pngLike(4000);
		const body = (pieces: number, gapMs: number, stallAfter?: number) => slowly(image, pieces, gapMs, { stallAfter });
		const into = (key: string) => ({ bucket: env.BUCKET, key });
		const req = (stream: ReadableStream<Uint8Array>) =>
			new Request("http://thumbs.test/jobs", {
				method: "POST",
				body: stream,
				headers: { "Content-Length": String(image.length) },
			});
		const stalledKey = `originals/stalled-${crypto.randomUUID()}`;
		const refused = await ingestUpload(req(body(4, 0, 2)), into(stalledKey), limits).catch((e) => e);
		expect(refused).toMatchObject({
			status: 408,
			code: "upload_stalled",
			detail: expect.stringMatching(/0\.3 s; nothing was stored/),
		});
		expect(await env.BUCKET.head(stalledKey)).toBeNull();
		// Six pieces 150 ms apart: 750 ms in all, well past the 300 ms bound, but never 300 ms without a byte.
		const slowKey = `originals/slow-${crypto.randomUUID()}`;
		const taken = await ingestUpload(req(body(6, 150)), into(slowKey), limits);
		expect(taken.bytes).toBe(image.length);
		expect((await env.BUCKET.head(slowKey))?.size).toBe(image.length);
		await env.BUCKET.delete(slowKey);
	});

	it("stops reading an upload once a check made beside it refuses it: its answer, nothing stored", async () => {
		const limits = { maxBytes: 65_536, maxPixels: 50_000_000, maxDecodedBytes: 200_000_000, maxJpegScans: 100, idleSeconds: 5 };
		const image = pngLike(8000);
		const key = `originals/stopped-${crypto.randomUUID()}`;
		const stop = new AbortController();
		const refusal = new ApiError(429, "too_many_jobs_in_flight", "refused beside the upload");
		// The refusal comes as the upload's third piece is asked for: while it is being read, not before.
		let pieces = 0;
		const body = new ReadableStream<Uint8Array>({
			pull(controller) {
				if (++pieces === 3) stop.abort(refusal);
				controller.enqueue(image.slice((pieces - 1) * 1000, pieces * 1000));
				if (pieces * 1000 >= image.length) controller.close();
			},
		});
		const req = new Request("http://thumbs.test/jobs", {
			method: "POST",
			body,
			headers: { "Content-Length": String(image.length) },
		});
		const ingesting = ingestUpload(req, { bucket: env.BUCKET, key }, limits, stop.signal).catch((e) => e);
		expect(await ingesting).toBe(refusal);
		expect(await env.BUCKET.head(key)).toBeNull();
	});

	it("streams a body of unknown length (chunked) under the same bound: taken whole, or 413 with nothing stored", async () => {
		const chunked = (bytes: Uint8Array, size = 1000) =>
			new ReadableStream<Uint8Array>({
				start(controller) {
					for (let at = 0; at < bytes.length; at += size) controller.enqueue(bytes.slice(at, at + size));
					controller.close();
				},
			});
		const image = pngLike(30_000);
		const res = await upload(chunked(image));
		expect(res.status).toBe(202);
		const job = (await res.json()) as JobBody;
		expect(job.original).toMatchObject({ contentType: "image/png", bytes: 30_000 });
		const stored = await env.BUCKET.get(originalKey(job.id));
		expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(image);
		const before = await originals();
		const problem = await expectProblem(await upload(chunked(pngLike(65_537))), 413, "payload_too_large");
		expect(problem.limit).toBe(65_536);
		expect(await originals()).toEqual(before);
	});

	it("never lets a second job take a slug (409), whichever way the slug is given", async () => {
		const slug = uniqueSlug("taken");
		expect((await upload(pngLike(), { query: `?slug=${slug}` })).status).toBe(202);
		await expectProblem(await upload(pngLike(), { query: `?slug=${slug}` }), 409, "slug_taken");
		const form = multipart([
			{ name: "slug", value: slug },
			{ name: "file", value: pngLike(), filename: "a.png" },
		]);
		await expectProblem(await upload(form.body, { headers: { "Content-Type": form.contentType } }), 409, "slug_taken");
	});

	it("gives one slug to exactly one of many concurrent uploads", async () => {
		const slug = uniqueSlug("race");
		const statuses = await Promise.all(
			Array.from({ length: 8 }, () => upload(pngLike(), { query: `?slug=${slug}` }).then((r) => r.status)),
		);
		expect(statuses.filter((s) => s === 202)).toHaveLength(1);
		expect(statuses.filter((s) => s === 409)).toHaveLength(7);
	});

	it.each([
		"Upper",
		"has_underscore",
		"dots.are.out",
		"-leading",
		"trailing-",
		"a".repeat(65),
		"sl%2Fash",
		"01m8fr21cf4tp221dyc5rnn9yd",
	])("refuses the slug %s with 400", async (slug) => {
		await expectProblem(await upload(pngLike(), { query: `?slug=${slug}` }), 400, "invalid_parameter");
	});
});

describe("Idempotency-Key", () => {
	const key = () => `k-${crypto.randomUUID()}`;

	it("replays the first upload's job to a retry instead of making another", async () => {
		const k = key();
		const image = pngLike(900);
		const first = await upload(image, { headers: { "Idempotency-Key": k } });
		expect(first.status).toBe(202);
		const job = (await first.json()) as JobBody;
		const again = await upload(image, { headers: { "Idempotency-Key": k } });
		expect(again.status).toBe(202);
		expect(again.headers.get("Idempotent-Replayed")).toBe("true");
		expect(again.headers.get("Location")).toBe(`/jobs/${job.id}`);
		expect(((await again.json()) as JobBody).id).toBe(job.id);
	});

	it("refuses the key with a different upload (422), and a malformed key (400)", async () => {
		const k = key();
		expect((await upload(pngLike(900), { headers: { "Idempotency-Key": k } })).status).toBe(202);
		await expectProblem(await upload(pngLike(901), { headers: { "Idempotency-Key": k } }), 422, "idempotency_key_reused");
		await expectProblem(
			await upload(pngLike(900), { query: `?slug=${uniqueSlug()}`, headers: { "Idempotency-Key": k } }),
			422,
			"idempotency_key_reused",
		);
		await expectProblem(await upload(pngLike(), { headers: { "Idempotency-Key": "has space" } }), 400, "invalid_parameter");
		await expectProblem(await upload(pngLike(), { headers: { "Idempotency-Key": "x".repeat(256) } }), 400, "invalid_parameter");
	});

	it("makes one job of concurrent duplicates", async () => {
		const k = key();
		const image = pngLike(1000);
		const responses = await Promise.all(Array.from({ length: 6 }, () => upload(image, { headers: { "Idempotency-Key": k } })));
		const ids = new Set<string>();
		for (const res of responses) {
			if (res.status === 202) ids.add(((await res.json()) as JobBody).id);
			else await expectProblem(res, 409, "idempotency_in_progress");
		}
		expect(ids.size).toBe(1);
	});

	it("is not used up by an upload that failed", async () => {
		const k = key();
		const taken = uniqueSlug("held");
		expect((await upload(pngLike(), { query: `?slug=${taken}` })).status).toBe(202);
		await expectProblem(
			await upload(pngLike(), { query: `?slug=${taken}`, headers: { "Idempotency-Key": k } }),
			409,
			"slug_taken",
		);
		// The slug was claimed after the key: the key was given back.
		const late = multipart([
			{ name: "slug", value: taken },
			{ name: "file", value: pngLike(), filename: "a.png" },
		]);
		await expectProblem(
			await upload(late.body, { headers: { "Content-Type": late.contentType, "Idempotency-Key": k } }),
			409,
			"slug_taken",
		);
		expect(await idempotencyClaim(env, caller.ownerId, k).holder()).toBeNull();
		expect((await upload(pngLike(), { headers: { "Idempotency-Key": k } })).status).toBe(202);
	});

	it("answers 409 while the first request is still making its job, and frees a key whose request died", async () => {
		const k = key();
		const image = pngLike(700);
		const claim = idempotencyClaim(env, caller.ownerId, k);
		const ghost = ulid(); // a request that claimed the key, then never made its job
		await claim.claim(ghost, { fingerprint: "whatever", ttlMs: 60_000 });
		await expectProblem(await upload(image, { headers: { "Idempotency-Key": k } }), 409, "idempotency_in_progress");
		await runInDurableObject(claim, (_obj, state) => {
			state.storage.sql.exec("UPDATE claim SET claimed_at = ?", Date.now() - 120_000);
		});
		const res = await upload(image, { headers: { "Idempotency-Key": k } });
		expect(res.status).toBe(202);
		const job = (await res.json()) as JobBody;
		expect(job.id).not.toBe(ghost);
		expect((await claim.holder())?.owner).toBe(job.id);
	});

	it("expires after its time to live", async () => {
		const claim = idempotencyClaim(env, caller.ownerId, key());
		const ttlMs = 60_000;
		expect(await claim.claim("job-a", { fingerprint: "f", ttlMs })).toMatchObject({ owner: "job-a", fingerprint: "f" });
		expect(await claim.claim("job-b", { fingerprint: "g", ttlMs })).toMatchObject({ owner: "job-a", fingerprint: "f" });
		// Its time to live runs out: the claim's clock is moved back past it.
		await runInDurableObject(claim, (_obj, state) => {
			state.storage.sql.exec("UPDATE claim SET claimed_at = claimed_at - ?, expires_at = expires_at - ?", ttlMs + 1, ttlMs + 1);
		});
		expect(await claim.holder()).toBeNull();
		// Its alarm deletes it.
		expect(await runDurableObjectAlarm(claim)).toBe(true);
		expect(await storedState(claim)).toEqual({ tables: [], alarm: null });
		expect(await claim.claim("job-b", { fingerprint: "g", ttlMs })).toMatchObject({ owner: "job-b", fingerprint: "g" });
	});
});

describe("reads and refusals store nothing", () => {
	it("leaves no job object behind for an unknown id", async () => {
		const id = ulid();
		await expectProblem(await request(`/jobs/${id}`), 404, "not_found");
		await expectProblem(await request(`/jobs/${id}?wait=1`), 404, "not_found");
		expect(await storedState(jobStub(env, id))).toEqual({ tables: [], alarm: null });
	});

	it("leaves no claim behind for a refused upload's new slug or Idempotency-Key", async () => {
		const slug = uniqueSlug("refused");
		const k = `k-${crypto.randomUUID()}`;
		const before = await countOriginals();
		const problem = await upload("not an image", { query: `?slug=${slug}`, headers: { "Idempotency-Key": k } });
		await expectProblem(problem, 415, "unsupported_media_type");
		expect(await storedState(slugClaim(env, slug))).toEqual({ tables: [], alarm: null });
		expect(await storedState(idempotencyClaim(env, caller.ownerId, k))).toEqual({ tables: [], alarm: null });
		expect(await countOriginals()).toBe(before);
	});

	it("gives back everything an Idempotency-Key stored when its upload then fails", async () => {
		const taken = uniqueSlug("held");
		expect((await upload(pngLike(), { query: `?slug=${taken}` })).status).toBe(202);
		const k = `k-${crypto.randomUUID()}`;
		await expectProblem(
			await upload(pngLike(), { query: `?slug=${taken}`, headers: { "Idempotency-Key": k } }),
			409,
			"slug_taken",
		);
		expect(await storedState(idempotencyClaim(env, caller.ownerId, k))).toEqual({ tables: [], alarm: null });
	});

	it("deletes an original whose body failed a check after the last byte reached R2", async () => {
		const before = await countOriginals();
		const form = multipart([{ name: "file", value: pngLike(2000), filename: "a.png" }]);
		// The closing delimiter is mangled ("--" → "-!"), and only seen once all 2000 file bytes are sent on.
		const mangled = form.body.slice();
		mangled[mangled.length - 3] = 0x21;
		await expectProblem(await upload(mangled, { headers: { "Content-Type": form.contentType } }), 400, "invalid_multipart");
		expect(await countOriginals()).toBe(before);
	});
});

describe("multipart limits", () => {
	const send = (form: { body: Uint8Array; contentType: string }) =>
		upload(form.body, { headers: { "Content-Type": form.contentType } });

	it("refuses a form longer than the file limit plus 64 KiB before reading it", async () => {
		const body = new Uint8Array(65_536 + 64 * 1024 + 1);
		const problem = await expectProblem(
			await upload(body, { headers: { "Content-Type": "multipart/form-data; boundary=x" } }),
			413,
			"payload_too_large",
		);
		expect(problem.limit).toBe(65_536 + 64 * 1024);
	});

	it("bounds the number of fields and each field's length", async () => {
		const many = multipart([
			...Array.from({ length: 17 }, (_, i) => ({ name: `f${i}`, value: "x" })),
			{ name: "file", value: pngLike(), filename: "a.png" },
		]);
		expect((await expectProblem(await send(many), 413, "payload_too_large")).limit).toBe(16);
		const long = multipart([
			{ name: "note", value: "x".repeat(5000) },
			{ name: "file", value: pngLike(), filename: "a.png" },
		]);
		expect((await expectProblem(await send(long), 413, "payload_too_large")).limit).toBe(4096);
		const ok = multipart([
			...Array.from({ length: 16 }, (_, i) => ({ name: `f${i}`, value: "x".repeat(4096) })),
			{ name: "file", value: pngLike(), filename: "a.png" },
		]);
		expect((await send(ok)).status).toBe(202);
	});
});

describe("JPEG scans", () => {
	it("refuses a JPEG with more scans than any encoder writes (422), storing nothing", async () => {
		const before = await countOriginals();
		const problem = await expectProblem(await upload(jpegLike(101)), 422, "image_too_complex");
		expect(problem).toMatchObject({ maxScans: 100 });
		expect(problem.detail).toMatch(/more than 100 scans/);
		expect(await countOriginals()).toBe(before);
		expect((await upload(jpegLike(100))).status).toBe(202);
	});

	it("does not count a baseline JPEG's markers after its one scan (a decoder reads no other)", async () => {
		expect((await upload(jpegLike(150, 4096, 0xc0))).status).toBe(202);
	});
});

describe("Idempotency-Key fingerprints the bytes", () => {
	it("refuses different bytes of the same length, and a different form-field slug", async () => {
		const k = `k-${crypto.randomUUID()}`;
		expect((await upload(pngLike(900), { headers: { "Idempotency-Key": k } })).status).toBe(202);
		// pngLike() makes distinct random bytes each call.
		await expectProblem(await upload(pngLike(900), { headers: { "Idempotency-Key": k } }), 422, "idempotency_key_reused");

		const k2 = `k-${crypto.randomUUID()}`;
		const image = pngLike(800);
		const form = (slug: string) =>
			multipart([
				{ name: "slug", value: slug },
				{ name: "file", value: image, filename: "a.png" },
			]);
		const first = form(uniqueSlug("fp"));
		const created = await upload(first.body, { headers: { "Content-Type": first.contentType, "Idempotency-Key": k2 } });
		expect(created.status).toBe(202);
		const replayed = await upload(first.body, { headers: { "Content-Type": first.contentType, "Idempotency-Key": k2 } });
		expect(replayed.headers.get("Idempotent-Replayed")).toBe("true");
		const other = form(uniqueSlug("fp"));
		await expectProblem(
			await upload(other.body, { headers: { "Content-Type": other.contentType, "Idempotency-Key": k2 } }),
			422,
			"idempotency_key_reused",
		);
	});
});

describe("POST /jobs?wait", () => {
	it("answers 201 with the job once it has ended, 202 if the wait ran out first, and times its steps", async () => {
		const res = await upload(pngLike(), { query: "?wait=0.3" });
		// Thumbor is down in these tests: the job is still waiting for its next attempt.
		expect(res.status).toBe(202);
		expect(((await res.json()) as JobBody).status).toBe("queued");
		expect(res.headers.get("Server-Timing")).toMatch(
			/^auth;dur=[\d.]+, ratelimit;dur=[\d.]+, admit;dur=[\d.]+, store;dur=[\d.]+, wait;dur=[\d.]+$/,
		);

		const slug = uniqueSlug("wait");
		const waiting = upload(pngLike(), { query: `?wait=20&slug=${slug}` });
		await expect.poll(async () => (await slugClaim(env, slug).holder())?.owner ?? null).not.toBeNull();
		const stub = jobStub(env, (await slugClaim(env, slug).holder())!.owner);
		await expect.poll(() => stub.get()).not.toBeNull();
		await stub.begin();
		await stub.fail({ code: "unprocessable_image", message: "test" });
		const ended = await waiting;
		expect(ended.status).toBe(201);
		expect(((await ended.json()) as JobBody).status).toBe("failed");
		await expectProblem(await upload(pngLike(), { query: "?wait=31" }), 400, "invalid_parameter");
	});
});
