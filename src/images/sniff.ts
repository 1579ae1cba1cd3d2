import type { ImageType } from "../base/contracts";
import { ascii, fourcc, u32be } from "./bytes";

const startsWith = (bytes: Uint8Array, magic: number[]) => bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);

/**
 * HEIF brands whose still images Thumbor reads (with pillow-heif): iPhones write major brand
 * `heic`; others `mif1` with `heic` among the compatible brands.
 */
const HEIC_BRANDS = ["heic", "heix", "heim", "heis"];

/** The major and compatible brands of an ISOBMFF file's leading `ftyp` box (within `head`). */
function ftypBrands(head: Uint8Array): string[] {
	if (!ascii(head, 4, "ftyp") || head.length < 16) return [];
	const size = Math.min(u32be(head, 0), head.length);
	const brands = [fourcc(head, 8)];
	for (let at = 16; at + 4 <= size; at += 4) brands.push(fourcc(head, at)); // after the major brand and minor version
	return brands;
}

/** AVIF, or HEIC as Thumbor recognises it (a major brand of its own, or `mif1` naming one), or null. */
function isobmffType(head: Uint8Array): ImageType | null {
	const [major, ...compatible] = ftypBrands(head);
	if (major === "avif" || major === "avis") return "image/avif";
	if (major && HEIC_BRANDS.includes(major)) return "image/heic";
	if (major === "mif1" && compatible.some((b) => HEIC_BRANDS.includes(b))) return "image/heic";
	return null;
}

/**
 * The image type of a file from its first bytes, or null when it is not a raster
 * format Thumbor turns into WebP. Headers and file names are never consulted.
 */
export function sniffImageType(head: Uint8Array): ImageType | null {
	if (startsWith(head, [0xff, 0xd8, 0xff])) return "image/jpeg";
	if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
	if (ascii(head, 0, "GIF87a") || ascii(head, 0, "GIF89a")) return "image/gif";
	if (ascii(head, 0, "RIFF") && ascii(head, 8, "WEBP")) return "image/webp";
	const isobmff = isobmffType(head);
	if (isobmff) return isobmff;
	if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return "image/tiff";
	return null;
}
