import { describe, expect, it } from "vitest";
import { AttemptError } from "../../../src/base/attempts";
import type { JobErrorCode } from "../../../src/base/contracts";
import { CANONICAL, parseRenditionName } from "../../../src/base/renditions";
import { classifyThumborAnswer, renderThumbnail, type ThumborOrigin } from "../../../src/render/origin-client";
import { pngLike, WEBP } from "../helpers";

/** The canonical thumbnail alone, as the health probe asks. */
const ASK = { path: "/x", outputs: [CANONICAL] };

describe("Thumbor answers", () => {
	const context = (attempt: number, previous: JobErrorCode | null = null) => ({ attempt, previousError: previous });

	// Stand-ins for faults a live Thumbor cannot be made to show on demand.
	const answering = (...answers: (Response | Error)[]): ThumborOrigin & { bodies: string[] } => {
		const bodies: string[] = [];
		return {
			bodies,
			async render(_path, original) {
				bodies.push(await new Response(original).text());
				const next = answers.shift();
				if (!next) throw new Error("no more answers");
				if (next instanceof Error) throw next;
				return next;
			},
			healthy: async () => true,
		};
	};
	const silent = (healthy: boolean): ThumborOrigin => ({
		render: (_path, _original, _headers, signal) =>
			new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
		healthy: async () => healthy,
	});
	/** The original, opened afresh on each call (as the consumer streams it from R2). */
	const original = () => async () => new Response("original bytes").body!;
	const webp = (bytes: Uint8Array) => new Response(bytes, { headers: { "Content-Type": "image/webp" } });

	it("sends the original in the request, once more at once when a pooled connection to Thumbor drops", async () => {
		const origin = answering(new Error("Network connection lost."), webp(WEBP.lossy100));
		const rendered = await renderThumbnail(origin, ASK, original(), context(1));
		expect(rendered.outputs).toEqual([{ rendition: CANONICAL, bytes: WEBP.lossy100 }]);
		expect(origin.bodies).toEqual(["original bytes", "original bytes"]);
		await expect(
			renderThumbnail(
				answering(new Error("Network connection lost."), new Error("Network connection lost.")),
				ASK,
				original(),
				context(1),
			),
		).rejects.toMatchObject({ permanent: false, error: { code: "thumbor_unavailable" } });
	});

	it("tells the job's owner that Thumbor could not be reached, never what the runtime said", async () => {
		const failed = await renderThumbnail(
			answering(new Error("Network connection lost."), new Error("internal error; reference = 3kq9 at 10.1.2.3:8888")),
			ASK,
			original(),
			context(1),
		).catch((err: AttemptError) => err);
		expect((failed as AttemptError).error.message).toBe(
			"The image service could not be reached; the job waits and is tried again.",
		);
	});

	it("takes the placeholder and facts our engine sends beside the thumbnail; a malformed one is left out", async () => {
		const facts = {
			format: "jpeg",
			width: 4000,
			height: 3000,
			displayWidth: 3000,
			displayHeight: 4000,
			orientation: 6,
			rotated: true,
			frames: 1,
			animated: false,
			alpha: false,
			bitDepth: 8,
			colorSpace: "rgb",
			iccProfile: "sRGB",
		};
		const described = (headers: Record<string, string>) =>
			new Response(WEBP.lossy100, { headers: { "Content-Type": "image/webp", ...headers } });
		const full = described({
			"Edge-Thumbhash": "YSgGHwZMiwezh2REV4aViklDmHn1CygC",
			"Edge-Color": "#cd8e5c",
			"Edge-Facts": JSON.stringify(facts),
		});
		expect((await renderThumbnail(answering(full), ASK, original(), context(1))).details).toEqual({
			placeholder: { thumbhash: "YSgGHwZMiwezh2REV4aViklDmHn1CygC", color: "#cd8e5c" },
			facts,
		});
		const malformed = described({ "Edge-Thumbhash": "not base64!", "Edge-Color": "#cd8e5c", "Edge-Facts": "{" });
		expect((await renderThumbnail(answering(malformed), ASK, original(), context(1))).details).toEqual({
			placeholder: null,
			facts: null,
		});
		// A stock Thumbor says nothing of the kind: the thumbnail is as good without.
		expect((await renderThumbnail(answering(webp(WEBP.lossy100)), ASK, original(), context(1))).details).toEqual({
			placeholder: null,
			facts: null,
		});
	});

	it("fails for good, without asking Thumbor, when the original is gone", async () => {
		const origin = answering(webp(WEBP.lossy100));
		const gone = async (): Promise<ReadableStream<Uint8Array>> => {
			throw new AttemptError({ code: "original_missing", message: "The original upload no longer exists." }, true);
		};
		await expect(renderThumbnail(origin, ASK, gone, context(1))).rejects.toMatchObject({
			permanent: true,
			error: { code: "original_missing" },
		});
		expect(origin.bodies).toEqual([]);
	});

	it("cuts an answer of several outputs by Edge-Outputs, and refuses one whose lengths do not add up", async () => {
		const twice = { path: "/x", outputs: [CANONICAL, CANONICAL] };
		const both = new Uint8Array([...WEBP.lossy100, ...WEBP.lossy100]);
		const n = WEBP.lossy100.length;
		const answer = (lengths: string) =>
			new Response(both, { headers: { "Edge-Outputs": lengths, "Edge-Focus": "0.7396,0.5000" } });
		const rendered = await renderThumbnail(answering(answer(`${n},${n}`)), twice, original(), context(1));
		expect(rendered.outputs.map((o) => o.bytes)).toEqual([WEBP.lossy100, WEBP.lossy100]);
		expect(rendered.focus).toBe("0.7396,0.5000");
		for (const lengths of [`${n}`, `${n},${n - 1}`, `${n - 1},${n + 1},0`, "x,y", `${2 * n},0`, `0,${2 * n}`]) {
			await expect(renderThumbnail(answering(answer(lengths)), twice, original(), context(1))).rejects.toMatchObject({
				permanent: true,
				error: { code: "unexpected_output" },
			});
		}
	});

	it("takes an answer that left a larger output out (length 0), never one without its smallest", async () => {
		const [x2] = [parseRenditionName("webp@2x")!];
		const ask = { path: "/x", outputs: [x2!, CANONICAL] };
		const answer = (lengths: string) => new Response(WEBP.lossy100, { headers: { "Edge-Outputs": lengths } });
		const rendered = await renderThumbnail(answering(answer(`0,${WEBP.lossy100.length}`)), ask, original(), context(1));
		expect(rendered.outputs).toEqual([{ rendition: CANONICAL, bytes: WEBP.lossy100 }]);
		await expect(
			renderThumbnail(answering(answer(`${WEBP.lossy100.length},0`)), ask, original(), context(1)),
		).rejects.toMatchObject({ permanent: true, error: { code: "unexpected_output" } });
	});

	it("refuses output that is not a still 100x100 WebP", async () => {
		for (const bytes of [WEBP.lossless3x7, WEBP.animated5x4, pngLike()]) {
			await expect(renderThumbnail(answering(webp(bytes)), ASK, original(), context(1))).rejects.toMatchObject({
				permanent: true,
				error: { code: "unexpected_output" },
			});
		}
	});

	it("maps each answer to what it means for the job: our engine's refusals are about the image, the rest never is", () => {
		const classify = (status: number, refusal: string | null, ctx = context(1)) => classifyThumborAnswer(status, refusal, ctx);
		expect(classify(400, "undecodable")).toMatchObject({ permanent: true, error: { code: "unprocessable_image" } });
		expect(classify(400, "empty")).toMatchObject({ permanent: true, error: { code: "unprocessable_image" } });
		expect(classify(422, "too_large")).toMatchObject({ permanent: true, error: { code: "image_too_large" } });
		expect(classify(422, "too_complex")).toMatchObject({ permanent: true, error: { code: "image_too_complex" } });
		// Thumbor had the image and choked on it; final once a retry agrees.
		expect(classify(500, "crashed")).toMatchObject({ permanent: false, error: { code: "unprocessable_image" } });
		expect(classify(500, "crashed", context(5, "unprocessable_image"))).toMatchObject({
			permanent: true,
			error: { code: "unprocessable_image" },
		});
		// A second attempt after an outage has seen nothing against the image yet.
		expect(classify(500, "crashed", context(2, "thumbor_unavailable"))).toMatchObject({ permanent: false });
		expect(classify(503, "busy")).toMatchObject({ permanent: false, error: { code: "thumbor_unavailable" } });
		// Refused without a look at the image: a wrong key (Thumbor's 400 "Malformed URL"), a stock
		// Thumbor or one started without our thumbor.conf. Jobs wait for the fix, never fail as corrupt.
		for (const status of [400, 403, 404, 405]) {
			expect(classify(status, null, context(4, "thumbor_misconfigured"))).toMatchObject({
				permanent: false,
				error: { code: "thumbor_misconfigured", message: expect.stringMatching(/THUMBOR_SECURITY_KEY/) },
			});
		}
		// Without our header, even a 500 says nothing against the image.
		for (const status of [500, 502, 503, 504]) {
			expect(classify(status, null, context(3, "unprocessable_image"))).toMatchObject({
				permanent: false,
				error: { code: "thumbor_unavailable" },
			});
		}
	});

	it("blames the image a healthy Thumbor twice never answered; Thumbor when its health check fails", async () => {
		await expect(renderThumbnail(silent(true), ASK, original(), context(1), 50)).rejects.toMatchObject({
			permanent: false,
			error: { code: "image_too_complex" },
		});
		await expect(renderThumbnail(silent(true), ASK, original(), context(2, "image_too_complex"), 50)).rejects.toMatchObject({
			permanent: true,
			error: { code: "image_too_complex" },
		});
		await expect(renderThumbnail(silent(false), ASK, original(), context(2, "image_too_complex"), 50)).rejects.toMatchObject({
			permanent: false,
			error: { code: "thumbor_unavailable" },
		});
	});
});
