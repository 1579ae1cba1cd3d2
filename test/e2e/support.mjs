// Node-side helpers for the end-to-end tests: read the generated images, and
// decode a thumbnail with Pillow to see what it really is.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startThumbor, stop, waitForHttp } from "../../scripts/stack.mjs";

/** @returns {Uint8Array} */
export const readFixture = (dir, name) => new Uint8Array(readFileSync(join(dir, name)));

/** Pillow's view of an image: { format, width, height, frames, top: [r,g,b], bottom: [r,g,b] }. */
export function inspectImage(python, bytes) {
	const dir = mkdtempSync(join(tmpdir(), "thumbs-inspect-"));
	try {
		const file = join(dir, "image");
		writeFileSync(file, bytes);
		const r = spawnSync(python, [join(ROOT, "test", "fixtures", "inspect_image.py"), file], { encoding: "utf8" });
		if (r.status !== 0) throw new Error(`inspect_image failed: ${r.stderr}`);
		return JSON.parse(r.stdout);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** Stops the process group led by `pid` (the setup's Thumbor) and waits until `port` refuses connections. */
export async function killGroup(pid, port) {
	try {
		process.kill(-pid, "SIGTERM");
	} catch {
		// already gone
	}
	for (let i = 0; i < 100; i++) {
		try {
			await fetch(`http://127.0.0.1:${port}/healthcheck`, { signal: AbortSignal.timeout(500) });
		} catch {
			return;
		}
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`port ${port} still answers after stopping ${pid}`);
}

/** Starts another Thumbor on `port` and resolves once it answers; `stop()` ends it. */
export async function startThumborOn(port, securityKey) {
	const child = startThumbor({ port, securityKey });
	await waitForHttp(`http://127.0.0.1:${port}/healthcheck`, { child });
	return { stop: () => stop(child) };
}
