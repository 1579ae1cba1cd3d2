// `npm run demo`: uploads the bundled sample photo to a running `npm run dev` (or starts one
// for the occasion, and stops it after), waits for its thumbnail, and prints the job and the
// thumbnail's URL. DEMO_URL and API_KEY point it at another Worker.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, stop } from "./stack.mjs";

const base = (process.env.DEMO_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(/\/+$/, "");
const keyFile = join(ROOT, ".dev-api-key");
const photo = readFileSync(join(ROOT, "scripts", "sample-photo.jpg"));

const up = () =>
	fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })
		.then((r) => r.ok)
		.catch(() => false);

let dev;
if (!(await up())) {
	if (process.env.DEMO_URL) throw new Error(`nothing answers at ${base}`);
	console.log("no npm run dev on this port: starting one for the demo (Ctrl-C stops it)…");
	dev = spawn(process.execPath, [join(ROOT, "scripts", "dev.mjs")], {
		cwd: ROOT,
		detached: true,
		stdio: ["ignore", "pipe", "inherit"],
	});
	const stopDev = () => stop(dev).then(() => process.exit(130));
	process.on("SIGINT", stopDev);
	process.on("SIGTERM", stopDev);
	await new Promise((resolve, reject) => {
		let output = "";
		dev.stdout.on("data", (chunk) => {
			output += chunk;
			if (output.includes("Ctrl-C stops both")) resolve();
		});
		dev.once("exit", (code) => reject(new Error(`npm run dev exited (${code}) before it was up:\n${output}`)));
	});
}

try {
	const key = process.env.API_KEY ?? (existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : null);
	if (!key) throw new Error("no API key: set API_KEY, or run npm run dev once (it writes .dev-api-key)");
	const started = performance.now();
	const res = await fetch(`${base}/jobs?wait=30`, {
		method: "POST",
		body: photo,
		headers: { Authorization: `Bearer ${key}`, "Content-Type": "image/jpeg" },
	});
	const job = await res.json();
	if (res.status !== 201 && res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(job)}`);
	console.log(JSON.stringify(job, null, 2));
	if (job.status !== "done") throw new Error(`the job is ${job.status}${job.error ? `: ${job.error.message}` : ""}`);
	console.log(
		`\nthumbnail (${job.thumbnail.width}x${job.thumbnail.height} WebP, ${job.thumbnail.bytes} bytes, ` +
			`${Math.round(performance.now() - started)} ms):\n${job.thumbnailUrl}\n` +
			`its @2x, made with it: ${job.renditions.webp["2x"]}\n` +
			`AVIF and JPEG, made on their first request: ${job.renditions.avif["1x"]}, ${job.renditions.jpg["1x"]} (and @2x, @3x)`,
	);
} finally {
	if (dev) await stop(dev);
}
