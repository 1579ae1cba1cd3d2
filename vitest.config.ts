import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import type { Reporter } from "vitest/node";

const key = () => Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Ends the run with one plain "N passed, N failed, N skipped" line, for CI to read.
 * Unhandled errors fail the run, so they count as failures here too.
 */
const plainSummary: Reporter = {
	onTestRunEnd(modules, unhandledErrors) {
		const count = { passed: 0, failed: 0, skipped: 0 };
		for (const module of modules) {
			for (const test of module.children.allTests()) {
				const state = test.result().state;
				count[state === "passed" || state === "failed" ? state : "skipped"]++;
			}
		}
		const failed = count.failed + unhandledErrors.length;
		console.log(`\n${count.passed} passed, ${failed} failed, ${count.skipped} skipped`);
	},
};

export default defineConfig({
	test: {
		reporters: ["default", plainSummary],
		// The Worker's own log lines (job.retry, Thumbor's 4xx…) are shown for failing tests only.
		silent: "passed-only",
		projects: [
			{
				// Unit and integration tests inside workerd, on the production wrangler.toml.
				plugins: [
					cloudflareTest({
						wrangler: { configPath: "./wrangler.toml" },
						miniflare: {
							bindings: {
								// Thumbor is down in these tests (see outboundService below).
								THUMBOR_URL: "http://127.0.0.1:1",
								ORIGINALS_BASE_URL: "http://127.0.0.1:1",
								// Not the host tests send requests to: job views must never echo the request's Host.
								PUBLIC_BASE_URL: "https://img.example",
								THUMBOR_SECURITY_KEY: key(),
								ORIGINALS_SIGNING_KEY: key(),
								ADMIN_TOKEN: key(),
								MAX_UPLOAD_BYTES: "65536",
								// Revocation is immediate here; the cache itself is tested on its own.
								AUTH_CACHE_SECONDS: "0",
								MAX_JOBS_IN_FLIGHT: "20",
							},
							// Tests hand batches to the consumer themselves (createMessageBatch): what the
							// Worker sends goes to a queue nothing consumes, so no consumer runs behind their back.
							queueProducers: { JOB_QUEUE: { queueName: "thumbnail-jobs-unconsumed" } },
							// The only outbound requests here are Thumbor's, and Thumbor is down: every one is
							// answered 503. (A closed port fails the same way for the code under test, but
							// workerd prints an "uncaught exception" line for every refused connection.)
							outboundService: async () => new Response(null, { status: 503 }),
						},
					}),
				],
				test: { name: "worker", include: ["test/worker/**/*.test.ts"] },
			},
			{
				// End to end: a real Thumbor and a real `wrangler dev`, started by the global setup.
				test: {
					name: "e2e",
					include: ["test/e2e/**/*.test.ts"],
					environment: "node",
					globalSetup: ["test/e2e/global-setup.mjs"],
					testTimeout: 90_000,
					hookTimeout: 300_000,
				},
			},
		],
	},
});
