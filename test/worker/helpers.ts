import { env, exports } from "cloudflare:workers";
import { hex } from "../../src/base/crypto";
import { ulid } from "../../src/base/ids";
import { CANONICAL } from "../../src/base/renditions";
import { keyRegistry } from "../../src/objects";

export const PNG_HEAD = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bytes that start like a `width`x`height` PNG (signature and IHDR: 8-bit RGBA unless said), `size` long, distinct per call. */
export function pngLike(size = 512, width = 16, height = 16, { bitDepth = 8, colorType = 6 } = {}): Uint8Array {
	const out = new Uint8Array(size);
	for (let at = 0; at < size; at += 65_536) crypto.getRandomValues(out.subarray(at, at + 65_536));
	out.set(PNG_HEAD);
	const ihdr = new DataView(out.buffer, 8, 16);
	ihdr.setUint32(0, 13);
	out.set([0x49, 0x48, 0x44, 0x52], 12); // "IHDR"
	ihdr.setUint32(8, width);
	ihdr.setUint32(12, height);
	out.set([bitDepth, colorType], 24);
	return out;
}

const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// Real files written by Pillow/libwebp.
export const WEBP = {
	lossy100: b64(
		"UklGRl4AAABXRUJQVlA4IFIAAADwBQCdASpkAGQAPtFosFMoJiSioKgBABoJaW7hc/D1QCe9xF5YGzr8cxF/8sbHAGwDXU3unMr/" +
			"IAD+/l2odo1NTTMtjZ4EooYx07ERBukoAAAA",
	),
	lossless3x7: b64("UklGRh4AAABXRUJQVlA4TBEAAAAvAoABAAdQiirUo/+BiOh/AAA="),
	alpha640x2: b64(
		"UklGRoYAAABXRUJQVlA4WAoAAAAQAAAAfwIAAQAAQUxQSAoAAAABB1CyiAhERP8DVlA4IFYAAADwBACdASqAAgIAPtFosFMoJiSi" +
			"oMgBABoJaQDSNAJ76NqHOMoB7qb6NqHOMoB7qWgA/vEKav8JMid21flbV+VtX5W1flbV+VtX5W1flbV+VtX5UAAAAA==",
	),
	animated5x4: b64(
		"UklGRqYAAABXRUJQVlA4WAoAAAACAAAABAAAAwAAQU5JTQYAAAAAAAAAAABBTk1GMAAAAAAAAAAAAAQAAAMAAGQAAAJWUDggGAAA" +
			"ADABAJ0BKgUABAABQCYlpAADcAD+/TZoAEFOTUZCAAAAAAAAAAAABAAAAwAAZAAAAFZQOCAqAAAANAEAnQEqBQAEAAAAJiWgAANw" +
			"AP77wSv/Du5uvWt//8s//2W/7LdegAAA",
	),
};

/** The canonical thumbnail alone, as a job's object is given it to store (a real 100x100 WebP). */
export const CANONICAL_ONLY = [{ rendition: CANONICAL, bytes: WEBP.lossy100 }];

/**
 * A stand-in for the SHA-256 of job `id`'s original, one per id (so no two test jobs share bytes
 * by chance): the id's characters as hex, padded to 64 digits.
 */
export const digestOf = (id: string) =>
	Array.from(new TextEncoder().encode(id), (b) => b.toString(16).padStart(2, "0"))
		.join("")
		.padEnd(64, "0")
		.slice(0, 64);

/** A W3C trace id, as an upload gives its job. */
export const newTraceId = () => hex(crypto.getRandomValues(new Uint8Array(16)));

export const uniqueSlug = (prefix = "t") => `${prefix}-${ulid().slice(-12)}`;

/** A new API key for a new owner (or for `ownerId`), made as the admin API makes it. */
export async function newKey(ownerId = `owner-${ulid().slice(-10)}`): Promise<{ secret: string; id: string; ownerId: string }> {
	const { key, secret } = await keyRegistry(env).create({ name: "test", ownerId });
	return { secret, id: key.id, ownerId };
}

/**
 * Each test calls as its own owner, with a key of its own (rate limits are per key), from an
 * address of its own: test/worker/setup.ts calls this before each test of every file (a setup
 * file runs for each file, where this module is loaded once for all the files a worker runs).
 */
export let caller: { secret: string; id: string; ownerId: string };
let clientAddress: string;
export async function newCaller(): Promise<void> {
	caller = await newKey();
	clientAddress = `2001:db8::${Array.from(crypto.getRandomValues(new Uint16Array(3)), (n) => n.toString(16)).join(":")}`;
}

