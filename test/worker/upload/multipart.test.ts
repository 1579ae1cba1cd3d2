/** The streaming multipart reader on its own: framing rules and limits (src/upload/multipart.ts). */
import { describe, expect, it } from "vitest";
import { ByteReader } from "../../../src/upload/bytes";
import { MULTIPART_LIMITS, MultipartError, MultipartForm, multipartBoundary } from "../../../src/upload/multipart";

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

/** Reads a whole body: its fields and its file (the body must be used up). */
async function parse(body: string, boundary = "b0undary", size = 7) {
	const r = reader(body, size);
	const form = await MultipartForm.open(r, boundary);
	const chunks: Uint8Array[] = [];
	for await (const c of form.file()) chunks.push(c);
	if (!(await r.atEnd())) throw new Error("the reader did not use the whole body");
	return { fields: form.fields, file: new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))) };
}

const part = (name: string, value: string, b = "b0undary") =>
	`--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const filePart = (value: string, b = "b0undary") =>
	`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n` + `Content-Type: image/png\r\n\r\n${value}\r\n`;
const end = (b = "b0undary") => `--${b}--\r\n`;
const file = (value: string, b = "b0undary") => filePart(value, b) + end(b);

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

	it("reads fields after the file, or on both sides of it, whatever the chunk size", async () => {
		const body =
			part("note", "before") +
			filePart("PNG\r\n-DATA-\r\n") +
			part("slug", "cat") +
			part("callback_url", "https://x.example/h") +
			end();
		for (const size of [1, 2, 7, 64, 4096]) {
			expect(await parse(body, "b0undary", size)).toEqual({
				fields: { note: "before", slug: "cat", callback_url: "https://x.example/h" },
				file: "PNG\r\n-DATA-\r\n",
			});
		}
		expect(await parse(filePart("X") + part("slug", "dog") + end())).toEqual({ fields: { slug: "dog" }, file: "X" });
		// The closing delimiter may end without its CRLF.
		expect((await parse(`${filePart("X")}--b0undary--`)).file).toBe("X");
	});

	it("refuses a second file, fields past the limit after the file, and anything after the closing delimiter", async () => {
		expect(await failure(parse(filePart("A") + filePart("B") + end()))).toBe("malformed");
		const many = Array.from({ length: MULTIPART_LIMITS.maxFields + 1 }, (_, i) => part(`f${i}`, "v")).join("");
		expect(await failure(parse(filePart("X") + many + end()))).toBe("too_many_fields");
		expect(await failure(parse(`${file("X")}trailing`))).toBe("malformed");
		expect(await failure(parse(filePart("X")))).toBe("malformed"); // the body ends inside the form
		// Bytes that merely look like a boundary without the leading CRLF are file content.
		expect((await parse(file("--b0undary-ish"))).file).toBe("--b0undary-ish");
	});
});

describe("multipart reader, against forms built at random", () => {
	/** A deterministic pseudo-random source (xorshift), so a failure can be replayed from its seed. */
	const rng = (seed: number) => () => {
		seed ^= seed << 13;
		seed ^= seed >>> 17;
		seed ^= seed << 5;
		return (seed >>> 0) / 2 ** 32;
	};
	/**
	 * Text built to tempt the reader: pieces of the delimiter, CRLFs, dashes, and noise — but, as any
	 * encoder ensures by its choice of boundary, never the delimiter itself where the part ends.
	 */
	const tempting = (random: () => number, boundary: string, n: number): string => {
		const pieces = ["\r\n", "--", `--${boundary}`, `\r\n--${boundary.slice(0, -1)}`, "\r", "\n-", "x", "é"];
		const delimiter = `\r\n--${boundary}`;
		for (;;) {
			let out = "";
			while (out.length < n) {
				out +=
					random() < 0.5 ? pieces[Math.floor(random() * pieces.length)] : String.fromCharCode(32 + Math.floor(random() * 90));
			}
			out = out.slice(0, n);
			if ((out + delimiter).indexOf(delimiter) === out.length) return out;
		}
	};

	it("reads back every field and the file byte for byte, whatever the order and the chunking", async () => {
		for (let seed = 1; seed <= 200; seed++) {
			const random = rng(seed);
			const boundary = `b${Math.floor(random() * 1e9)}`;
			const fields = Array.from(
				{ length: Math.floor(random() * 5) },
				(_, i) => [`f${i}`, tempting(random, boundary, Math.floor(random() * 60))] as const,
			);
			const at = Math.floor(random() * (fields.length + 1)); // the file's place among the fields
			const fileValue = tempting(random, boundary, Math.floor(random() * 400) + 1);
			const parts = fields.map(([name, value]) => part(name, value, boundary));
			parts.splice(at, 0, filePart(fileValue, boundary));
			const body = parts.join("") + (random() < 0.5 ? end(boundary) : `--${boundary}--`);
			const parsed = await parse(body, boundary, 1 + Math.floor(random() * 40));
			expect(parsed, `seed ${seed}`).toEqual({ fields: Object.fromEntries(fields), file: fileValue });
		}
	});
});
