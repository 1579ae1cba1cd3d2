import { describe, expect, it } from "vitest";
import { signedOriginalUrl, verifyOriginalSignature } from "../../src/originals/signing";
import { OPERATION, signThumborPath, thumborPath } from "../../src/thumbor/client";

describe("Thumbor URL signing", () => {
	it("matches the vector verified against a live Thumbor 7.8", async () => {
		const path = "100x100/smart/filters:format(webp):quality(80)/127.0.0.1:8000/small_640x480.jpg";
		expect(await signThumborPath("lab-3f9c2a7e-not-a-real-secret", path)).toBe("uKlyaVg4iVjCyw4QJRjI8JXh4sI=");
	});

	it("asks for the canonical operation and percent-encodes the whole source, query included", async () => {
		const url = await thumborPath("k", "http://w.example/originals/x?exp=1&sig=a_b");
		const [, sig, ...rest] = url.split("/");
		const path = rest.join("/");
		expect(path).toBe(`${OPERATION}/http%3A%2F%2Fw.example%2Foriginals%2Fx%3Fexp%3D1%26sig%3Da_b`);
		expect(OPERATION).toBe("100x100/smart/filters:format(webp):quality(80)");
		expect(sig).toBe(await signThumborPath("k", path));
		expect(url).not.toContain("unsafe");
	});
});

describe("signed original URLs", () => {
	const id = "01m8fr21cf4tp221dyc5rnn9yd";
	const key = "originals-test-key-0123456789";

	it("verify with the right key until they expire", async () => {
		const now = Date.now();
		const url = new URL(await signedOriginalUrl("http://w.example", key, id, now));
		const exp = Number(url.searchParams.get("exp"));
		const sig = url.searchParams.get("sig")!;
		expect(url.pathname).toBe(`/originals/${id}`);
		expect(await verifyOriginalSignature(key, id, exp, sig, now)).toBe(true);
		expect(await verifyOriginalSignature(key, id, exp, sig, exp * 1000 + 1)).toBe(false);
		expect(await verifyOriginalSignature("another-key-0123456789", id, exp, sig, now)).toBe(false);
		expect(await verifyOriginalSignature(key, "01m8fr21cf4tp221dyc5rnn9ye", exp, sig, now)).toBe(false);
		expect(await verifyOriginalSignature(key, id, exp + 1, sig, now)).toBe(false);
		expect(await verifyOriginalSignature(key, id, exp, "not base64!", now)).toBe(false);
	});
});
