import { describe, expect, it } from "vitest";
import { CANONICAL, parseRenditionName } from "../../../src/base/renditions";
import { OPERATION, originAsk, signThumborPath } from "../../../src/render/thumbor-path";

describe("Thumbor URL signing", () => {
	it("matches the vector verified against a live Thumbor 7.8", async () => {
		const path = "100x100/smart/filters:format(webp):quality(80)/127.0.0.1:8000/small_640x480.jpg";
		expect(await signThumborPath("lab-3f9c2a7e-not-a-real-secret", path)).toBe("uKlyaVg4iVjCyw4QJRjI8JXh4sI=");
	});

	it("asks for the canonical operation, signed, naming the original percent-encoded", async () => {
		const { path: url, outputs } = await originAsk("k", "01m8fr21cf4tp221dyc5rnn9yd?x=1/2");
		expect(outputs).toEqual([CANONICAL]);
		const [, sig, ...rest] = url.split("/");
		const path = rest.join("/");
		expect(path).toBe(`${OPERATION}/01m8fr21cf4tp221dyc5rnn9yd%3Fx%3D1%2F2`);
		expect(OPERATION).toBe("100x100/smart/filters:format(webp):quality(80)");
		expect(sig).toBe(await signThumborPath("k", path));
		expect(url).not.toContain("unsafe");
	});

	it("asks for several renditions from one decode: the largest is the URL's own, the rest `also`, framed by `focus`", async () => {
		const [x1, x2, avif3] = ["webp@1x", "webp@2x", "avif@3x"].map((n) => parseRenditionName(n)!);
		const { path, outputs } = await originAsk("k", "job", [x1!, x2!, avif3!], "0.7396,0.5000");
		expect(outputs).toEqual([avif3, x1, x2]);
		expect(path.split("/").slice(2).join("/")).toBe(
			"300x300/smart/filters:format(avif):quality(50):focus(0.7396,0.5000):also(webp,100,80):also(webp,200,80)/job",
		);
	});
});