/** A request to the Worker, with the test's API key unless `key` says otherwise (null: none). */
export function request(path: string, init: RequestInit = {}, key: string | null = caller.secret): Promise<Response> {
	const headers = new Headers(init.headers);
	if (key !== null && !headers.has("Authorization")) headers.set("Authorization", `Bearer ${key}`);
	if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", clientAddress);
	return exports.default.fetch(new Request(new URL(path, "http://thumbs.test"), { ...init, headers }));
}

export function upload(
	body: BodyInit | null,
	{ query = "", headers = {}, key }: { query?: string; headers?: Record<string, string>; key?: string | null } = {},
) {
	return request(`/jobs${query}`, { method: "POST", body, headers }, key === undefined ? caller.secret : key);
}

/** `bytes` as a stream of `pieces` chunks, `gapMs` apart; and then, with `stallAfter` chunks sent, nothing more, ever. */
export function slowly(bytes: Uint8Array, pieces: number, gapMs: number, { stallAfter }: { stallAfter?: number } = {}) {
	let sent = 0;
	const size = Math.ceil(bytes.length / pieces);
	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			if (sent === stallAfter) return new Promise(() => {});
			if (sent > 0) await scheduler.wait(gapMs);
			controller.enqueue(bytes.slice(sent * size, (sent + 1) * size));
			if (++sent === pieces) controller.close();
		},
	});
}

/** A multipart body built by hand, so tests control part order and framing. */
export function multipart(
	parts: { name: string; value: string | Uint8Array; filename?: string }[],
	boundary = "----test-boundary-7e3f",
) {
	const enc = new TextEncoder();
	const chunks: Uint8Array[] = [];
	for (const p of parts) {
		const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ""}`;
		const type = p.filename ? "Content-Type: application/octet-stream\r\n" : "";
		chunks.push(enc.encode(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`));
		chunks.push(typeof p.value === "string" ? enc.encode(p.value) : p.value);
		chunks.push(enc.encode("\r\n"));
	}
	chunks.push(enc.encode(`--${boundary}--\r\n`));
	const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
	let at = 0;
	for (const c of chunks) {
		body.set(c, at);
		at += c.length;
	}
	return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function expectProblem(res: Response, status: number, code: string) {
	const body = (await res.json()) as Record<string, unknown>;
	if (res.status !== status || body.code !== code) {
		throw new Error(`expected ${status} ${code}, got ${res.status} ${JSON.stringify(body)}`);
	}
	if (res.headers.get("Content-Type") !== "application/problem+json") throw new Error("not problem+json");
	if (res.headers.get("Cache-Control") !== "no-store") throw new Error("error response is cacheable");
	if (body.status !== status || typeof body.title !== "string" || typeof body.detail !== "string") {
		throw new Error(`malformed problem: ${JSON.stringify(body)}`);
	}
	return body;
}

export { env };

/**
 * Bytes that start like a 64x48 progressive JPEG (SOI, SOF2) and hold `scans` start-of-scan markers
 * of three components each, `size` long; with `frame` 0xc0, a baseline one (whose first scan is the
 * only one a decoder reads: images/jpeg.ts, hasOneScanOnly).
 */
export function jpegLike(scans: number, size = 4096, frame = 0xc2): Uint8Array {
	const head = [0xff, 0xd8, 0xff, frame, 0x00, 0x11, 0x08, 0x00, 0x30, 0x00, 0x40, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
	const out = new Uint8Array(Math.max(size, head.length + scans * 16));
	out.set(head);
	for (let i = 0, at = head.length; i < scans; i++, at += 16) out.set([0xff, 0xda, 0x00, 0x0c, 0x03], at);
	return out;
}

/** What a Durable Object has stored: its SQLite tables and its alarm (an object only read must have neither). */
export async function storedState(stub: DurableObjectStub) {
	const { runInDurableObject } = await import("cloudflare:test");
	return runInDurableObject(stub, async (_obj, state) => ({
		tables: state.storage.sql
			.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name NOT LIKE '\\_%' ESCAPE '\\'")
			.toArray()
			.map((r) => r.name),
		alarm: await state.storage.getAlarm(),
	}));
}

/** How many originals R2 holds (to see that a refused upload left none behind). */
export async function countOriginals(): Promise<number> {
	let count = 0;
	let cursor: string | undefined;
	do {
		const page = await env.BUCKET.list({ prefix: "originals/", cursor });
		count += page.objects.length;
		cursor = page.truncated ? page.cursor : undefined;
	} while (cursor);
	return count;
}
