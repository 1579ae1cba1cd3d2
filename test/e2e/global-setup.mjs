// Starts a real Thumbor (from thumbor/requirements.txt) and a real `wrangler dev`
// on free loopback ports with freshly generated keys and a throwaway state dir,
// writes the test images, and tears it all down afterwards.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, ensureThumborVenv, freePort, randomKey, startStack, venvBin } from "../../scripts/stack.mjs";

export default async function setup({ provide }) {
	ensureThumborVenv();
	const dir = mkdtempSync(join(tmpdir(), "thumbs-e2e-"));
	const fixtures = join(dir, "fixtures");
	const made = spawnSync(venvBin("python"), [join(ROOT, "test", "fixtures", "make_images.py"), fixtures], { encoding: "utf8" });
	if (made.status !== 0) throw new Error(`making test images failed:\n${made.stderr}`);

	const thumborKey = randomKey();
	const envFile = join(dir, "secrets.env");
	writeFileSync(envFile, `THUMBOR_SECURITY_KEY="${thumborKey}"\nORIGINALS_SIGNING_KEY="${randomKey()}"\n`, { mode: 0o600 });
	const workerPort = await freePort();
	let thumborPort = await freePort();
	while (thumborPort === workerPort) thumborPort = await freePort();

	const stack = await startStack({ workerPort, thumborPort, envFile, persistTo: join(dir, "state") });
	provide("baseUrl", stack.baseUrl);
	provide("thumborUrl", stack.thumborUrl);
	provide("thumborPort", thumborPort);
	provide("thumborPid", stack.thumbor.pid);
	provide("thumborKey", thumborKey);
	provide("fixtures", fixtures);
	provide("python", venvBin("python"));

	return async () => {
		await stack.stopAll();
		rmSync(dir, { recursive: true, force: true });
	};
}
