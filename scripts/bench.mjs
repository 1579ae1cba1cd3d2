// `npm run bench [-- --n 20 --concurrency 8]`: upload-to-done latency of the whole
// pipeline beside Thumbor asked directly for the same thumbnail, one at a time, then
// throughput of both with `concurrency` requests in flight; one run, loopback only.
//
// Starts its own Thumbor and `wrangler dev` on free ports with fresh keys and a
// throwaway state dir; the image is the 640x480 JPEG from the test fixtures.
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createKey } from "./keys.mjs";
import { ensureSecrets, freePorts, makeTestImages, startStack, stopLaunched } from "./stack.mjs";

const { values } = parseArgs({
	options: { n: { type: "string", default: "20" }, concurrency: { type: "string", default: "8" } },
});
const N = Math.max(1, Math.min(200, Number(values.n)));
const CONCURRENCY = Math.max(1, Math.min(32, Number(values.concurrency)));

// The Thumbor signature (src/thumbor/client.ts does the same in the Worker),
// checked against the vector verified on a live Thumbor before anything is timed.
const OPERATION = "100x100/smart/filters:format(webp):quality(80)";
const sign = (key, path) => createHmac("sha1", key).update(path).digest("base64").replaceAll("+", "-").replaceAll("/", "_");
if (sign("lab-3f9c2a7e-not-a-real-secret", `${OPERATION}/127.0.0.1:8000/small_640x480.jpg`) !== "uKlyaVg4iVjCyw4QJRjI8JXh4sI=") {
	throw new Error("bench signer disagrees with the verified Thumbor vector");
}

const percentile = (xs, p) => {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const row = (name, xs) => ({
	measurement: name,
	n: xs.length,
	"p50 ms": +percentile(xs, 50).toFixed(1),
	"p90 ms": +percentile(xs, 90).toFixed(1),
	"min ms": +Math.min(...xs).toFixed(1),
	"max ms": +Math.max(...xs).toFixed(1),
});

const dir = mkdtempSync(join(tmpdir(), "thumbs-bench-"));
let fileServer;
try {
	makeTestImages(join(dir, "img"));
	const image = readFileSync(join(dir, "img", "photo-640x480.jpg"));

	const envFile = join(dir, "secrets.env");
	const { THUMBOR_SECURITY_KEY: thumborKey, ADMIN_TOKEN: adminToken } = ensureSecrets(envFile).secrets;
	const [workerPort, thumborPort, filePort] = await freePorts(3);
	console.log(`starting Thumbor on :${thumborPort} and wrangler dev on :${workerPort}…`);
	const stack = await startStack({ workerPort, thumborPort, envFile, persistTo: join(dir, "state") });
	// API keys made as a user would (npm run keys); a fresh one every 100 uploads stays under
	// the per-key upload rate limit (wrangler.toml), which would otherwise be what is measured.
	const total = Math.max(N * 2, CONCURRENCY * 4);
	const keys = await Promise.all(
		Array.from({ length: Math.ceil((3 + N + total) / 100) }, (_, i) => createKey(stack.baseUrl, adminToken, { name: `bench ${i}`, ownerId: "bench" })),
	);
	let sent = 0;
	const auth = () => ({ Authorization: `Bearer ${keys[Math.floor(sent / 100)].key}` });

	// Thumbor direct: the same image from a plain loopback file server.
	fileServer = createServer((_req, res) => res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": image.length }).end(image));
	await new Promise((r) => fileServer.listen(filePort, "127.0.0.1", r));
	const path = `${OPERATION}/${encodeURIComponent(`http://127.0.0.1:${filePort}/photo.jpg`)}`;
	const direct = `${stack.thumborUrl}/${sign(thumborKey, path)}/${path}`;

	const time = async (fn) => {
		const t0 = performance.now();
		await fn();
		return performance.now() - t0;
	};
	const directOnce = async () => {
		const res = await fetch(direct);
		if (res.status !== 200) throw new Error(`Thumbor answered ${res.status}`);
		await res.arrayBuffer();
	};
	const uploads = [];
	let lastDone;
	const pipelineOnce = async () => {
		const t0 = performance.now();
		const headers = { "Content-Type": "image/jpeg", ...auth() };
		sent++;
		const res = await fetch(`${stack.baseUrl}/jobs`, { method: "POST", body: image, headers });
		if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
		uploads.push(performance.now() - t0);
		const { id } = await res.json();
		for (;;) {
			const job = await (await fetch(`${stack.baseUrl}/jobs/${id}?wait=30`, { headers })).json();
			if (job.status === "done") return (lastDone = id);
			if (job.status === "failed") throw new Error(`job failed: ${JSON.stringify(job.error)}`);
		}
	};

	// Warm both paths (Python imports, workerd isolates), then alternate so drift hits both alike.
	for (let i = 0; i < 3; i++) {
		await directOnce();
		await pipelineOnce();
	}
	uploads.length = 0;
	const directMs = [];
	const pipelineMs = [];
	for (let i = 0; i < N; i++) {
		directMs.push(await time(directOnce));
		pipelineMs.push(await time(pipelineOnce));
	}

	// A read of a finished job with an API key (checked once, then from the isolate's cache).
	const readMs = [];
	for (let i = 0; i < N; i++) {
		readMs.push(
			await time(async () => {
				const res = await fetch(`${stack.baseUrl}/jobs/${lastDone}`, { headers: auth() });
				if (res.status !== 200) throw new Error(`GET /jobs/<id> answered ${res.status}`);
				await res.arrayBuffer();
			}),
		);
	}

	console.log(`\n640x480 JPEG → 100x100 WebP, ${N} sequential runs each, one machine, loopback only`);
	console.table([
		row("Thumbor called directly", directMs),
		row("pipeline: POST /jobs → 202", uploads),
		row("pipeline: GET /jobs/<id> (done)", readMs),
		row("pipeline: POST /jobs → status done", pipelineMs),
	]);
	console.log(
		`pipeline p50 / Thumbor p50 = ${(percentile(pipelineMs, 50) / percentile(directMs, 50)).toFixed(2)}x; ` +
			`overhead p50 = ${(percentile(pipelineMs, 50) - percentile(directMs, 50)).toFixed(1)} ms`,
	);

	// Throughput: `total` requests, `CONCURRENCY` in flight at a time.
	const saturate = async (fn) => {
		const latencies = [];
		let next = 0;
		const t0 = performance.now();
		await Promise.all(
			Array.from({ length: CONCURRENCY }, async () => {
				while (next++ < total) latencies.push(await time(fn));
			}),
		);
		return { latencies, perSecond: total / ((performance.now() - t0) / 1000) };
	};
	const directLoad = await saturate(directOnce);
	const pipelineLoad = await saturate(pipelineOnce);
	console.log(`\n${total} requests, ${CONCURRENCY} in flight`);
	console.table([
		{ ...row("Thumbor called directly", directLoad.latencies), "per second": +directLoad.perSecond.toFixed(1) },
		{ ...row("pipeline: POST /jobs → status done", pipelineLoad.latencies), "per second": +pipelineLoad.perSecond.toFixed(1) },
	]);
	console.log(
		`pipeline throughput / Thumbor throughput = ${(pipelineLoad.perSecond / directLoad.perSecond).toFixed(2)}\n` +
			"(locally one workerd process runs the Worker, queue, R2 and Durable Objects on the same cores as Thumbor:\n" +
			" this bounds the pipeline's throughput here far more than it would on Cloudflare)",
	);
} finally {
	fileServer?.close();
	await stopLaunched();
	rmSync(dir, { recursive: true, force: true });
}
