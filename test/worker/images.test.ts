import { describe, expect, it } from "vitest";
import { sniffImageType } from "../../src/images/sniff";
import { readWebpInfo } from "../../src/images/webp";

const bytes = (...parts: (number[] | string)[]) =>
	new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));
const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// Real files written by Pillow/libwebp.
const WEBP = {
	lossy100: b64(
		"UklGRl4AAABXRUJQVlA4IFIAAADwBQCdASpkAGQAPtFosFMoJiSioKgBABoJaW7hc/D1QCe9xF5YGzr8cxF/8sbHAGwDXU3unMr/IAD+/l2odo1NTTMtjZ4EooYx07ERBukoAAAA",
	),
	lossless3x7: b64("UklGRh4AAABXRUJQVlA4TBEAAAAvAoABAAdQiirUo/+BiOh/AAA="),
	alpha640x2: b64(
		"UklGRoYAAABXRUJQVlA4WAoAAAAQAAAAfwIAAQAAQUxQSAoAAAABB1CyiAhERP8DVlA4IFYAAADwBACdASqAAgIAPtFosFMoJiSioMgBABoJaQDSNAJ76NqHOMoB7qb6NqHOMoB7qWgA/vEKav8JMid21flbV+VtX5W1flbV+VtX5W1flbV+VtX5UAAAAA==",
	),
	animated5x4: b64(
		"UklGRqYAAABXRUJQVlA4WAoAAAACAAAABAAAAwAAQU5JTQYAAAAAAAAAAABBTk1GMAAAAAAAAAAAAAQAAAMAAGQAAAJWUDggGAAAADABAJ0BKgUABAABQCYlpAADcAD+/TZoAEFOTUZCAAAAAAAAAAAABAAAAwAAZAAAAFZQOCAqAAAANAEAnQEqBQAEAAAAJiWgAANwAP77wSv/Du5uvWt//8s//2W/7LdegAAA",
	),
};

describe("sniffImageType", () => {
	it.each([
		["image/jpeg", bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10])],
		["image/png", bytes([0x89], "PNG\r\n\x1a\n", [0, 0, 0, 13])],
		["image/gif", bytes("GIF89a", [1, 0, 1, 0])],
		["image/gif", bytes("GIF87a", [1, 0, 1, 0])],
		["image/webp", WEBP.lossy100],
		["image/avif", bytes([0, 0, 0, 0x1c], "ftypavif", [0, 0, 0, 0])],
		["image/tiff", bytes("II*", [0, 8, 0, 0, 0])],
		["image/tiff", bytes("MM", [0, 42, 0, 0, 0, 8])],
	])("recognises %s by its magic bytes", (type, head) => {
		expect(sniffImageType(head)).toBe(type);
	});

	it.each([
		["text", bytes("hello, world\n")],
		["SVG", bytes('<svg xmlns="http://www.w3.org/2000/svg"/>')],
		["PDF", bytes("%PDF-1.7\n")],
		["HTML", bytes("<!doctype html>")],
		["a lone JPEG SOI", bytes([0xff, 0xd8])],
		["RIFF that is not WebP", bytes("RIFF\0\0\0\0WAVEfmt ")],
		["nothing", new Uint8Array(0)],
	])("refuses %s", (_name, head) => {
		expect(sniffImageType(head)).toBeNull();
	});
});

describe("readWebpInfo", () => {
	it("reads lossy (VP8), lossless (VP8L) and extended (VP8X) headers", () => {
		expect(readWebpInfo(WEBP.lossy100)).toEqual({ width: 100, height: 100, animated: false });
		expect(readWebpInfo(WEBP.lossless3x7)).toEqual({ width: 3, height: 7, animated: false });
		expect(readWebpInfo(WEBP.alpha640x2)).toEqual({ width: 640, height: 2, animated: false });
		expect(readWebpInfo(WEBP.animated5x4)).toEqual({ width: 5, height: 4, animated: true });
	});

	it("refuses anything that is not a whole WebP", () => {
		expect(readWebpInfo(bytes([0xff, 0xd8, 0xff]))).toBeNull();
		expect(readWebpInfo(WEBP.lossy100.subarray(0, 40))).toBeNull();
		const corrupt = WEBP.lossy100.slice();
		corrupt[23] = 0; // VP8 start code
		expect(readWebpInfo(corrupt)).toBeNull();
	});
});
