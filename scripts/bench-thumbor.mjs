// `npm run bench:thumbor [-- --n 20] [--speed-only | --memory-only]`: our Thumbor origin beside stock Thumbor, one run,
// loopback only. Both come from the same venv and thumbor.conf and read the images with
// Thumbor's file loader; "stock" drops our engine and detector (so `smart` is a centre crop),
// "ours" keeps them (reduced-size decoding, attention detection on). For each image, a fresh
// pair of processes: p50 of `n` requests one at a time, images/s with 4 in flight, and each
// process's peak RSS (VmHWM) at the end. The operation is the pipeline's:
// 100x100/smart/filters:format(webp):quality(80).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileLoaderConf, freePorts, makeBenchImages, startThumbor, stop, venvBin, waitForHttp } from "./stack.mjs";
import { percentile } from "./stats.mjs";

const { values } = parseArgs({
	options: {
		n: { type: "string", default: "20" },
		"memory-only": { type: "boolean", default: false },
		"speed-only": { type: "boolean", default: false },
	},
});
const N = Math.max(3, Math.min(200, Number(values.n)));
const IN_FLIGHT = 4;
const OPERATION = "100x100/smart/filters:format(webp):quality(80)";

const status = (pid, field) =>
	Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
const peakRssMiB = (pid) => status(pid, "VmHWM");

/** The largest images the limits allow (test/fixtures/make_big_images.py), each sent `inFlight` at once. */
const MEMORY_IMAGES = ["big-rgba16-7070x7070.png", "big-rgb-7000x7000.png", "big-rgba-7000x7000.png"];
const MEMORY_IN_FLIGHT = [1, 4, 8];
const SETTLE_MS = 10_000;

/**
 * What one Thumbor process (ours, THUMBOR_THREADS=2) can be made to hold: for each image and
 * number in flight, a fresh process is sent that many requests at once; the table gives the
 * answers' statuses, the process's peak RSS, and its RSS SETTLE_MS after the last answer.
 */
async function memoryRun(conf) {
	const rows = [];
	for (const image of MEMORY_IMAGES) {
		for (const inFlight of MEMORY_IN_FLIGHT) {
			const [port] = await freePorts(1);
			const child = startThumbor({ port, securityKey: "bench-thumbor-not-secret", conf, env: { THUMBOR_THREADS: "2" } });
			started.push(child);
			await waitForHttp(`http://127.0.0.1:${port}/healthcheck`, { child });
			const url = `http://127.0.0.1:${port}/unsafe/${OPERATION}/${image}`;
			await fetch(`http://127.0.0.1:${port}/unsafe/${OPERATION}/photo-640x480.jpg`).then((r) => r.arrayBuffer()); // warm
			const idle = status(child.pid, "VmRSS");
			const t0 = performance.now();
			const answers = await Promise.all(
				Array.from({ length: inFlight }, async () => {
					const res = await fetch(url);
					await res.arrayBuffer();
					return res.status;
				}),
			);
			const ms = performance.now() - t0;
			await new Promise((r) => setTimeout(r, SETTLE_MS));
			rows.push({
				image,
				"in flight": inFlight,
				answers: [...new Set(answers)].join(","),
				"all answered s": +(ms / 1000).toFixed(1),
				"idle RSS MiB": Math.round(idle),
				"peak RSS MiB": Math.round(peakRssMiB(child.pid)),
				[`RSS ${SETTLE_MS / 1000} s after MiB`]: Math.round(status(child.pid, "VmRSS")),
			});
			await stop(child);
			process.stdout.write(".");
		}
	}
	console.log(`\nMemory: one Thumbor process (ours, THUMBOR_THREADS=2), the largest images the limits allow, sent n at once`);
	console.table(rows);
}

async function measure(url) {
	// Our engine says how long the placeholder took (Server-Timing: placeholder;dur=<ms>).
	const placeholderMs = [];
	const once = async () => {
		const t0 = performance.now();
		const res = await fetch(url);
		if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
		await res.arrayBuffer();
		const said = /placeholder;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "");
		if (said) placeholderMs.push(Number(said[1]));
		return performance.now() - t0;
	};
	for (let i = 0; i < 3; i++) await once(); // warm: imports, first decode
	const sequential = [];
	for (let i = 0; i < N; i++) sequential.push(await once());
	let next = 0;
	const t0 = performance.now();
	await Promise.all(
		Array.from({ length: IN_FLIGHT }, async () => {
			while (next++ < N * 2) await once();
		}),
	);
	const perSecond = (N * 2) / ((performance.now() - t0) / 1000);
	return {
		p50: percentile(sequential, 50),
		perSecond,
		placeholderP50: placeholderMs.length ? percentile(placeholderMs, 50) : null,
	};
}

/**
 * The decode floor of `name`, and our origin beside it: p50 ms of a bare decode of the file in one
 * Python process, as little as our engine must decode (a JPEG at the DCT scale it asks for, 1/8 for
 * a 12 MP photo; a HEIC's stored thumbnail where it has one, else the whole image; anything else in
 * full), by the faster of the decoders the origin has (Pillow, and libvips for what libvips can
 * read: one thread, as the engine runs it; a JPEG at its shrink-on-load scale); no Thumbor, HTTP,
 * crop or encode: what the origin cannot go below. Then about `n` decodes and `n` requests to `url`
 * (our origin, over one kept-alive connection), in turns five at a time, each block after an untimed
 * one (each side warm, as in a loop of its own), so that both p50s are taken over the same stretch
 * of time: this machine's speed drifts by a fifth or more within a run.
 * `{ ms, decoder, oursMs }`.
 */
