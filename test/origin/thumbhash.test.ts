/**
 * The origin's ThumbHash encoder (thumbor/placeholder.py, a port) against the reference: evanw's
 * own `thumbhash` package from npm, given the same pixels. On photographs the bytes are the same;
 * where a term of the transform is exactly zero (flat, symmetric pictures), the port's and the
 * reference's floating-point sums round it to neighbouring nibbles, so each nibble may differ by
 * one there. Either way the reference decoder reads ours back to the picture's average colour.
 */
import { rgbaToThumbHash, thumbHashToAverageRGBA } from "thumbhash";
import { describe, expect, it } from "vitest";
import { base64, fromBase64 } from "../../src/base/crypto";
import { encodeWithThePort } from "./thumbhash-port.mjs";

/** Photographs (noise, gradients, soft shapes): no term sits on a rounding tie. */
const PHOTOS = ["photo-640x480.jpg", "large-4000x3000.jpg", "photo-256.webp", "photo-1200x900.heic", "photo-200x150.avif"];
/** Flat, symmetric pictures, alpha too. */
const DRAWINGS = ["alpha-300x200.png", "rotated-exif6.jpg", "subject-right-1200x600.png", "photo-200x150.tiff"];

const nibbles = (bytes: Uint8Array) => [...bytes].flatMap((b) => [b & 15, b >> 4]);

/** The alpha-weighted average colour of RGBA pixels, each channel 0..1. */
function average(rgba: Uint8Array) {
	const sum = { r: 0, g: 0, b: 0, a: 0 };
	for (let i = 0; i < rgba.length; i += 4) {
		const alpha = (rgba[i + 3] as number) / 255;
		sum.r += (alpha * (rgba[i] as number)) / 255;
		sum.g += (alpha * (rgba[i + 1] as number)) / 255;
		sum.b += (alpha * (rgba[i + 2] as number)) / 255;
		sum.a += alpha;
	}
	return { r: sum.r / sum.a, g: sum.g / sum.a, b: sum.b / sum.a };
}

describe("the origin's ThumbHash, against the reference implementation", () => {
	const cases = encodeWithThePort([...PHOTOS, ...DRAWINGS]);

	it.each(cases.filter((c) => PHOTOS.includes(c.name)).map((c) => [c.name, c]))("%s: the same bytes", (_, c) => {
		expect(c.ours).toBe(base64(rgbaToThumbHash(c.w, c.h, fromBase64(c.rgba))));
	});

	it.each(cases.filter((c) => DRAWINGS.includes(c.name)).map((c) => [c.name, c]))("%s: the same but for ties", (_, c) => {
		const reference = rgbaToThumbHash(c.w, c.h, fromBase64(c.rgba));
		const ours = fromBase64(c.ours);
		expect(ours.length).toBe(reference.length);
		// The header (average colour, scales, aspect, alpha) is the same to the bit.
		expect([...ours.subarray(0, 5)]).toEqual([...reference.subarray(0, 5)]);
		const apart = nibbles(ours).map((n, i) => Math.abs(n - (nibbles(reference)[i] as number)));
		expect(Math.max(...apart)).toBeLessThanOrEqual(1);
	});

	it.each(cases.map((c) => [c.name, c]))("%s: the reference decoder reads the picture's average colour", (_, c) => {
		const decoded = thumbHashToAverageRGBA(fromBase64(c.ours));
		const actual = average(fromBase64(c.rgba));
		// ThumbHash keeps the average in 6 bits of luminance and about 6 of each chroma axis.
		for (const channel of ["r", "g", "b"] as const) expect(Math.abs(decoded[channel] - actual[channel])).toBeLessThan(0.03);
	});
});
