// Node-side helpers for the end-to-end tests: read the generated images, and
// decode a thumbnail with Pillow to see what it really is.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../scripts/stack.mjs";

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
