// Starts a real Thumbor (from thumbor/requirements.txt) and a real `wrangler dev`
// on free loopback ports with freshly generated keys and a throwaway state dir,
// writes the test images, and tears it all down afterwards.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createKey } from "../../scripts/keys.mjs";
import { makeTestImages, scratchDir, startScratchStack, venvBin } from "../../scripts/stack.mjs";

export default async function setup({ provide }) {
	// wrangler dev's own trace store records every span in the same workerd (8 ms of CPU per job):
	// off for every stack the tests start, the shared one and each test file's, but the one that
	// tests tracing (tracing.test.ts turns it back on for its own stack).
	process.env.X_LOCAL_OBSERVABILITY ??= "false";
	const dir = scratchDir("thumbs-e2e-");
	const fixtures = join(dir, "fixtures");
	makeTestImages(fixtures);
	const stack = await startScratchStack(dir, {
		// Webhook retries a second apart instead of 5 s … 10 h; a stalled upload given up after 3 s, not 30.
		vars: { WEBHOOK_RETRY_SCHEDULE: "1,1,1,1,1,1,1,1,1,1,1,1", UPLOAD_IDLE_SECONDS: "3" },
	});
	const { thumborKey, adminToken, logDir } = stack;
	provide("baseUrl", stack.baseUrl);
	provide("thumborUrl", stack.thumborUrl);
	provide("thumborKey", thumborKey);
	provide("fixtures", fixtures);
	provide("python", venvBin("python"));
	provide("logDir", logDir);
	// Three owners' keys, made the documented way (npm run keys → the admin API): A for most tests, B for
	// those that count what one owner did, C for the renditions' many uploads (kept out of A's listing).
	const [a, b, c] = await Promise.all(
		["e2e-a", "e2e-b", "e2e-c"].map((ownerId) => createKey(stack.baseUrl, adminToken, { name: "e2e", ownerId })),
	);
	provide("apiKeys", { a: a.key, b: b.key, c: c.key, aWebhookSecret: a.webhookSecret });

	return async () => {
		await stack.stopAll();
		rmSync(dir, { recursive: true, force: true });
	};
}
