/**
 * `npm run bench:listing`, inside workerd on the production wrangler.toml:
 * - a 100-item page of GET /jobs for an owner with 10,000 jobs (seeded straight into the
 *   owner's index shards, as each JobObject reports itself);
 * - uploads per second with the listing index on the upload path (OWNER_INDEX_SHARDS=8)
 *   and without it (0), in alternating rounds of the same run.
 * Prints tables; asserts nothing about speed (timings here are noisy).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { percentile } from "../../scripts/stats.mjs";
import { settings } from "../../src/base/config";
import type { Job } from "../../src/base/contracts";
import { ulid } from "../../src/base/ids";
import { shardOf } from "../../src/base/shards";
import worker from "../../src/index";
import { indexShard, keyRegistry } from "../../src/objects";

const JOBS = 10_000;
const HEADS = ["p50 ms", "p90 ms", "max ms"];
const ms = (x: number) => x.toFixed(1).padStart(8);
const row = (measurement: string, xs: number[], extra = "") => {
	const figures = [percentile(xs, 50), percentile(xs, 90), Math.max(...xs)].map(ms).join(" ");
	return `${measurement.padEnd(40)} ${String(xs.length).padStart(4)} ${figures}${extra}`;
};
/** A plain table (workerd's console has no console.table). */
const table = (rows: string[], extraHeader = "") =>
	console.log(
		[`${"measurement".padEnd(40)} ${"n".padStart(4)} ${HEADS.map((h) => h.padStart(8)).join(" ")}${extraHeader}`, ...rows].join(
			"\n",
		),
	);

/** A request through the Worker's own fetch, with `environment` (to switch settings per request). */
async function call(path: string, init: RequestInit, environment: Env = env) {
	const ctx = createExecutionContext();
	const res = await worker.fetch(new Request(new URL(path, "http://bench.test"), init), environment, ctx);
	await res.arrayBuffer();
	await waitOnExecutionContext(ctx);
	return res;
}

const time = async (fn: () => Promise<unknown>) => {
	const t0 = performance.now();
	await fn();
	return performance.now() - t0;
};

it("listing with 10,000 jobs, and uploads with and without the index", async () => {
	const { OWNER_INDEX_SHARDS: shards } = settings(env);
	const ownerId = `bench-${ulid().slice(-8)}`;
	const { secret } = await keyRegistry(env).create({ name: "bench", ownerId });
	const auth = { Authorization: `Bearer ${secret}` };

	// Seed: 10,000 done jobs, a second apart, in the shards their ids hash to.
	const start = Date.now() - JOBS * 1000;
	for (let batch = 0; batch < JOBS; batch += 200) {
		await Promise.all(
			Array.from({ length: 200 }, (_, i) => {
				const created = start + (batch + i) * 1000;
				const id = ulid(created);
				const job: Job = {
					id,
					ownerId,
					callbackUrl: null,
					sha256: "0".repeat(64),
					deduplicatedFrom: null,
					placeholder: null,
					facts: null,
					webhookEvents: [],
					slug: id,
					traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
					status: "done",
					original: { contentType: "image/jpeg", bytes: 59_886, width: 640, height: 480 },
					attempts: 1,
					thumbnail: { width: 100, height: 100, bytes: 3236, etag: '"e"' },
					error: null,
					nextAttemptAt: null,
					deletedAt: null,
					originalDeletedAt: null,
					version: 3,
					createdAt: created,
					updatedAt: created + 60,
				};
				return indexShard(env, ownerId, shardOf(id, shards)).record(job);
			}),
		);
	}

	const first: number[] = [];
	const deep: number[] = [];
	let cursor: string | null = null;
	for (let i = 0; i < 30; i++) {
		first.push(await time(() => call("/jobs?limit=100", { headers: auth })));
		// Walking on through the listing, page after page.
		const t0 = performance.now();
		const res = await worker.fetch(
			new Request(`http://bench.test/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { headers: auth }),
			env,
			createExecutionContext(),
		);
		const page = (await res.json()) as { items: unknown[]; nextCursor: string | null };
		deep.push(performance.now() - t0);
		expect(page.items).toHaveLength(100);
		cursor = page.nextCursor;
	}

	// Uploads, 8 in flight, alternating rounds with the index on and off.
	const png = new Uint8Array(512);
	png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 16, 0, 0, 0, 16]);
	const variants = {
		"index on (OWNER_INDEX_SHARDS=8)": env,
		"index off (OWNER_INDEX_SHARDS=0)": { ...env, OWNER_INDEX_SHARDS: "0" },
	};
	const rates: Record<string, number[]> = {};
	const latencies: Record<string, number[]> = {};
	for (let round = 0; round < 3; round++) {
		for (const [name, environment] of Object.entries(variants)) {
			// A key per round: the per-key upload rate limit must not be what is measured.
			const { secret: roundKey } = await keyRegistry(env).create({ name: "bench", ownerId });
			const total = 100;
			let next = 0;
			const t0 = performance.now();
			await Promise.all(
				Array.from({ length: 8 }, async () => {
					while (next++ < total) {
						const ms = await time(async () => {
							const res = await call(
								"/jobs",
								{
									method: "POST",
									body: png,
									headers: { Authorization: `Bearer ${roundKey}`, "Content-Length": String(png.length) },
								},
								environment,
							);
							if (res.status !== 202) throw new Error(`upload answered ${res.status}`);
						});
						latencies[name] = [...(latencies[name] ?? []), ms];
					}
				}),
			);
			rates[name] = [...(rates[name] ?? []), total / ((performance.now() - t0) / 1000)];
		}
	}

	console.log(`\nGET /jobs?limit=100 for an owner with ${JOBS} jobs over ${shards} index shards`);
	table([row("first page", first), row("pages 1-30, following nextCursor", deep)]);
	console.log("\nPOST /jobs → 202 (512-byte PNG), 8 in flight, 3 alternating rounds of 100");
	table(
		Object.keys(variants).map((name) =>
			row(name, latencies[name]!, (rates[name]!.reduce((a, b) => a + b, 0) / rates[name]!.length).toFixed(1).padStart(12)),
		),
		"   uploads/s",
	);
});
