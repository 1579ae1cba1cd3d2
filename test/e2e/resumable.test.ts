/**
 * Resumable uploads end to end: tus-js-client (the reference client, from npm) against the real
 * `wrangler dev` and Thumbor, through a proxy that cuts the connection half way.
 */
import * as tus from "tus-js-client";
import { afterAll, describe, expect, it } from "vitest";
import { uniqueJpeg } from "../../scripts/cost.mjs";
import type { JobView as Job } from "../../src/http/job-view";
import { api, base, fixture, keyA, settle, thumbnailOf } from "./jobs";
import { rawUpload, startCuttingProxy } from "./support.mjs";

const CHUNK = 1024 * 1024;
const proxies: { close: () => Promise<void> }[] = [];
afterAll(async () => {
	for (const p of proxies) await p.close();
});

/** A tus upload of `file` to `endpoint` (or resumed at `uploadUrl`), settled: its URL, or the error that ended it. */
function tusUpload(file: Uint8Array, options: { endpoint?: string; uploadUrl?: string; metadata?: Record<string, string> }) {
	return new Promise<{ url: string | null; error: Error | null; offsets: number[] }>((resolve) => {
		const offsets: number[] = [];
		const upload = new tus.Upload(file, {
			endpoint: options.endpoint,
			uploadUrl: options.uploadUrl,
			chunkSize: CHUNK,
			headers: { Authorization: `Bearer ${keyA}` },
			metadata: options.metadata ?? {},
			retryDelays: null,
			storeFingerprintForResuming: false,
			onChunkComplete: (_size, accepted) => offsets.push(accepted),
			onError: (error) => resolve({ url: upload.url, error, offsets }),
			onSuccess: () => resolve({ url: upload.url, error: null, offsets }),
		});
		upload.start();
	});
}

