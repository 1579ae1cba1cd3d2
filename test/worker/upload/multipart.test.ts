/** The streaming multipart reader on its own: framing rules and limits (src/upload/multipart.ts). */
import { describe, expect, it } from "vitest";
import { ByteReader } from "../../../src/upload/bytes";
import { MULTIPART_LIMITS, MultipartError, MultipartUpload, multipartBoundary } from "../../../src/upload/multipart";

const enc = new TextEncoder();

/** A stream of `text`, cut into chunks of `size` bytes (so framing straddles chunk edges). */
function reader(text: string | Uint8Array, size = 7): ByteReader {
	const bytes = typeof text === "string" ? enc.encode(text) : text;
	let at = 0;
	return new ByteReader(
		new ReadableStream<Uint8Array>({
			pull(controller) {
				if (at >= bytes.length) return controller.close();
				controller.enqueue(bytes.slice(at, at + size));
				at += size;
			},
		}),
	);
}

/** Reads a whole body: its fields and its file. */
async function parse(body: string, boundary = "b0undary") {
	const r = reader(body);
	const form = await MultipartUpload.open(r, boundary);
	const length = enc.encode(body).length;
	const bytes = form.fileLength(length, r.consumed);
	const chunks: Uint8Array[] = [];
	for await (const c of form.file(r, bytes)) chunks.push(c);
	return { fields: form.fields, file: new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))) };
}

const part = (name: string, value: string, b = "b0undary") =>
	`--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const file = (value: string, b = "b0undary") =>
	`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n` +
	`Content-Type: image/png\r\n\r\n${value}\r\n--${b}--\r\n`;

const failure = (p: Promise<unknown>) =>
	p.then(
		() => null,
		(e: unknown) => (e instanceof MultipartError ? e.failure : e),
	);

describe("multipart reader", () => {
	it("reads fields then the file, across chunk edges", async () => {
		expect(await parse(part("slug", "cat") + part("note", "hi") + file("PNGDATA"))).toEqual({
			fields: { slug: "cat", note: "hi" },
			file: "PNGDATA",
		});
	});

	it("takes a quoted boundary, and one with the characters RFC 2046 allows", () => {
		expect(multipartBoundary('multipart/form-data; boundary="a b:c"')).toBe("a b:c");
		expect(multipartBoundary("multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxk")).toBe(
			"----WebKitFormBoundary7MA4YWxk",
		);
		expect(multipartBoundary("multipart/form-data")).toBeNull();
		expect(multipartBoundary(`multipart/form-data; boundary=${"x".repeat(71)}`)).toBeNull();
	});

	it("skips a short preamble, refuses a long one", async () => {
		expect((await parse(`ignored preamble\r\n${file("X")}`)).file).toBe("X");
		expect(await failure(parse(`${"p".repeat(MULTIPART_LIMITS.maxPreambleBytes + 10)}\r\n${file("X")}`))).toBe("malformed");
	});

	it("refuses part headers that never end or run too long", async () => {
		const pad = "h".repeat(MULTIPART_LIMITS.maxHeaderBytes);
		const long = `--b0undary\r\nContent-Disposition: form-data; name="slug"\r\nX-Pad: ${pad}\r\n\r\nv\r\n${file("X")}`;
		expect(await failure(parse(long))).toBe("malformed");
		expect(await failure(parse(`--b0undary\r\nContent-Disposition: form-data; name="slug"`))).toBe("malformed");
	});

	it("refuses a part without a name, a body without a file, too many fields and a field too long", async () => {
		expect(await failure(parse(`--b0undary\r\nContent-Type: text/plain\r\n\r\nv\r\n${file("X")}`))).toBe("malformed");
		expect(await failure(parse(`${part("slug", "cat")}--b0undary--\r\n`))).toBe("no_file");
		const many = Array.from({ length: MULTIPART_LIMITS.maxFields + 1 }, (_, i) => part(`f${i}`, "v")).join("");
		expect(await failure(parse(many + file("X")))).toBe("too_many_fields");
		expect(await failure(parse(part("note", "n".repeat(MULTIPART_LIMITS.maxFieldBytes + 1)) + file("X")))).toBe("field_too_long");
	});

	it("refuses a delimiter inside the file (a part after it), and anything but the closing delimiter at the end", async () => {
		expect(await failure(parse(file(`AB\r\n--b0undary\r\nContent-Disposition: form-data; name="slug"\r\n\r\ncat`)))).toBe(
			"file_not_last",
		);
		expect(await failure(parse(`${file("X")}trailing`))).toBe("file_not_last");
		// Bytes that merely look like a boundary without the leading CRLF are file content.
		expect((await parse(file("--b0undary-ish"))).file).toBe("--b0undary-ish");
	});
});
