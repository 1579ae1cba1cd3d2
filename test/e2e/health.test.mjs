/**
 * GET /health against the real stack: anyone may call it, so a flood of calls must not become
 * a flood of thumbnails; and a Worker whose key Thumbor refuses says so once, at start.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ensureSecrets, freePorts, scratchDir, startStack } from "../../scripts/stack.mjs";
import { readLog } from "./support.mjs";

const base = inject("baseUrl");
/** The lines of Thumbor's access log for the health check's own image. */
const probes = () =>
	readLog(inject("logDir"), "thumbor")
		.split("\n")
		.filter((line) => /edge\.access:INFO POST \/<signature>\/.*\/health-probe 200 /.test(line)).length;

describe("GET /health", () => {
	it("answers a flood of 200 anonymous calls from a cached check: a handful of round trips through Thumbor", async () => {
		const before = probes();
		const started = Date.now();
		const answers = [];
		for (let wave = 0; wave < 200 / 16; wave++) {
			const calls = Array.from({ length: Math.min(16, 200 - wave * 16) }, () => fetch(`${base}/health`));
			for (const res of await Promise.all(calls)) answers.push({ status: res.status, body: await res.json() });
		}
		const seconds = (Date.now() - started) / 1000;
		expect(answers).toHaveLength(200);
		for (const answer of answers) {
			expect(answer).toEqual({ status: 200, body: { status: "ok", thumbor: "ok", checkedAt: expect.any(String) } });
		}
		// One round trip per 10 s at most, per isolate (wrangler dev runs one).
		const made = probes() - before;
		expect(made).toBeLessThanOrEqual(1 + Math.ceil(seconds / 10));
		console.log(`200 calls of /health in ${seconds.toFixed(1)} s made ${made} round trip(s) through Thumbor`);
	});

	it("lets a stack whose Thumbor refuses our signature fail at once, saying why", async () => {
		const dir = scratchDir("thumbs-wrong-key-");
		try {
			// Secrets of its own: a THUMBOR_SECURITY_KEY that the shared Thumbor does not have.
			const envFile = join(dir, "secrets.env");
			ensureSecrets(envFile);
			const [workerPort] = await freePorts(1);
			const started = Date.now();
			const failed = await startStack({
				workerPort,
				thumborUrl: inject("thumborUrl"),
				envFile,
				persistTo: join(dir, "state"),
				logDir: dir,
			}).catch((err) => err);
			expect(failed).toBeInstanceOf(Error);
			expect(failed.message).toBe(
				`Thumbor at ${inject("thumborUrl")} refuses our signature: it runs with another THUMBOR_SECURITY_KEY ` +
					`than ${envFile} (or without thumbor/thumbor.conf).`,
			);
			// Well before the 120 s it used to poll for: wrangler's start, then one check.
			expect(Date.now() - started).toBeLessThan(60_000);
			// Its Worker was stopped by the failed start: the port is free again.
			await expect(fetch(`http://127.0.0.1:${workerPort}/health`)).rejects.toThrow();
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
