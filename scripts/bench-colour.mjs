// `npm run bench:colour -- <other checkout>`: the colour corpus (test/fixtures/make_images.py) through
// the origin of another checkout ("before": its thumbor/ on PYTHONPATH) and this one ("after"), in
// turns, one Thumbor each from this venv: each thumbnail's bytes and metadata chunks, its mean colour's
// CIE76 distance from the original's as a colour-managed viewer shows it, its placeholder colour's,
// and the p50 ms of 15 requests. Loopback only. E.g. `git worktree add /tmp/before <commit>`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileLoaderConf, freePorts, makeTestImages, ROOT, startThumbor, stop, venvBin, waitForHttp } from "./stack.mjs";
import { percentile } from "./stats.mjs";

const other = process.argv[2];
if (!other) {
	console.error("usage: npm run bench:colour -- <another checkout of this project>");
	process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "colour-cmp-"));
makeTestImages(dir);
const conf = fileLoaderConf(dir);
const [p1, p2] = await freePorts(2);
const before = startThumbor({ port: p1, securityKey: "x".repeat(24), conf, env: { PYTHONPATH: join(other, "thumbor") } });
const after = startThumbor({ port: p2, securityKey: "x".repeat(24), conf });
await waitForHttp(`http://127.0.0.1:${p1}/healthcheck`, { child: before });
await waitForHttp(`http://127.0.0.1:${p2}/healthcheck`, { child: after });
const names = [
	"p3-red.jpg",
	"p3-leaf.jpg",
	"cmyk-teal.jpg",
	"cmyk-teal-no-profile.jpg",
	"p3-16bit.png",
	"p3-screenshot.png",
	"with-metadata.jpg",
	"photo-640x480.jpg",
	"large-4000x3000.jpg",
];
const op = "100x100/smart/filters:format(webp):quality(80)";
const get = async (port, name) => {
	const t0 = performance.now();
	const res = await fetch(`http://127.0.0.1:${port}/unsafe/${op}/${name}`);
	const bytes = new Uint8Array(await res.arrayBuffer());
	return { ms: performance.now() - t0, bytes, colour: res.headers.get("edge-color") };
};
const rows = [];
for (const name of names) {
	const t = { before: [], after: [] };
	const last = {};
	for (let i = 0; i < 3; i++) {
		await get(p1, name);
		await get(p2, name);
	}
	for (let i = 0; i < 15; i++) {
		const b = await get(p1, name);
		t.before.push(b.ms);
		last.before = b;
		const a = await get(p2, name);
		t.after.push(a.ms);
		last.after = a;
	}
	const check = (which) => {
		const file = join(dir, `out-${which}.webp`);
		writeFileSync(file, last[which].bytes);
		const r = spawnSync(
			venvBin("python"),
			[join(ROOT, "test", "fixtures", "colour_check.py"), join(dir, name), file, last[which].colour ?? "#000000"],
			{ encoding: "utf8" },
		);
		return JSON.parse(r.stdout);
	};
	const cb = check("before"),
		ca = check("after");
	rows.push({
		name,
		original: readFileSync(join(dir, name)).length,
		bytesBefore: last.before.bytes.length,
		bytesAfter: last.after.bytes.length,
		dEBefore: cb.deltaE.toFixed(1),
		dEAfter: ca.deltaE.toFixed(1),
		phBefore: cb.placeholderDeltaE.toFixed(1),
		phAfter: ca.placeholderDeltaE.toFixed(1),
		msBefore: percentile(t.before, 50).toFixed(1),
		msAfter: percentile(t.after, 50).toFixed(1),
		chunksBefore: cb.chunks.join("+"),
	});
}
console.table(rows);
await Promise.all([stop(before), stop(after)]);
