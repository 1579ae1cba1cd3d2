import { describe, expect, it } from "vitest";
import { hasOneScanOnly, JpegScanCounter } from "../../../src/images/jpeg";
import { readImageSize } from "../../../src/images/size";
import { sniffImageType } from "../../../src/images/sniff";
import { readWebpInfo } from "../../../src/images/webp";
import { WEBP } from "../helpers";

const bytes = (...parts: (number[] | string)[]) =>
	new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));
const be16 = (n: number) => [n >> 8, n & 0xff];

describe("sniffImageType", () => {
	it.each([
		["image/jpeg", bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10])],
		["image/png", bytes([0x89], "PNG\r\n\x1a\n", [0, 0, 0, 13])],
		["image/gif", bytes("GIF89a", [1, 0, 1, 0])],
		["image/gif", bytes("GIF87a", [1, 0, 1, 0])],
		["image/webp", WEBP.lossy100],
		["image/avif", bytes([0, 0, 0, 0x1c], "ftypavif", [0, 0, 0, 0])],
		["image/heic", bytes([0, 0, 0, 0x18], "ftypheic", [0, 0, 0, 0], "mif1heic")],
		["image/heic", bytes([0, 0, 0, 0x18], "ftypmif1", [0, 0, 0, 0], "mif1heic")],
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
		["an MP4 video", bytes([0, 0, 0, 0x18], "ftypisom", [0, 0, 2, 0], "isomiso2")],
		["a HEIF image sequence", bytes([0, 0, 0, 0x18], "ftyphevc", [0, 0, 0, 0], "msf1hevc")],
		["a HEIF whose brands name no HEIC", bytes([0, 0, 0, 0x14], "ftypmif1", [0, 0, 0, 0], "mif1")],
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

describe("readImageSize", () => {
	const le16 = (n: number) => [n & 0xff, n >> 8];

	it("reads PNG, GIF and WebP headers", () => {
		const png = (depth: number, colour: number) =>
			bytes([0x89], "PNG\r\n\x1a\n", [0, 0, 0, 13], "IHDR", [0, 0, 0x0f, 0xa0, 0, 0, 0x0b, 0xb8, depth, colour]);
		expect(readImageSize(png(8, 2), "image/png")).toEqual({ width: 4000, height: 3000, bytesPerPixel: 3 });
		// Bit depth and alpha count: 16-bit RGBA is 8 bytes a pixel, grey 1, a palette decodes to RGBA.
		expect(readImageSize(png(16, 6), "image/png")?.bytesPerPixel).toBe(8);
		expect(readImageSize(png(16, 0), "image/png")?.bytesPerPixel).toBe(2);
		expect(readImageSize(png(1, 0), "image/png")?.bytesPerPixel).toBe(1);
		expect(readImageSize(png(8, 3), "image/png")?.bytesPerPixel).toBe(4);
		expect(readImageSize(bytes("GIF89a", le16(640), le16(480)), "image/gif")).toEqual({
			width: 640,
			height: 480,
			bytesPerPixel: 4,
		});
		expect(readImageSize(WEBP.alpha640x2.subarray(0, 32), "image/webp")).toEqual({ width: 640, height: 2, bytesPerPixel: 4 });
		expect(readImageSize(WEBP.lossy100.subarray(0, 32), "image/webp")?.bytesPerPixel).toBe(3);
		expect(readImageSize(WEBP.lossless3x7.subarray(0, 30), "image/webp")?.bytesPerPixel).toBe(3);
	});

	it("walks JPEG markers past EXIF to the start of frame", () => {
		const app1 = [0xff, 0xe1, ...be16(2 + 1000), ...new Array(1000).fill(0x45)];
		const dqt = [0xff, 0xdb, ...be16(4), 0, 0];
		const sof2 = [0xff, 0xc2, ...be16(17), 8, ...be16(3000), ...be16(4000), 3];
		const jpeg = bytes([0xff, 0xd8], app1, dqt, [0xff], sof2, new Array(20).fill(0));
		expect(readImageSize(jpeg, "image/jpeg")).toEqual({ width: 4000, height: 3000, bytesPerPixel: 3 });
		// 12 bits a sample, CMYK: two bytes a sample, four samples.
		const deep = bytes([0xff, 0xd8], [0xff, 0xc1, ...be16(20), 12, ...be16(30), ...be16(40), 4], new Array(20).fill(0));
		expect(readImageSize(deep, "image/jpeg")).toEqual({ width: 40, height: 30, bytesPerPixel: 8 });
		// A start of frame beyond the bytes read: unknown, and Thumbor decides.
		expect(readImageSize(jpeg.subarray(0, 900), "image/jpeg")).toBeNull();
		expect(readImageSize(bytes([0xff, 0xd8, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]), "image/jpeg")).toBeNull();
	});

	it("reads TIFF sizes from the first IFD, either byte order, SHORT or LONG", () => {
		const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
		const be32 = (n: number) => le32(n).reverse();
		const entry = (le: boolean, tag: number, type: number, value: number) =>
			le
				? [...le16(tag), ...le16(type), ...le32(1), ...(type === 3 ? [...le16(value), 0, 0] : le32(value))]
				: [...be16(tag), ...be16(type), ...be32(1), ...(type === 3 ? [...be16(value), 0, 0] : be32(value))];
		const little = bytes(
			"II",
			[42, 0],
			le32(8),
			le16(3),
			entry(true, 254, 4, 0),
			entry(true, 256, 4, 7000),
			entry(true, 257, 3, 9000),
		);
		expect(readImageSize(little, "image/tiff")).toEqual({ width: 7000, height: 9000, bytesPerPixel: 1 });
		const big = bytes("MM", [0, 42], be32(8), be16(2), entry(false, 256, 3, 640), entry(false, 257, 4, 480));
		expect(readImageSize(big, "image/tiff")).toEqual({ width: 640, height: 480, bytesPerPixel: 1 });
		// RGBA, 16 bits a sample (BitsPerSample's four values at an offset): 8 bytes a pixel.
		const rgba16 = bytes(
			"II",
			[42, 0],
			le32(8),
			le16(4),
			entry(true, 256, 3, 64),
			entry(true, 257, 3, 48),
			[...le16(258), ...le16(3), ...le32(4), ...le32(62)],
			entry(true, 277, 3, 4),
			le32(0),
			le16(16),
			le16(16),
			le16(16),
			le16(16),
		);
		expect(readImageSize(rgba16, "image/tiff")).toEqual({ width: 64, height: 48, bytesPerPixel: 8 });
		// An IFD beyond the bytes read (a TIFF written data-first): unknown, and Thumbor decides.
		expect(readImageSize(bytes("II*", [0], le32(90_000)), "image/tiff")).toBeNull();
	});

	it("reads an AVIF's size from its ispe property (a real file's header, made by Pillow)", () => {
		const avif = Uint8Array.from(
			atob(
				"AAAAIGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZk1BMUIAAADrbWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAcGljdAAAAAAAAAAAAAAA" +
					"AAAAAAAOcGl0bQAAAAAAAQAAAB5pbG9jAAAAAEQAAAEAAQAAAAEAAAETAAAOsAAAAChpaW5mAAAAAAABAAAAGmluZmUCAAAAAAEA" +
					"AGF2MDFDb2xvcgAAAABqaXBycAAAAEtpcGNvAAAAFGlzcGUAAAAAAAAAyAAAAJYAAAAQcGl4aQAAAAADCAgIAAAADGF2MUOBAAwA" +
					"AAAAE2NvbHJuY2x4AAEADQAGgAAAABdpcG1hAAAAAAAAAAEAAQQBAoMEAAAOuG1kYXQSAAoKGB3x5VogIaDQgDKfHUR4eHhiGEkk",
			),
			(c) => c.charCodeAt(0),
		);
		expect(readImageSize(avif, "image/avif")).toEqual({ width: 200, height: 150, bytesPerPixel: 3 });
		expect(readImageSize(avif.subarray(0, 100), "image/avif")).toBeNull();
	});

	it("reads a HEIC's size from its ispe property (the header of one pillow-heif wrote, turned by irot)", () => {
		const heic = Uint8Array.from(
			atob(
				"AAAAHGZ0eXBoZWljAAAAAG1pZjFoZWljbWlhZgAAAaFtZXRhAAAAAAAAACFoZGxyAAAAAAAAAABwaWN0AAAAAAAAAAAAAAAAAAAA" +
					"ADRpbG9jAAAAAERAAAIAAQAAAAABxQABAAAAAAAAAs0AAgAAAAAEkgABAAAAAAAAACQAAAA4aWluZgAAAAAAAgAAABVpbmZlAgAA" +
					"AAABAABodmMxAAAAABVpbmZlAgAAAQACAABFeGlmAAAAAA5waXRtAAAAAAABAAAA4GlwcnAAAADAaXBjbwAAAHhodmNDAQNwAAAA" +
					"kAAAAAAAPPAA/P34+AAADwNgAAEAGEABDAH//wNwAAADAJAAAAMAAAMAPLoCQGEAAQArQgEBA3AAAAMAkAAAAwAAAwA8oAyIDJZb" +
					"qSSmubgIaDAgAAADAyAAAAMAIWIAAQAHRAHBcrBiQAAAABNjb2xybmNseAABAA0ABoAAAAAUaXNwZQAAAAAAAAGQAAAAyAAAABBw" +
					"aXhpAAAAAAMICAgAAAAJaXJvdAMAAAAYaXBtYQAAAAAAAAABAAEFgQIDBIUAAAAaaXJlZgAAAAAAAAAOY2RzYwACAAEAAQ==",
			),
			(c) => c.charCodeAt(0),
		);
		expect(sniffImageType(heic)).toBe("image/heic");
		// Stored 400x200 (a portrait photo turned a quarter by irot): the pixel count is what matters.
		expect(readImageSize(heic, "image/heic")).toEqual({ width: 400, height: 200, bytesPerPixel: 3 });
	});
});

describe("JPEG scans", () => {
	const each = (n: number, spec: (id: number) => number[]) => Array.from({ length: n }, (_, i) => spec(i + 1)).flat();
	const sof = (marker: number, components: number) => [
		...[0xff, marker, ...be16(8 + 3 * components), 8, ...be16(48), ...be16(64), components],
		...each(components, (id) => [id, 0x11, 0]),
	];
	const sos = (components: number) => [
		0xff,
		0xda,
		...be16(6 + 2 * components),
		components,
		...each(components, (id) => [id, 0]),
		0,
		63,
		0,
	];
	// An EXIF thumbnail: another JPEG, with a scan of its own, inside a marker segment.
	const inner = [0xff, 0xd8, ...sof(0xc0, 1), ...sos(1), 0, 0xff, 0xd9];
	const app1 = [0xff, 0xe1, ...be16(2 + 6 + inner.length), 0x45, 0x78, 0x69, 0x66, 0, 0, ...inner];
	const jpeg = (frame: number[], scan: number[], after: number[] = []) =>
		bytes([0xff, 0xd8], app1, [0xff, 0xdb, ...be16(4), 0, 0], [0xff], frame, scan, new Array(40).fill(1), after);
	const markersAfter = new Array(150).fill([0xff, 0xda, 0, 8, 3]).flat();
	const counted = (file: Uint8Array) => {
		const counter = new JpegScanCounter();
		for (let at = 0; at < file.length; at += 7) counter.push(file.subarray(at, at + 7));
		return counter.scans;
	};

	it("knows from a file's first bytes when libjpeg decodes its first scan only: sequential, every component in it", () => {
		for (const frame of [0xc0, 0xc1, 0xc9]) {
			for (const components of [1, 3, 4]) {
				expect(hasOneScanOnly(jpeg(sof(frame, components), sos(components), markersAfter))).toBe(true);
			}
		}
		// Anything else may go on with more scans, which libjpeg decodes: they are counted.
		expect(hasOneScanOnly(jpeg(sof(0xc2, 3), sos(3)))).toBe(false); // progressive
		expect(hasOneScanOnly(jpeg(sof(0xc0, 3), sos(1)))).toBe(false); // a first scan of one component of three
		expect(hasOneScanOnly(jpeg(sof(0xc0, 3), sos(0)))).toBe(false);
		expect(hasOneScanOnly(jpeg([], sos(3)))).toBe(false); // a scan before any frame
		expect(hasOneScanOnly(jpeg([...sof(0xc0, 3), ...sof(0xc0, 3)], sos(3)))).toBe(false);
		expect(hasOneScanOnly(jpeg(sof(0xc0, 3), sos(3)).subarray(0, 40))).toBe(false); // the head stops before the scan
	});

	it("counts every start-of-scan marker, across chunks, the EXIF thumbnail's too", () => {
		expect(counted(jpeg(sof(0xc2, 3), sos(3), markersAfter))).toBe(152);
		expect(counted(bytes([0xff], [0xda, 0xff], [0xda]))).toBe(2);
	});
});