function floorBeside(name, url) {
	const script = `
import http.client, io, json, statistics, sys, time, urllib.parse
import pillow_heif, pyvips
from PIL import Image
pillow_heif.register_heif_opener()
pyvips.cache_set_max(0)
pyvips.concurrency_set(1)
n, path, url = int(sys.argv[1]), sys.argv[2], urllib.parse.urlsplit(sys.argv[3])
BLOCK = 5
data = open(path, "rb").read()

def pillow():
    img = Image.open(io.BytesIO(data))
    if img.format == "JPEG":
        img.draft(None, (200, 200))
    if img.format == "HEIF" and img.info.get("thumbnails"):
        heif = pillow_heif.open_heif(data)
        img = heif[heif.primary_index].get_thumbnail(0).to_pillow()
    img.load()

def vips():
    img = Image.open(io.BytesIO(data))
    if img.format == "HEIF":
        raise ValueError("the floor of a HEIC is its stored thumbnail")
    # A JPEG at the scale Pillow's draft gives the engine: the smallest that keeps 200 pixels a side.
    scale = max(f for f in (1, 2, 4, 8) if f == 1 or min(img.size) / f >= 200)
    shrink = {"shrink": scale} if img.format == "JPEG" else {}
    pyvips.Image.new_from_buffer(data, "", access="sequential", **shrink).write_to_memory()

connection = http.client.HTTPConnection(url.hostname, url.port)

def ours():
    connection.request("GET", url.path)
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        raise RuntimeError(f"{url.path} answered {answer.status}")

def timed(work):
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000

def p50(work):
    work()
    return statistics.median(timed(work) for _ in range(n))

decoders = {"Pillow": pillow, "libvips": vips}
speeds = {}
for decoder, work in decoders.items():
    try:
        speeds[decoder] = p50(work)
    except (ValueError, pyvips.Error):
        pass
decoder = min(speeds, key=speeds.get)
# In turns, a block of each at a time (its first one untimed: each side warm, as in a loop of its own).
floor, mine = [], []
for _ in range(max(1, n // BLOCK)):
    for work, times in ((decoders[decoder], floor), (ours, mine)):
        work()
        times.extend(timed(work) for _ in range(BLOCK))
print(json.dumps({"decoder": decoder, "ms": statistics.median(floor), "oursMs": statistics.median(mine)}))
`;
	const run = spawnSync(venvBin("python"), ["-c", script, String(N), join(dir, name), url], { encoding: "utf8" });
	if (run.status !== 0) throw new Error(run.stderr);
	return JSON.parse(run.stdout);
}

const dir = mkdtempSync(join(tmpdir(), "thumbs-bench-thumbor-"));
const started = [];
try {
	makeBenchImages(dir);
	const confs = { stock: fileLoaderConf(dir, { stock: true }), ours: fileLoaderConf(dir) };
	const images = values["memory-only"]
		? []
		: [
				"camera-4000x3000.jpg",
				"large-4000x3000.jpg", // the noisy test fixture: 6.4 MB, the worst case for entropy decoding
				"photo-640x480.jpg",
				"camera-4000x3000.heic",
				"camera-no-thumbnail-4000x3000.heic",
				"screen-1920x1080.png",
			];
	const rows = [];
	for (const image of images) {
		const row = { image, MB: +(statSync(join(dir, image)).size / 1e6).toFixed(1) };
		for (const kind of ["stock", "ours"]) {
			const [port] = await freePorts(1);
			const child = startThumbor({ port, securityKey: "bench-thumbor-not-secret", conf: confs[kind] });
			started.push(child);
			await waitForHttp(`http://127.0.0.1:${port}/healthcheck`, { child });
			const url = `http://127.0.0.1:${port}/unsafe/${OPERATION}/${image}`;
			const { p50, perSecond, placeholderP50 } = await measure(url);
			row[`${kind} p50 ms`] = +p50.toFixed(1);
			if (kind === "ours") row["ours: of which placeholder ms"] = placeholderP50 === null ? "-" : +placeholderP50.toFixed(2);
			row[`${kind} images/s (${IN_FLIGHT} in flight)`] = +perSecond.toFixed(1);
			row[`${kind} peak RSS MiB`] = Math.round(peakRssMiB(child.pid));
			if (kind === "ours") {
				const floor = floorBeside(image, url);
				row["decode floor ms"] = +floor.ms.toFixed(1);
				row["floor's decoder"] = floor.decoder;
				row["ours, in turns with it, ms"] = +floor.oursMs.toFixed(1);
				row["ours ÷ floor"] = +(floor.oursMs / floor.ms).toFixed(2);
			}
			await stop(child);
		}
		rows.push(row);
		process.stdout.write(".");
	}
	if (rows.length > 0) {
		console.log(
			`\nThumbor 100x100/smart → WebP, ${N} requests one at a time (p50), ` +
				`then ${N * 2} with ${IN_FLIGHT} in flight; one process each`,
		);
		console.table(rows);
		console.log(
			"stock: Thumbor's PIL engine, no detectors (smart = centre crop). ours: edge_engine (JPEGs decoded at reduced size,\n" +
				"HEICs from their stored thumbnail, decode budgets, the placeholder and facts) + attention_detector (smart = the subject).\n" +
				"decode floor: a bare decode of the same file in one Python process (a JPEG at its 1/8 DCT scale, a HEIC's stored\n" +
				"thumbnail, the rest in full) by the faster of Pillow and libvips (one thread): no HTTP, crop or encode.\n" +
				"ours ÷ floor: how far the origin is from it, both timed in turns (five decodes, five requests to ours, and again).",
		);
	}
	if (!values["speed-only"]) await memoryRun(confs.ours);
} finally {
	await Promise.all(started.map((child) => stop(child)));
	rmSync(dir, { recursive: true, force: true });
}
