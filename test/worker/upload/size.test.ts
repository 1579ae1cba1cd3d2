/** The upload size policy (src/upload/size.ts): one 413, from a declared length or a count. */
import { describe, expect, it } from "vitest";
import { ByteCount, MULTIPART_OVERHEAD_BYTES, mostBytes, refuseDeclared } from "../../../src/upload/size";

describe("the size policy", () => {
	it("allows a form its framing beside the file's limit", () => {
		expect(mostBytes(1000)).toBe(1000);
		expect(mostBytes(1000, { multipart: true })).toBe(1000 + MULTIPART_OVERHEAD_BYTES);
	});

	it("refuses a declared length over the limit before a byte is read, with what the protocol adds", () => {
		expect(() => refuseDeclared(1000, 1000, "The image")).not.toThrow();
		expect(() => refuseDeclared(null, 1000, "The image")).not.toThrow();
		let refused: unknown;
		try {
			refuseDeclared(1001, 1000, "Upload-Length", { "Tus-Max-Size": "1000" });
		} catch (err) {
			refused = err;
		}
		expect(refused).toMatchObject({
			status: 413,
			code: "payload_too_large",
			message: "Upload-Length is 1001 bytes; the limit is 1000 bytes.",
			extra: { limit: 1000 },
			headers: { "Tus-Max-Size": "1000" },
		});
	});

	it("counts streamed bytes and refuses the chunk that passes the limit", () => {
		const count = new ByteCount(10);
		count.add(6);
		count.add(4);
		expect(count.bytes).toBe(10);
		expect(() => count.add(1)).toThrow(/over 10 bytes/);
	});
});
