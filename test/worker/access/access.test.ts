import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { keyChecksumValid, newKeySecret, sha256Hex } from "../../../src/access/keys";
import { callerOf } from "../../../src/access/middleware";
import { ulid } from "../../../src/base/ids";
import type { JobView } from "../../../src/http/job-view";
import worker from "../../../src/index";
import { jobStub, keyObject, keyRegistry, ownerStub } from "../../../src/objects";
import {
	caller,
	countOriginals,
	env,
	expectProblem,
	newKey,
	pngLike,
	request,
	slowly,
	storedState,
	uniqueSlug,
	upload,
} from "../helpers";

const admin = (path: string, init: RequestInit = {}) =>
	request(path, { ...init, headers: { "Content-Type": "application/json", ...(init.headers as object) } }, env.ADMIN_TOKEN);

describe("API keys", () => {
	it("answers 401 with a Bearer challenge without a key, with a malformed or unknown key, on every job route", async () => {
		const created = (await (await upload(pngLike())).json()) as JobView;
		const routes: [string, RequestInit][] = [
			["/jobs", { method: "POST", body: pngLike() }],
			[`/jobs/${created.id}`, {}],
			[`/jobs/${created.id}/retry`, { method: "POST" }],
		];
		for (const [path, init] of routes) {
			const none = await expectProblem(await request(path, init, null), 401, "unauthorized");
			expect(none.detail).toMatch(/Authorization: Bearer/);
			for (const bad of ["nonsense", `et_live_${"A".repeat(32)}`]) {
				const res = await request(path, { ...init, body: init.body ? pngLike() : undefined }, bad);
				expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="edge-thumbnails", error="invalid_token"');
				await expectProblem(res, 401, "unauthorized");
			}
		}
	});

	it("makes a key through the admin API: the secret shown once, only its hash stored", async () => {
		const res = await admin("/admin/keys", { method: "POST", body: JSON.stringify({ name: "acme web", ownerId: "acme" }) });
		expect(res.status).toBe(201);
		const made = (await res.json()) as { id: string; key: string; prefix: string; ownerId: string; name: string };
		expect(made.key).toMatch(/^et_live_[A-Za-z0-9_-]{43}$/);
		expect(await keyChecksumValid(made.key, env.KEY_CHECKSUM_SECRET)).toBe(true);
		expect(made).toMatchObject({ name: "acme web", ownerId: "acme", prefix: `${made.key.slice(0, 12)}…` });
		// Stored: the hash, never the key.
		const hash = await sha256Hex(made.key);
		for (const stub of [keyRegistry(env), keyObject(env, hash)]) {
			const dump = await runInDurableObject(stub, (_obj, state) =>
				JSON.stringify(state.storage.sql.exec("SELECT * FROM api_key").toArray()),
			);
			expect(dump).toContain(hash);
			expect(dump).not.toContain(made.key);
			expect(dump).not.toContain(made.key.slice(8));
		}
		// Listed without the secret.
		const listed = (await (await admin("/admin/keys?ownerId=acme")).json()) as { items: Record<string, unknown>[] };
		expect(listed.items.find((k) => k.id === made.id)).toMatchObject({ name: "acme web", revokedAt: null });
		expect(JSON.stringify(listed)).not.toContain(made.key);
		// And it works.
		expect((await upload(pngLike(), { key: made.key })).status).toBe(202);
	});

	it("guards the admin API with ADMIN_TOKEN and validates what it is given", async () => {
		await expectProblem(await request("/admin/keys", {}, null), 401, "unauthorized");
		await expectProblem(await request("/admin/keys", {}, caller.secret), 401, "unauthorized");
		await expectProblem(
			await admin("/admin/keys", { method: "POST", body: JSON.stringify({ name: "", ownerId: "a b" }) }),
			400,
			"invalid_parameter",
		);
		await expectProblem(await admin("/admin/keys", { method: "POST", body: "not json" }), 400, "bad_request");
		await expectProblem(await admin("/admin/keys/key_nope", { method: "DELETE" }), 404, "not_found");
	});

	it("stops a revoked key at once here (AUTH_CACHE_SECONDS=0)", async () => {
		const { secret, id } = await newKey();
		expect((await upload(pngLike(), { key: secret })).status).toBe(202);
		const revoked = await admin(`/admin/keys/${id}`, { method: "DELETE" });
		expect(await revoked.json()).toMatchObject({ id, revokedAt: expect.any(Number) });
		await expectProblem(await upload(pngLike(), { key: secret }), 401, "unauthorized");
	});

	it("stops a revoked key within the cache's lifetime, the stated bound", async () => {
		const { secret, id, ownerId } = await newKey();
		let clock = Date.now();
		const now = () => clock;
		expect(await callerOf(env, secret, 300, now)).toMatchObject({ keyId: id, ownerId });
		await keyRegistry(env).revoke(id);
		// Still remembered by this isolate up to the TTL…
		clock += 299;
		expect(await callerOf(env, secret, 300, now)).toMatchObject({ keyId: id, ownerId });
		// …and refused once it has passed.
		clock += 2;
		expect(await callerOf(env, secret, 300, now)).toBeNull();
	});

	it("stores nothing for a key that does not exist", async () => {
		// Well made (its checksum holds), but never issued: looked up, and nothing is stored.
		const guess = await newKeySecret(env.KEY_CHECKSUM_SECRET);
		await expectProblem(await upload(pngLike(), { key: guess }), 401, "unauthorized");
		expect(await storedState(keyObject(env, await sha256Hex(guess)))).toEqual({ tables: [], alarm: null });
	});

	it("refuses a made-up key by its checksum, without asking any Durable Object", async () => {
		const asked: string[] = [];
		const spy = new Proxy(env.KEYS, {
			get: (target, prop) => {
				asked.push(String(prop));
				return Reflect.get(target, prop);
			},
		});
		const issued = await newKeySecret(env.KEY_CHECKSUM_SECRET);
		const forged = [
			`et_live_${"A".repeat(43)}`, // the right shape, a wrong checksum
			`${issued.slice(0, -11)}${"A".repeat(11)}`, // random part of a real-looking key, checksum made up
			await newKeySecret("another-deployment-checksum-secret"), // issued elsewhere
			issued.slice(0, -1), // cut short
		];
		for (const key of forged) expect(await keyChecksumValid(key, env.KEY_CHECKSUM_SECRET), key).toBe(false);
		// Through the Worker: 401 as for any bad key, and KEYS is never touched.
		for (const key of forged) {
			const ctx = createExecutionContext();
			const req = new Request("http://thumbs.test/jobs", {
				headers: { Authorization: `Bearer ${key}`, "CF-Connecting-IP": "203.0.113.7" },
			});
			const res = await worker.fetch(req, { ...env, KEYS: spy }, ctx);
			await waitOnExecutionContext(ctx);
			await expectProblem(res, 401, "unauthorized");
		}
		expect(asked).toEqual([]);
	});

	it("slows down an address that keeps failing to authenticate (429 after 60 a minute), not the others", async () => {
		const from = (address: string, key: string | null) => request("/jobs", { headers: { "CF-Connecting-IP": address } }, key);
		for (let i = 0; i < 60; i++)
			await expectProblem(await from("198.51.100.9", `et_live_${"x".repeat(43)}`), 401, "unauthorized");
		const limited = await expectProblem(await from("198.51.100.9", null), 429, "rate_limited");
		expect(limited.detail).toMatch(/without a valid key from this address/);
		// Another address is not held back, and a valid key from the limited one still works.
		await expectProblem(await from("198.51.100.10", null), 401, "unauthorized");
		expect((await from("198.51.100.9", caller.secret)).status).toBe(200);
	});
});

