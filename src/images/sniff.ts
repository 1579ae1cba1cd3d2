import type { ImageType } from "../contracts";

const ascii = (bytes: Uint8Array, at: number, text: string) =>
	bytes.length >= at + text.length && [...text].every((ch, i) => bytes[at + i] === ch.charCodeAt(0));

const startsWith = (bytes: Uint8Array, magic: number[]) =>
	bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);

/**
 * The image type of a file from its first bytes, or null when it is not a raster
 * format Thumbor turns into WebP. Headers and file names are never consulted.
 */
export function sniffImageType(head: Uint8Array): ImageType | null {
	if (startsWith(head, [0xff, 0xd8, 0xff])) return "image/jpeg";
	if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
	if (ascii(head, 0, "GIF87a") || ascii(head, 0, "GIF89a")) return "image/gif";
	if (ascii(head, 0, "RIFF") && ascii(head, 8, "WEBP")) return "image/webp";
	if (ascii(head, 4, "ftypavif") || ascii(head, 4, "ftypavis")) return "image/avif";
	if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return "image/tiff";
	return null;
}
