// `npm run bench:renditions [-- --n 20]`: what renditions cost the origin, on this machine, loopback only.
// One Thumbor of ours (thumbor.conf, reading the images with Thumbor's file loader), one thread
// (THUMBOR_THREADS=1: requests one at a time, as one job is made). For each image:
// - the job's eager set (EAGER_RENDITIONS' default, webp@1x and webp@2x, from one decode) against the
//   canonical alone, timed in turns (five of each, and again), and what the second output adds;
// - the job's master, made before retention deletes the original (300 px, lossless WebP): ms and bytes;
// - each rendition made on its first request (alone, framed by the job's focus) from the original, and
//   from the master once the original is gone: p50 ms;
// - each rendition's bytes.
// The cost of the Cloudflare operations around them is `npm run bench` (scripts/cost.mjs).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ALL, MASTER, operation } from "./renditions.mjs";
import { fileLoaderConf, freePorts, makeBenchImages, startThumbor, stop, waitForHttp } from "./stack.mjs";
import { percentile } from "./stats.mjs";

const { values } = parseArgs({ options: { n: { type: "string", default: "20" } } });
const N = Math.max(5, Math.min(200, Number(values.n)));
const BLOCK = 5;
const EAGER = ["webp@1x", "webp@2x"];
const IMAGES = [
	"photo-640x480.jpg",
	"large-4000x3000.jpg",
	"camera-4000x3000.jpg",
	"camera-4000x3000.heic", // a 320 px thumbnail stored, as iPhones do: the @2x is left out (thumbor/README.md)
	"subject-right-1200x600.png",
	"photo-1200x900.heic",
	"p3-leaf.jpg",
];

/** One request: its ms, the outputs' byte counts (Edge-Outputs) and where the crop was centred. */
async function ask(base, op, image) {
	const t0 = performance.now();
	const res = await fetch(`${base}/unsafe/${op}/${image}`);
	const body = await res.arrayBuffer();
	const ms = performance.now() - t0;
	if (res.status !== 200) throw new Error(`${op}/${image} answered ${res.status}`);
	const lengths = (res.headers.get("edge-outputs") ?? String(body.byteLength)).split(",").map(Number);
	return { ms, lengths, focus: res.headers.get("edge-focus"), body };
}

/** p50 ms of `op` on `image`, asked one at a time. */
async function p50(base, op, image) {
	const ms = [];
	for (let i = 0; i < Math.max(5, N / 4); i++) ms.push((await ask(base, op, image)).ms);
	return +percentile(ms, 50).toFixed(1);
}

/** p50 ms of each operation in `ops`, timed in turns: a block of each (its first untimed), and again. */
async function inTurns(base, image, ops) {
	const times = ops.map(() => []);
	for (let round = 0; round < N / BLOCK; round++) {
		for (const [i, op] of ops.entries()) {
			await ask(base, op, image);
			for (let j = 0; j < BLOCK; j++) times[i].push((await ask(base, op, image)).ms);
		}
	}
	return times.map((t) => percentile(t, 50));
}

const dir = mkdtempSync(join(tmpdir(), "thumbs-bench-renditions-"));
let child;
try {
	makeBenchImages(dir);
	const [port] = await freePorts(1);
	child = startThumbor({
		port,
		securityKey: "bench-renditions-not-secret",
		conf: fileLoaderConf(dir),
		env: { THUMBOR_THREADS: "1", THUMBOR_ACCESS_LOG_LEVEL: "WARNING" },
	});
	const base = `http://127.0.0.1:${port}`;
	await waitForHttp(`${base}/healthcheck`, { child });
	const timing = [];
	const bytes = [];
	const single = [];
	const fromMaster = [];
	for (const image of IMAGES) {
		const eager = await ask(base, operation(EAGER), image);
		const [canonicalMs, eagerMs, masterMs] = await inTurns(base, image, [
			operation(["webp@1x"]),
			operation(EAGER),
			operation([MASTER], eager.focus),
		]);
		const master = await ask(base, operation([MASTER], eager.focus), image);
		writeFileSync(join(dir, `${image}.master.webp`), Buffer.from(master.body));
		timing.push({
			image,
			"canonical alone ms": +canonicalMs.toFixed(1),
			"eager set ms": +eagerMs.toFixed(1),
			"@2x adds": `${(((eagerMs - canonicalMs) / canonicalMs) * 100).toFixed(0)}%`,
			"@2x made": eager.lengths[0] > 0 ? "yes" : "left out",
			"master at retention ms": +masterMs.toFixed(1),
			"master bytes": master.lengths[0],
		});
		const all = await ask(base, operation(ALL, eager.focus), image);
		// operation() puts the largest first: the body's order is webp@3x, then the rest in ALL's order.
		const order = ["webp@3x", ...ALL.filter((n) => n !== "webp@3x")];
		// A HEIC whose stored thumbnail serves the 1x only leaves the larger out of one request (0): asked alone, each is made.
		const sized = await Promise.all(
			ALL.map(
				async (name) => all.lengths[order.indexOf(name)] || (await ask(base, operation([name], eager.focus), image)).lengths[0],
			),
		);
		bytes.push({ image, ...Object.fromEntries(ALL.map((name, i) => [name, sized[i]])) });
		const row = { image };
		const after = { image };
		for (const name of ALL.filter((n) => !EAGER.includes(n))) {
			row[name] = await p50(base, operation([name], eager.focus), image);
			after[name] = await p50(base, operation([name], "0.5000,0.5000"), `${image}.master.webp`);
		}
		single.push(row);
		fromMaster.push(after);
		process.stdout.write(".");
	}
	console.log(`\nThe origin's time per job, p50 ms (${N} of each, in turns, one Thumbor thread):`);
	console.table(timing);
	console.log("Each rendition made on its first request, alone, from the original (p50 ms):");
	console.table(single);
	console.log("The same once retention has deleted the original: from the job's master (p50 ms):");
	console.table(fromMaster);
	console.log("Bytes per rendition:");
	console.table(bytes);
	const median = (xs) => percentile(xs, 50);
	console.log(
		"Median bytes over these images: " +
			ALL.map((name) => `${name} ${median(bytes.map((b) => b[name]))}`).join(", ") +
			"\nThe eager set is what every job pays, the master every job that reaches retention; the rest is paid once per " +
			"rendition a page asks for.",
	);
} finally {
	if (child) await stop(child);
	rmSync(dir, { recursive: true, force: true });
}
