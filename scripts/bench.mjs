// `npm run bench [-- --n 30 --concurrency 8]`: what a thumbnail takes and costs, one run,
// loopback only. Starts its own Thumbor and `wrangler dev` (METER_OPS=1) on free ports with
// fresh keys and a throwaway state dir (in /dev/shm where there is one: scratchDir), and prints:
//   1. latency: Thumbor asked directly beside the pipeline, one request at a time, alternating;
//      the pipeline both as a client polls (POST, then GET ?wait) and in one request (POST ?wait);
//      and the floor: the product's fixed shape with nothing else (scripts/floor, its own wrangler dev);
//   2. where the pipeline's time goes: the upload's Server-Timing steps, the consumer's log steps;
//   3. throughput with `concurrency` requests in flight: Thumbor direct, pipeline, floor;
//   4. the operations one thumbnail costs (counted by the Worker) and the price of a million;
//   5. the pipeline against the floor: latency, throughput, workerd CPU, and the cost, beside its goal ($30 a million
//      with the default eager renditions). The latency and throughput goals over the floor are retired: under
//      `wrangler dev` they measure one shared workerd thread, not Cloudflare.
// Every upload's bytes differ (a JPEG comment), so each one really goes through Thumbor.
// Against a Worker without POST ?wait or /admin/meter (an older commit) it skips those parts.
import { createHmac } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { costPerMillion, meterRenditions, meterUploads, PRICES, uniqueJpeg } from "./cost.mjs";
import { createKey } from "./keys.mjs";
import {
	freePort,
	freePorts,
	makeTestImages,
	ROOT,
	scratchDir,
	startScratchStack,
	startWrangler,
	stopLaunched,
	waitForHttp,
} from "./stack.mjs";
import { percentile } from "./stats.mjs";

const { values } = parseArgs({
	options: { n: { type: "string", default: "30" }, concurrency: { type: "string", default: "8" } },
});
// wrangler dev's own trace store (its local observability query endpoint) records every span of every
// invocation, in the same workerd: it took 8 ms of workerd CPU per job here, and half the product's time over
// the floor. Production samples traces and records them elsewhere, so both stacks here run without it
// (X_LOCAL_OBSERVABILITY=true to measure with it).
process.env.X_LOCAL_OBSERVABILITY ??= "false";

const N = Math.max(1, Math.min(200, Number(values.n)));
const CONCURRENCY = Math.max(1, Math.min(32, Number(values.concurrency)));

// The Thumbor signature (src/render/thumbor-path.ts does the same in the Worker),
// checked against the vector verified on a live Thumbor before anything is timed.
const OPERATION = "100x100/smart/filters:format(webp):quality(80)";
const sign = (key, path) => createHmac("sha1", key).update(path).digest("base64").replaceAll("+", "-").replaceAll("/", "_");
if (sign("lab-3f9c2a7e-not-a-real-secret", `${OPERATION}/127.0.0.1:8000/small_640x480.jpg`) !== "uKlyaVg4iVjCyw4QJRjI8JXh4sI=") {
	throw new Error("bench signer disagrees with the verified Thumbor vector");
}

const row = (name, xs) => ({
	measurement: name,
	n: xs.length,
	"p50 ms": +percentile(xs, 50).toFixed(1),
	"p90 ms": +percentile(xs, 90).toFixed(1),
	"min ms": +Math.min(...xs).toFixed(1),
	"max ms": +Math.max(...xs).toFixed(1),
});
const time = async (fn) => {
	const t0 = performance.now();
	await fn();
	return performance.now() - t0;
};

/** The Containers instance the Thumbor origin is declared with in wrangler.toml (Containers' instance types). */
function containerInstance() {
	const types = {
		lite: [1 / 16, 0.25],
		basic: [1 / 4, 1],
		"standard-1": [1 / 2, 4],
		"standard-2": [1, 6],
		"standard-3": [2, 8],
		"standard-4": [4, 12],
	};
	const name = /^instance_type\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))?.[1] ?? "lite";
	const [vcpu, gib] = types[name] ?? types.lite;
	return { name, vcpu, gib };
}

/** `/proc/<pid>/stat` after the command name: [state, ppid, …]. */
const stat = (pid) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");

/** CPU seconds a process (and its threads) has used so far, from /proc. */
function cpuSeconds(pid) {
	const fields = stat(pid);
	return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ ticks
}

