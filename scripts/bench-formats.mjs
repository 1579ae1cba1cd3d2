// `npm run bench:formats`: which quality each output format (WebP, AVIF, JPEG) needs at 100, 200 and
// 300 px to look as good as the canonical WebP q80 (SSIM), and what it weighs, on the test corpus.
// Encoders only, in the Thumbor venv (scripts/encoder_quality.py): no Thumbor, no network.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ensureThumborVenv, makeTestImages, ROOT, scratchDir, venvBin } from "./stack.mjs";

ensureThumborVenv();
const dir = scratchDir("thumbs-formats-");
try {
	makeTestImages(dir);
	const run = spawnSync(venvBin("python"), [join(ROOT, "scripts", "encoder_quality.py"), dir], { stdio: "inherit" });
	process.exitCode = run.status ?? 1;
} finally {
	rmSync(dir, { recursive: true, force: true });
}
