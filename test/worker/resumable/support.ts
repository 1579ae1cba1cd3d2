/** What the tus tests share: requests to /uploads as a tus client makes them, and what they look at. */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import { ulid } from "../../../src/base/ids";
import type { JobView } from "../../../src/http/job-view";
import { uploadStub } from "../../../src/objects";
import { caller, env, request } from "../helpers";

export const TUS = { "Tus-Resumable": "1.0.0" };
export const b64 = (s: string) => btoa(s);

/** POST /uploads with `length` and `metadata` (plain values, encoded here). */
export function create(
	length: number,
	metadata: Record<string, string> = {},
	init: { body?: BodyInit; key?: string | null } = {},
) {
	const headers: Record<string, string> = { ...TUS, "Upload-Length": String(length) };
	const pairs = Object.entries(metadata).map(([k, v]) => `${k} ${b64(v)}`);
	if (pairs.length > 0) headers["Upload-Metadata"] = pairs.join(",");
	if (init.body) headers["Content-Type"] = "application/offset+octet-stream";
	return request("/uploads", { method: "POST", headers, body: init.body }, init.key);
}

/** A new upload of `length` bytes: its id and URL. */
export async function created(length: number, metadata: Record<string, string> = {}) {
	const res = await create(length, metadata);
	expect(res.status).toBe(201);
	const url = res.headers.get("Location")!;
	return { url, id: url.split("/").pop()!, res };
}

export const patch = (url: string, offset: number, body: BodyInit, headers: Record<string, string> = {}) =>
	request(url, {
		method: "PATCH",
		headers: { ...TUS, "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream", ...headers },
		body,
	});
export const head = (url: string, key?: string) => request(url, { method: "HEAD", headers: TUS }, key);
export const offsetOf = async (url: string) => Number((await head(url)).headers.get("Upload-Offset"));
export const jobOf = async (id: string) => (await (await request(`/jobs/${id}`)).json()) as JobView;
/** The owner's places: jobs in flight, and resumable uploads in progress. */
export const places = async () => {
	const { inFlight, uploading } = (await (await request("/usage")).json()) as { inFlight: number; uploading: number };
	return { inFlight, uploading };
};

/** Sets an upload's clock past its expiry, then runs its alarm. */
export async function expire(id: string) {
	const stub = uploadStub(env, id);
	await runInDurableObject(stub, (_o, state) => state.storage.sql.exec("UPDATE upload SET expires_at = ?", Date.now() - 1));
	return runDurableObjectAlarm(stub);
}

/** A new upload of `length` bytes made through its object, past this project's MAX_UPLOAD_BYTES (64 KiB): its URL and id. */
export async function madeLarge(length: number, idleSeconds = 30) {
	const id = ulid();
	await uploadStub(env, id).create({
		id,
		ownerId: caller.ownerId,
		keyHash: null,
		length,
		metadata: "",
		slug: id,
		callbackUrl: null,
		filename: null,
		traceId: "0".repeat(32),
		limits: { maxBytes: length, maxPixels: 50_000_000, maxDecodedBytes: 200_000_000, maxJpegScans: 100, idleSeconds },
		ttlMs: 3600_000,
		startMs: 3600_000,
	});
	return { id, url: `/uploads/${id}` };
}

/** The upload's lock and pending bytes, as its object keeps them. */
export const lockOf = (id: string) =>
	runInDurableObject(uploadStub(env, id), (_o, s) => ({
		token: s.storage.sql.exec<{ lock_token: string | null }>("SELECT lock_token FROM upload").one().lock_token,
		pending: s.storage.sql.exec<{ n: number }>("SELECT COALESCE(SUM(LENGTH(bytes)), 0) AS n FROM pending").one().n,
	}));

/** `bytes` as a body that sends 3,500 bytes a read and breaks off (a client gone) once `after` are sent. */
export function breaksOff(bytes: Uint8Array, after: number): ReadableStream<Uint8Array> {
	let sent = 0;
	return new ReadableStream<Uint8Array>({
		pull(controller) {
			if (sent >= after) return controller.error(new Error("client went away"));
			controller.enqueue(bytes.slice(sent, sent + 3500));
			sent += 3500;
		},
	});
}