describe("owners", () => {
	it("hides one owner's jobs from another (404, not 403), retry included", async () => {
		const job = (await (await upload(pngLike())).json()) as JobView;
		const other = await newKey();
		await expectProblem(await request(`/jobs/${job.id}`, {}, other.secret), 404, "not_found");
		await expectProblem(await request(`/jobs/${job.id}/retry`, { method: "POST" }, other.secret), 404, "not_found");
		expect((await request(`/jobs/${job.id}`)).status).toBe(200);
	});

	it("keeps Idempotency-Keys per owner: another owner's same key makes its own job", async () => {
		const k = `k-${crypto.randomUUID()}`;
		const image = pngLike(900);
		const mine = (await (await upload(image, { headers: { "Idempotency-Key": k } })).json()) as JobView;
		const other = await newKey();
		const theirs = await upload(image, { headers: { "Idempotency-Key": k }, key: other.secret });
		expect(theirs.status).toBe(202);
		expect(theirs.headers.get("Idempotent-Replayed")).toBeNull();
		expect(((await theirs.json()) as JobView).id).not.toBe(mine.id);
	});

	it("keeps slugs one namespace across owners", async () => {
		const slug = uniqueSlug("shared");
		expect((await upload(pngLike(), { query: `?slug=${slug}` })).status).toBe(202);
		const other = await newKey();
		await expectProblem(await upload(pngLike(), { query: `?slug=${slug}`, key: other.secret }), 409, "slug_taken");
	});

	it("caps one owner's jobs in flight (MAX_JOBS_IN_FLIGHT=20 here), and frees a place when a job ends", async () => {
		const made = await Promise.all(Array.from({ length: 20 }, () => upload(pngLike())));
		expect(made.map((r) => r.status)).toEqual(Array(20).fill(202));
		const stored = await countOriginals();
		// Admission is asked while the bytes stream in (here over 800 ms): a refusal stops the upload, and nothing stays in R2.
		const body = slowly(pngLike(40_000), 40, 20);
		const over = await upload(body, { headers: { "Content-Length": "40000" } });
		expect(over.headers.get("Retry-After")).toBe("10");
		expect(await expectProblem(over, 429, "too_many_jobs_in_flight")).toMatchObject({ limit: 20 });
		await expect.poll(countOriginals).toBe(stored);
		// A small body may be stored before the refusal comes: it is deleted again.
		await expectProblem(await upload(pngLike()), 429, "too_many_jobs_in_flight");
		await expect.poll(countOriginals).toBe(stored);
		// Another owner is not held back.
		expect((await upload(pngLike(), { key: (await newKey()).secret })).status).toBe(202);
		// A job ends: its place is free again.
		const first = (await made[0]!.json()) as JobView;
		const stub = jobStub(env, first.id);
		await stub.begin();
		await stub.fail({ code: "unprocessable_image", message: "test" });
		await expect.poll(() => ownerStub(env, caller.ownerId).inFlight()).toBe(19);
		expect((await upload(pngLike())).status).toBe(202);
	});

	it("gives a refused upload's place back", async () => {
		await expectProblem(await upload("not an image"), 415, "unsupported_media_type");
		// Given back after the answer (the request's cleanup runs in waitUntil).
		await expect.poll(() => ownerStub(env, caller.ownerId).inFlight()).toBe(0);
	});
});

