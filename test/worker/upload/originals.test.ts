import { afterEach, describe, expect, it, vi } from "vitest";
import { PART_BYTES, putUnsized } from "../../../src/upload/originals";
import { env } from "../helpers";

/** `bytes` as chunks of uneven sizes (so parts straddle chunk edges). */
async function* chunks(bytes: Uint8Array, fail: Error | null = null) {
	for (let at = 0, i = 0; at < bytes.length; i++) {
		const size = 65_536 + ((i * 7919) % 50_000);
		yield bytes.slice(at, at + size);
		at += size;
		if (fail && at > bytes.length / 2) throw fail;
	}
}

const random = (n: number) => {
	const out = new Uint8Array(n);
	for (let at = 0; at < n; at += 65_536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65_536)));
	return out;
};

describe("putUnsized: a stream of unknown length into R2", () => {
	afterEach(() => vi.restoreAllMocks());

	it("writes a body that ends within one part as one put", async () => {
		const multipart = vi.spyOn(env.BUCKET, "createMultipartUpload");
		const bytes = random(300_000);
		await putUnsized(env.BUCKET, "test/small", chunks(bytes), { httpMetadata: { contentType: "image/jpeg" } });
		const stored = await env.BUCKET.get("test/small");
		expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(bytes);
		expect(stored!.httpMetadata?.contentType).toBe("image/jpeg");
		expect(multipart).not.toHaveBeenCalled();
	});

	it("writes a longer one as a multipart upload of equal parts and a last, byte for byte", async () => {
		const multipart = vi.spyOn(env.BUCKET, "createMultipartUpload");
		for (const size of [2 * PART_BYTES + 12_345, 2 * PART_BYTES]) {
			const bytes = random(size);
			await putUnsized(env.BUCKET, `test/big-${size}`, chunks(bytes), {});
			const stored = await env.BUCKET.get(`test/big-${size}`);
			expect(stored!.size).toBe(size);
			expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(bytes);
		}
		expect(multipart).toHaveBeenCalledTimes(2);
	});

	it("leaves nothing when the stream fails part-way (the multipart upload is aborted)", async () => {
		const bytes = random(3 * PART_BYTES);
		await expect(putUnsized(env.BUCKET, "test/failed", chunks(bytes, new Error("client went away")), {})).rejects.toThrow(
			"client went away",
		);
		expect(await env.BUCKET.head("test/failed")).toBeNull();
	});
});
