// The origin's ThumbHash port (thumbor/placeholder.py) run on the e2e test images, for
// thumbhash.test.ts to hold against the reference implementation.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { makeTestImages, ROOT, scratchDir, venvBin } from "../../scripts/stack.mjs";

const SCRIPT = `
import base64, json, sys
import pillow_heif
from PIL import Image
from placeholder import thumbhash
pillow_heif.register_heif_opener()
cases = []
for name in sys.argv[2:]:
    img = Image.open(sys.argv[1] + "/" + name)
    img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
    img.thumbnail((100, 100))
    rgba = img.convert("RGBA").tobytes()
    cases.append({"name": name, "w": img.width, "h": img.height,
                  "rgba": base64.b64encode(rgba).decode(), "ours": base64.b64encode(thumbhash(img)).decode()})
print(json.dumps(cases))
`;

/** Each named test image at most 100x100, as RGBA, and the port's ThumbHash of it (both base64). */
export function encodeWithThePort(names) {
	const dir = scratchDir("thumbs-thumbhash-");
	try {
		makeTestImages(dir);
		const run = spawnSync(venvBin("python"), ["-c", SCRIPT, dir, ...names], {
			cwd: join(ROOT, "thumbor"),
			encoding: "utf8",
			maxBuffer: 64 * 1024 * 1024,
		});
		if (run.status !== 0) throw new Error(run.stderr);
		return JSON.parse(run.stdout);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}
