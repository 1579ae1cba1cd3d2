/**
 * Colour, end to end through the real Thumbor: a thumbnail shows what the original shows (its
 * pixels converted to sRGB through the original's profile), carries no profile, EXIF or XMP, and
 * its placeholder colour is the thumbnail's.
 */
import { describe, expect, inject, it } from "vitest";
import type { JobView as Job } from "../../src/http/job-view";
import { api, fixture, settle } from "./jobs";
import { colourCheck, readLog } from "./support.mjs";

const python = inject("python");

async function thumbnailOf(name: string) {
	const original = fixture(name);
	const res = await api("/jobs?wait=30", { method: "POST", body: original });
	let job = (await res.json()) as Job;
	if (job.status !== "done") job = await settle(job.id);
	expect(job.status, JSON.stringify(job.error)).toBe("done");
	const thumbnail = new Uint8Array(await (await fetch(job.thumbnailUrl)).arrayBuffer());
	return { original, job, thumbnail, check: colourCheck(python, original, thumbnail, job.placeholder?.color) };
}

describe("colour and metadata", () => {
	it.each([
		["p3-red.jpg", "Display P3"],
		["p3-leaf.jpg", "Display P3"],
		["cmyk-teal.jpg", "CMYK, its profile embedded (1 MB)"],
		["cmyk-teal-no-profile.jpg", "CMYK without a profile"],
		["p3-16bit.png", "16-bit Display P3 PNG"],
		["p3-screenshot.png", "8-bit Display P3 PNG with alpha"],
	])("%s (%s): shown as the original is, within ΔE 3; its placeholder within ΔE 6; no profile in it", async (name) => {
		const { job, thumbnail, check } = await thumbnailOf(name);
		expect(check.deltaE, JSON.stringify(check)).toBeLessThan(3);
		expect(check.placeholderDeltaE, JSON.stringify(check)).toBeLessThan(6);
		expect(check.chunks.filter((c) => ["ICCP", "EXIF", "XMP "].includes(c))).toEqual([]);
		// A few KB whatever the original carried (the CMYK one's profile alone is 0.9 MB).
		expect(thumbnail.length).toBeLessThan(12 * 1024);
		expect(job.thumbnail?.bytes).toBe(thumbnail.length);
		console.log(
			`${name}: ${thumbnail.length} bytes, ΔE ${check.deltaE.toFixed(2)}, placeholder ΔE ${check.placeholderDeltaE?.toFixed(2)}`,
		);
	});

	it.each(["broken-profile.jpg", "wrong-profile.jpg"])(
		"%s: a profile it cannot use is ignored (said in Thumbor's log): done, its pixels taken as sRGB, no profile kept",
		async (name) => {
			const original = fixture(name);
			let job = (await (await api("/jobs?wait=30", { method: "POST", body: original })).json()) as Job;
			if (job.status !== "done") job = await settle(job.id);
			expect(job.status).toBe("done");
			const thumbnail = new Uint8Array(await (await fetch(job.thumbnailUrl)).arrayBuffer());
			expect(new TextDecoder("latin1").decode(thumbnail.subarray(0, 64))).not.toMatch(/ICCP/);
			await expect.poll(() => readLog(inject("logDir"), "thumbor")).toMatch(/colour profile ignored/);
		},
	);

	it("says what the original's profile was in its facts", async () => {
		const { job } = await thumbnailOf("p3-leaf.jpg");
		expect(job.original?.facts?.iccProfile).toMatch(/P3/);
	});

	it("leaves a photo's EXIF (its GPS position) and XMP behind", async () => {
		const { thumbnail, check } = await thumbnailOf("with-metadata.jpg");
		expect(check.chunks).not.toContain("EXIF");
		expect(check.chunks).not.toContain("XMP ");
		const text = new TextDecoder("latin1").decode(thumbnail);
		expect(text).not.toMatch(/Camera maker|xmpmeta/);
	});
});