describe("rate limits", () => {
	it("answers 429 with Retry-After once a key sends more uploads than its limit", async () => {
		// wrangler.toml: 120 uploads a minute per key. Unknown ids make no job, and use no place in flight.
		// The limiter counts in fixed minutes: a run that straddles one is refused within the next 120.
		let limited: Response | undefined;
		for (let i = 0; i < 250 && !limited; i++) {
			const res = await request(`/jobs/${ulid()}/retry`, { method: "POST" });
			if (res.status === 429) limited = res;
			else await res.body?.cancel();
		}
		expect(limited, "no 429 within 250 uploads").toBeDefined();
		expect(limited!.headers.get("Retry-After")).toBe("60");
		await expectProblem(limited!, 429, "rate_limited");
		// Per key: another key is not limited.
		expect((await upload(pngLike(), { key: (await newKey()).secret })).status).toBe(202);
	});
});

describe("browsers", () => {
	it("answers CORS preflights for the API without a key, and exposes Location", async () => {
		const preflight = await request(
			"/jobs",
			{
				method: "OPTIONS",
				headers: {
					Origin: "https://app.example",
					"Access-Control-Request-Method": "POST",
					"Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
				},
			},
			null,
		);
		expect(preflight.status).toBe(204);
		expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
		expect(preflight.headers.get("Access-Control-Allow-Headers")).toMatch(/Authorization/);
		expect(preflight.headers.get("Access-Control-Allow-Headers")).toMatch(/Idempotency-Key/);
		expect(preflight.headers.get("Access-Control-Allow-Methods")).toMatch(/POST/);
		const res = await upload(pngLike(), { headers: { Origin: "https://app.example" } });
		expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
		expect(res.headers.get("Access-Control-Expose-Headers")).toMatch(/Location/);
		// Errors too, so a page can read why.
		const refused = await request("/jobs", { method: "POST", headers: { Origin: "https://app.example" } }, null);
		expect(refused.status).toBe(401);
		expect(refused.headers.get("Access-Control-Allow-Origin")).toBe("*");
	});

	it("serves thumbnails to any page", async () => {
		const slug = uniqueSlug("cors");
		await env.BUCKET.put(`thumbnails/${slug}.webp`, new Uint8Array([1, 2, 3]));
		for (const method of ["GET", "HEAD"]) {
			const res = await request(`/thumbnails/${slug}.webp`, { method }, null);
			expect(res.status).toBe(200);
			expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
			expect(res.headers.get("Cross-Origin-Resource-Policy")).toBe("cross-origin");
		}
	});
});