describe("tus uploads (tus-js-client)", () => {
	it("a 12 MP JPEG in 1 MiB chunks, cut at half way, resumes where the server stopped, and ends done", async () => {
		// Bytes of its own (a JPEG comment added): other tests upload this photo too, and dedupe is checked below.
		const photo = uniqueJpeg(Buffer.from(fixture("large-4000x3000.jpg")), `tus-${Date.now()}`);
		const proxy = await startCuttingProxy(base, { cutAfter: Math.floor(photo.length / 2) });
		proxies.push(proxy);
		const slug = `tus-${Math.random().toString(36).slice(2, 10)}`;
		const first = await tusUpload(photo, { endpoint: `${proxy.url}/uploads`, metadata: { slug, filename: "large.jpg" } });
		expect(proxy.wasCut()).toBe(true);
		expect(first.error).not.toBeNull();
		expect(first.url).toMatch(/\/uploads\/[0-9a-z]{26}$/);
		const id = first.url!.split("/").pop()!;
		// The server kept what reached it: at least every chunk the client saw accepted. The cut PATCH may
		// still be under way in the Worker (wrangler dev's proxy passes the cut on as a stall, ended by
		// UPLOAD_IDLE_SECONDS): a HEAD waits for it 3 s at most, so ask until two answers agree.
		const offsetNow = async () => {
			const probe = await api(`/uploads/${id}`, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
			expect(probe.status).toBe(200);
			return Number(probe.headers.get("Upload-Offset"));
		};
		let kept = await offsetNow();
		for (let again = await offsetNow(); again !== kept; again = await offsetNow()) kept = again;
		expect(kept).toBeGreaterThanOrEqual(first.offsets.at(-1) ?? 0);
		expect(kept).toBeLessThan(photo.length);
		const during = (await (await api(`/jobs/${id}`)).json()) as Job;
		expect(during).toMatchObject({ status: "uploading", slug, upload: { offset: kept, length: photo.length } });
		expect(during.original).toMatchObject({ contentType: "image/jpeg", width: 4000, height: 3000 });

		// A new client, on a connection that works, asks the server where to go on from.
		const sentBefore = proxy.sent();
		const second = await tusUpload(photo, { uploadUrl: `${proxy.url}/uploads/${id}` });
		expect(second.error).toBeNull();
		const resent = proxy.sent() - sentBefore;
		// Nothing sent twice: the second client sends what the server lacked, and requests' headers.
		expect(resent).toBeLessThan(photo.length - kept + 16 * 1024);
		expect(resent).toBeGreaterThanOrEqual(photo.length - kept);
		// All told, the interrupted upload cost less than one chunk more than the file.
		expect(proxy.sent()).toBeLessThan(photo.length + CHUNK);
		console.log(
			`tus, cut at ${Math.floor(photo.length / 2)} of ${photo.length} bytes: the server kept ${kept}; ` +
				`${proxy.sent()} bytes sent in all (${proxy.sent() - photo.length} over the file, headers included)`,
		);

		const job = await settle(id);
		expect(job).toMatchObject({ status: "done", slug, original: { contentType: "image/jpeg", bytes: photo.length } });
		await thumbnailOf(job);
		// The same bytes a plain upload would have stored: a POST /jobs of them copies this job's thumbnail.
		const again = await api("/jobs?wait=30", { method: "POST", body: photo });
		const copy = (await again.json()) as Job;
		expect(copy.deduplicatedFrom, JSON.stringify(copy)).toBe(id);
		// And the job is listed as any other (among the owner's done jobs; other files upload meanwhile).
		const listed: string[] = [];
		for (let cursor = ""; listed.length < 1000 && !listed.includes(id); ) {
			const page = (await (await api(`/jobs?limit=100&status=done${cursor}`)).json()) as {
				items: Job[];
				nextCursor: string | null;
			};
			listed.push(...page.items.map((j) => j.id));
			if (!page.nextCursor) break;
			cursor = `&cursor=${encodeURIComponent(page.nextCursor)}`;
		}
		expect(listed).toContain(id);
	});

	it("creation with upload: a small file in the POST itself ends done", async () => {
		const photo = Buffer.from(fixture("photo-640x480.jpg"));
		const res = await api("/uploads", {
			method: "POST",
			headers: {
				"Tus-Resumable": "1.0.0",
				"Upload-Length": String(photo.length),
				"Content-Type": "application/offset+octet-stream",
			},
			body: photo,
		});
		expect(res.status).toBe(201);
		expect(res.headers.get("Upload-Offset")).toBe(String(photo.length));
		const created = (await res.json()) as Job;
		expect(created.status).toBe("queued");
		await thumbnailOf(await settle(created.id));
	});

	it("refuses a file that is not an image on its first chunk, and keeps none of it", async () => {
		const text = Buffer.from("not an image at all; ".repeat(100_000));
		const result = await tusUpload(text, { endpoint: `${base}/uploads` });
		expect(result.error?.message).toMatch(/response code: 415/);
		const id = result.url!.split("/").pop()!;
		const probe = await api(`/uploads/${id}`, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
		expect(probe.status).toBe(410);
		expect((await api(`/jobs/${id}`)).status).toBe(404);
	});

	it("a PATCH that stalls on a real connection keeps every byte that came (408 with the offset), and resumes", async () => {
		const photo = uniqueJpeg(Buffer.from(fixture("large-4000x3000.jpg")), `stall-${Date.now()}`);
		const created = await api("/uploads", {
			method: "POST",
			headers: { "Tus-Resumable": "1.0.0", "Upload-Length": String(photo.length) },
		});
		const url = created.headers.get("Location")!;
		// 300,000 bytes of a declared whole, then silence: this stack gives up a body after 3 s of it.
		const sent = 300_000;
		const stalled = await rawUpload(base, keyA, photo.subarray(0, sent), photo.length, {
			method: "PATCH",
			path: url,
			headers: { "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
		});
		expect(stalled.status).toBe(408);
		expect(JSON.parse(stalled.body)).toMatchObject({ code: "upload_stalled", offset: sent });
		const probe = await api(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
		expect(probe.headers.get("Upload-Offset")).toBe(String(sent));
		const rest = await tusUpload(photo, { uploadUrl: `${base}${url}` });
		expect(rest.error).toBeNull();
		const job = await settle(url.split("/").pop()!);
		expect(job).toMatchObject({ status: "done", original: { bytes: photo.length } });
	});
});
