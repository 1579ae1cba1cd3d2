import { defineConfig } from "vitest/config";
import type { Reporter } from "vitest/node";
import { workerdTests } from "./test/workerd.ts";

/**
 * Ends the run with why each skipped test was skipped (the note it gave `ctx.skip`), then
 * one plain "N passed, N failed, N skipped" line, for CI to read. Unhandled errors fail
 * the run, so they count as failures here too.
 */
const plainSummary: Reporter = {
	onTestRunEnd(modules, unhandledErrors) {
		const count = { passed: 0, failed: 0, skipped: 0 };
		const reasons: string[] = [];
		for (const module of modules) {
			// A file that failed outside its tests (a hook, its import) fails the run: count it.
			count.failed += module.errors().length;
			for (const test of module.children.allTests()) {
				const result = test.result();
				count[result.state === "passed" || result.state === "failed" ? result.state : "skipped"]++;
				if (result.state === "skipped") reasons.push(`skipped: ${test.fullName}${result.note ? ` (${result.note})` : ""}`);
			}
		}
		const failed = count.failed + unhandledErrors.length;
		if (reasons.length > 0) console.log(`\n${reasons.join("\n")}`);
		console.log(`\n${count.passed} passed, ${failed} failed, ${count.skipped} skipped`);
	},
};

export default defineConfig({
	test: {
		reporters: ["default", plainSummary],
		// Test files side by side: most of an end-to-end file's time is spent waiting on Thumbor and
		// wrangler dev (other processes), so more files than cores run at once.
		maxWorkers: 3,
		// The Worker's own log lines (job.retry, Thumbor's 4xx…) are shown for failing tests only.
		silent: "passed-only",
		projects: [
			{
				// Unit and integration tests inside workerd, on the production wrangler.toml.
				// Vite's own warnings stay quiet: the one it has is about a dependency's missing
				// source-map sources (standardwebhooks), which says nothing about this code.
				logLevel: "error",
				plugins: [
					workerdTests({
						MAX_UPLOAD_BYTES: "65536",
						// Revocation is immediate here; the cache itself is tested on its own.
						AUTH_CACHE_SECONDS: "0",
						MAX_JOBS_IN_FLIGHT: "20",
						MAX_UPLOADS_IN_PROGRESS: "5",
						// Far above what any test uploads; the quota's own test starts its owner near it.
						MONTHLY_UPLOAD_QUOTA: "1000",
						// A stalled upload is given up after 1 s here (30 s in production).
						UPLOAD_IDLE_SECONDS: "1",
					}),
				],
				test: {
					name: "worker",
					include: ["test/worker/**/*.test.ts"],
					setupFiles: ["test/worker/setup.ts"],
					testTimeout: 30_000,
					isolate: false,
				},
			},
			{
				// The project's scripts on their own (the production check of wrangler.toml).
				test: { name: "scripts", include: ["test/scripts/**/*.test.mjs"], environment: "node", testTimeout: 60_000 },
			},
			{
				// The Thumbor origin's own tests: pytest in the venv (thumbor/tests).
				test: { name: "origin", include: ["test/origin/**/*.test.ts"], environment: "node", testTimeout: 300_000 },
			},
			{
				// End to end: a real Thumbor and a real `wrangler dev`, started by the global setup.
				test: {
					name: "e2e",
					include: ["test/e2e/**/*.test.{ts,mjs}"],
					environment: "node",
					globalSetup: ["test/e2e/global-setup.mjs"],
					// Every response of the shared stack is held to /openapi.json (test/contract.mjs).
					setupFiles: ["test/e2e/contract-setup.ts"],
					testTimeout: 90_000,
					hookTimeout: 300_000,
				},
			},
		],
	},
});