/** `pid` and all its descendants, each with its command line. */
function processTree(pid) {
	const all = readdirSync("/proc")
		.filter((p) => /^\d+$/.test(p))
		.flatMap((p) => {
			try {
				return [{ pid: Number(p), ppid: Number(stat(p)[1]), cmd: readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0") }];
			} catch {
				return []; // gone meanwhile
			}
		});
	const tree = all.filter((p) => p.pid === pid);
	for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i].pid));
	return tree;
}

const WORKERD = "workerd: the Worker, its objects, Miniflare's R2/Queues/Cache";

/** What each process of the stack is, in a word. */
function role(p) {
	const cmd = p.cmd.join(" ");
	if (cmd.includes("thumbor")) return "Thumbor";
	if (cmd.includes("workerd") && cmd.includes("--socket-addr=entry=127.0.0.1:0")) return WORKERD;
	if (cmd.includes("workerd")) return "workerd: wrangler dev's proxy";
	if (cmd.includes("esbuild")) return "esbuild (wrangler's watcher)";
	return "wrangler (node)";
}

const dir = scratchDir("thumbs-bench-");
let fileServer;
try {
	makeTestImages(join(dir, "img"));
	const image = readFileSync(join(dir, "img", "photo-640x480.jpg"));

	console.log("starting Thumbor, wrangler dev and the floor's wrangler dev…");
	const stack = await startScratchStack(dir, {
		vars: { METER_OPS: "1" },
		// The pipeline pushes originals; asked directly, Thumbor also loads one by URL from the file server below.
		thumborEnv: { THUMBOR_ALLOWED_SOURCES: "127.0.0.1" },
	});
	const { thumborKey, adminToken, logDir } = stack;
	const [filePort, floorPort] = await freePorts(2);
	// The floor: the same shape with nothing else, on its own wrangler dev and the same Thumbor.
	const floor = startWrangler({
		config: join(ROOT, "scripts", "floor", "wrangler.toml"),
		port: floorPort,
		inspectorPort: await freePort(),
		persistTo: join(dir, "floor-state"),
		logFile: join(logDir, "floor.log"),
		vars: { THUMBOR_URL: stack.thumborUrl, THUMBOR_SECURITY_KEY: thumborKey },
	});
	await waitForHttp(`http://127.0.0.1:${floorPort}/`, { child: floor });
	const floorOnce = async () => {
		const res = await fetch(`http://127.0.0.1:${floorPort}/jobs`, {
			method: "POST",
			body: uniqueJpeg(image, `floor-${process.pid}-${sent++}`),
		});
		if (res.status !== 201) throw new Error(`the floor answered ${res.status}: ${await res.text()}`);
		await res.arrayBuffer();
	};

	// API keys made as a user would (npm run keys); a fresh one every 100 uploads stays under
	// the per-key upload rate limit (wrangler.toml), which would otherwise be what is measured.
	const total = Math.max(N * 2, CONCURRENCY * 4);
	const keys = await Promise.all(
		Array.from({ length: Math.ceil((10 + 2 * N + total + 2 * N) / 100) + 1 }, (_, i) =>
			createKey(stack.baseUrl, adminToken, { name: `bench ${i}`, ownerId: "bench" }),
		),
	);
	let sent = 0;
	const key = () => keys[Math.floor(sent++ / 100)].key;

	// Thumbor direct: the same image from a plain loopback file server.
	fileServer = createServer((_req, res) =>
		res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": image.length }).end(image),
	);
	await new Promise((r) => fileServer.listen(filePort, "127.0.0.1", r));
	const path = `${OPERATION}/${encodeURIComponent(`http://127.0.0.1:${filePort}/photo.jpg`)}`;
	const direct = `${stack.thumborUrl}/${sign(thumborKey, path)}/${path}`;
	const directOnce = async () => {
		const res = await fetch(direct);
		if (res.status !== 200) throw new Error(`Thumbor answered ${res.status}`);
		await res.arrayBuffer();
	};

	const serverTiming = {};
	const upload = async (wait) => {
		const apiKey = key();
		const res = await fetch(`${stack.baseUrl}/jobs${wait ? "?wait=30" : ""}`, {
			method: "POST",
			body: uniqueJpeg(image, `${process.pid}-${sent}`),
			headers: { "Content-Type": "image/jpeg", Authorization: `Bearer ${apiKey}` },
		});
		if (res.status !== 202 && res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
		for (const step of (res.headers.get("Server-Timing") ?? "").split(", ").filter(Boolean)) {
			const [name, dur] = step.split(";dur=");
			serverTiming[name] = [...(serverTiming[name] ?? []), Number(dur)];
		}
		return { res, job: await res.json(), apiKey };
	};
	/** As a client that polls: POST, then GET ?wait until the job has ended. */
	const polled = async () => {
		let { job, apiKey } = await upload(false);
		while (job.status !== "done") {
			if (job.status === "failed") throw new Error(`job failed: ${JSON.stringify(job.error)}`);
			job = await (
				await fetch(`${stack.baseUrl}/jobs/${job.id}?wait=30`, { headers: { Authorization: `Bearer ${apiKey}` } })
			).json();
		}
	};
	/** In one request: POST ?wait (201 with the finished job). */
	const waited = async () => {
		const { res, job } = await upload(true);
		if (res.status !== 201 || job.status !== "done") throw new Error(`POST ?wait answered ${res.status} ${job.status}`);
	};
	const supportsWait = (await upload(true)).res.status === 201;

	// Warm both paths (Python imports, workerd isolates), then alternate so drift hits both alike.
	for (let i = 0; i < 3; i++) {
		await directOnce();
		await polled();
		if (supportsWait) await waited();
		await floorOnce();
	}
	for (const k of Object.keys(serverTiming)) delete serverTiming[k];
	const directMs = [];
	const polledMs = [];
	const waitedMs = [];
	const floorMs = [];
	for (let i = 0; i < N; i++) {
		directMs.push(await time(directOnce));
		polledMs.push(await time(polled));
		if (supportsWait) waitedMs.push(await time(waited));
		floorMs.push(await time(floorOnce));
	}
	const thumborP50 = percentile(directMs, 50);
	const vsThumbor = (xs) =>
		`${(percentile(xs, 50) / thumborP50).toFixed(2)}x, +${(percentile(xs, 50) - thumborP50).toFixed(1)} ms`;

	console.log(`\n1. Latency: 640x480 JPEG → 100x100 WebP, ${N} runs each, one at a time, alternating`);
	console.table([
		row("Thumbor called directly", directMs),
		{ ...row("pipeline: POST, then GET ?wait until done", polledMs), "vs Thumbor p50": vsThumbor(polledMs) },
		...(supportsWait ? [{ ...row("pipeline: POST ?wait (one request)", waitedMs), "vs Thumbor p50": vsThumbor(waitedMs) }] : []),
		{ ...row("floor: the same shape, nothing else", floorMs), "vs Thumbor p50": vsThumbor(floorMs) },
	]);

	// Where the time goes: the upload's own steps, and the consumer's (its job.done log lines).
	const consumerSteps = {};
	for (const line of readFileSync(join(logDir, "wrangler.log"), "utf8").split("\n")) {
		const at = line.indexOf('{"event":"job.done"');
		if (at < 0) continue;
		const done = JSON.parse(line.slice(at));
		for (const [name, ms] of Object.entries(done))
			if (name.endsWith("Ms")) consumerSteps[name.slice(0, -2)] = [...(consumerSteps[name.slice(0, -2)] ?? []), ms];
	}
	const stepRows = (where, steps) =>
		Object.entries(steps).map(([step, xs]) => ({ where, step, n: xs.length, "p50 ms": +percentile(xs, 50).toFixed(1) }));
	console.log("\n2. Where the pipeline's time goes (p50 of each step; the Workers clock moves in whole ms across I/O)");
	console.table([
		...stepRows("POST /jobs (Server-Timing)", serverTiming),
		...stepRows("queue consumer (job.done log)", consumerSteps),
	]);

	// Throughput: `total` requests of each kind, `CONCURRENCY` in flight at a time, in ROUNDS rounds
	// that take turns (Thumbor, pipeline, floor, Thumbor…), so that the machine's drift hits all alike;
	// and the CPU each process spent during the pipeline's and the floor's turns.
	const ROUNDS = 3;
	const perRound = Math.ceil(total / ROUNDS);
	const kinds = {
		direct: { fn: directOnce, processes: [] },
		pipeline: {
			fn: supportsWait ? waited : polled,
			processes: [...processTree(stack.worker.pid), ...processTree(stack.thumbor.pid)],
		},
		floor: { fn: floorOnce, processes: [...processTree(floor.pid), ...processTree(stack.thumbor.pid)] },
	};
	for (const kind of Object.values(kinds)) Object.assign(kind, { latencies: [], seconds: 0, cpu: {}, n: 0 });
	for (let round = 0; round < ROUNDS; round++) {
		for (const kind of Object.values(kinds)) {
			const cpuBefore = new Map(kind.processes.map((p) => [p.pid, cpuSeconds(p.pid)]));
			let next = 0;
			const t0 = performance.now();
			await Promise.all(
				Array.from({ length: CONCURRENCY }, async () => {
					while (next++ < perRound) kind.latencies.push(await time(kind.fn));
				}),
			);
			kind.seconds += (performance.now() - t0) / 1000;
			kind.n += perRound;
			for (const p of kind.processes)
				kind.cpu[role(p)] = (kind.cpu[role(p)] ?? 0) + (cpuSeconds(p.pid) - cpuBefore.get(p.pid)) * 1000;
		}
	}
	const perSecond = (kind) => kind.n / kind.seconds;
	const loadRow = (name, kind) => ({
		...row(name, kind.latencies),
		"per second": +perSecond(kind).toFixed(1),
		...(kind !== kinds.direct && { "vs Thumbor": `${(perSecond(kind) / perSecond(kinds.direct)).toFixed(2)}x` }),
	});
	const cpuPerJob = (kind, process) => +((kind.cpu[process] ?? 0) / kind.n).toFixed(1);
	console.log(`\n3. Throughput: ${kinds.direct.n} requests each, ${CONCURRENCY} in flight, in ${ROUNDS} rounds taking turns`);
	console.table([
		loadRow("Thumbor called directly", kinds.direct),
		loadRow(`pipeline: ${supportsWait ? "POST ?wait" : "POST, then GET ?wait"}`, kinds.pipeline),
		loadRow("floor: the same shape, nothing else", kinds.floor),
	]);
	console.log("CPU per job, by process, during those runs (/proc), on this machine's 2 cores:");
	console.table(
		Object.keys(kinds.pipeline.cpu).map((process) => ({
			process,
			"pipeline, CPU ms per job": cpuPerJob(kinds.pipeline, process),
			"floor, CPU ms per job": cpuPerJob(kinds.floor, process),
		})),
	);
	console.log(
		"Locally one workerd thread runs the Worker, every Durable Object and Miniflare's simulated R2, Queues and Cache,\n" +
			"wrangler dev's proxy sits in front of every request, and Miniflare hands a queue's consumer one batch at a time\n" +
			"(the next waits until the last has returned): the floor shows what that costs any Worker of this shape here.\n" +
			"On Cloudflare those run spread over many machines, and a queue's consumer runs several batches at once.",
	);

	// The pipeline against the floor, in one table, with what issue 21 asks of each (docs/performance.md).
	const pipelineMs = supportsWait ? waitedMs : polledMs;
	const against = [
		{
			measure: `latency p50, ms (${supportsWait ? "POST ?wait" : "POST, then GET ?wait"})`,
			pipeline: +percentile(pipelineMs, 50).toFixed(1),
			floor: +percentile(floorMs, 50).toFixed(1),
			"pipeline vs floor": `+${(percentile(pipelineMs, 50) - percentile(floorMs, 50)).toFixed(1)} ms`,
			goal: "", // retired: locally one workerd thread runs everything (docs/performance.md)
		},
		{
			measure: `throughput, per second (${CONCURRENCY} in flight)`,
			pipeline: +perSecond(kinds.pipeline).toFixed(1),
			floor: +perSecond(kinds.floor).toFixed(1),
			"pipeline vs floor": `${(perSecond(kinds.pipeline) / perSecond(kinds.floor)).toFixed(2)}x`,
			goal: "",
		},
		{
			measure: "workerd CPU per job, ms",
			pipeline: cpuPerJob(kinds.pipeline, WORKERD),
			floor: cpuPerJob(kinds.floor, WORKERD),
			"pipeline vs floor": `${(cpuPerJob(kinds.pipeline, WORKERD) / cpuPerJob(kinds.floor, WORKERD)).toFixed(2)}x`,
			goal: "",
		},
	];

	// Cost: the operations counted by the Worker, and Thumbor's CPU, for uploads one at a time.
	const meter = await fetch(`${stack.baseUrl}/admin/meter`, { headers: { Authorization: `Bearer ${adminToken}` } });
	if (!supportsWait || meter.status !== 200) {
		console.log("\n4. Cost: skipped (this Worker has no POST ?wait or /admin/meter)");
	} else {
		const cpuBefore = cpuSeconds(stack.thumbor.pid);
		const metered = await meterUploads({ baseUrl: stack.baseUrl, adminToken, apiKey: key(), image, n: N });
		const thumborCpuSeconds = (cpuSeconds(stack.thumbor.pid) - cpuBefore) / (N + 1); // + the warm-up upload
		const deduped = await meterUploads({ baseUrl: stack.baseUrl, adminToken, apiKey: key(), image, n: 5, same: true });
		const instance = containerInstance();
		const cost = (perUpload, cpu) =>
			costPerMillion(perUpload, {
				thumborCpuSeconds: cpu,
				// Memory is billed while the instance runs; kept busy, it runs cpu / vCPUs seconds per image.
				thumborGibSeconds: (cpu / instance.vcpu) * instance.gib,
				originalBytes: metered.originalBytes,
				thumbnailBytes: metered.thumbnailBytes,
			});
		const fresh = cost(metered.perUpload, thumborCpuSeconds);
		const again = cost(deduped.perUpload, 0);
		console.log(`\n4. Cost of one thumbnail: upload (POST ?wait) → done, thumbnail fetched once; ${N} uploads metered`);
		const ops = [...new Set([...Object.keys(metered.perUpload), ...Object.keys(deduped.perUpload)])].sort();
		console.table(
			Object.fromEntries(
				ops.map((op) => [op, { "new bytes": metered.perUpload[op] ?? 0, "same bytes again": deduped.perUpload[op] ?? 0 }]),
			),
		);
		console.log(
			`Thumbor: ${thumborCpuSeconds.toFixed(4)} CPU-seconds per image (this machine's process, /proc); ` +
				`priced on a "${instance.name}" container (${instance.vcpu} vCPU, ${instance.gib} GiB) kept busy.`,
		);
		console.table(fresh.rows.map((r, i) => ({ ...r, "USD per million, same bytes again": again.rows[i]["USD per million"] })));
		console.log(
			`Total per million thumbnails: $${fresh.total} (new bytes), $${again.total} (same bytes again, no Thumbor call).\n` +
				`Storage, per month kept: originals $${fresh.storage.originals} ` +
				`(${(metered.originalBytes / 1024).toFixed(0)} KiB each, deleted after ORIGINAL_RETENTION_DAYS), ` +
				`thumbnails $${fresh.storage.thumbnails} (${(metered.thumbnailBytes / 1024).toFixed(1)} KiB each).\n` +
				`Cloudflare Images for the same million: $${fresh.images.toFixed(0)} in transformations alone ` +
				`($${PRICES.imagesTransformation * 1000} per 1,000 unique transformations).\n` +
				"Not in these figures: Workers CPU time ($0.02 per million CPU-ms) and Durable Object duration ($12.50 per million GB-s), " +
				"which wrangler dev does not measure; the monthly plan and included amounts.",
		);
		// A rendition outside the eager set, made on its first request: each of the seven once, from a fresh job.
		const onRequest = ["webp@3x", "avif@1x", "avif@2x", "avif@3x", "jpg@1x", "jpg@2x", "jpg@3x"];
		const renditionCpuBefore = cpuSeconds(stack.thumbor.pid);
		const rendered = await meterRenditions({ baseUrl: stack.baseUrl, adminToken, apiKey: key(), image, renditions: onRequest });
		// The job's own upload is in the CPU measured: take off what an upload costs Thumbor (measured above).
		const renditionCpu = Math.max(0, cpuSeconds(stack.thumbor.pid) - renditionCpuBefore - thumborCpuSeconds) / onRequest.length;
		const rendition = costPerMillion(rendered.perRendition, {
			thumborCpuSeconds: renditionCpu,
			thumborGibSeconds: (renditionCpu / instance.vcpu) * instance.gib,
			originalBytes: 0,
			thumbnailBytes: rendered.renditionBytes,
		});
		console.log(
			`\nA rendition made on its first request (${onRequest.join(", ")}: each once), per rendition; ` +
				`Thumbor ${renditionCpu.toFixed(4)} CPU-seconds each on average:`,
		);
		console.table(rendition.rows.filter((r) => r["per thumbnail"] > 0));
		console.log(
			`Total per million renditions made on request: $${rendition.total} (then served from R2 and the edge cache like the rest; ` +
				`$${rendition.storage.thumbnails} a month per million kept, ${(rendered.renditionBytes / 1024).toFixed(1)} KiB each on average).`,
		);
		against.push({
			measure: "cost per million thumbnails, new bytes, with the eager set (USD)",
			pipeline: fresh.total,
			floor: "",
			"pipeline vs floor": "",
			goal: "at most $30",
		});
	}
	console.log("\n5. The pipeline against the floor, this run");
	console.table(against);
} finally {
	fileServer?.close();
	await stopLaunched();
	rmSync(dir, { recursive: true, force: true });
}
