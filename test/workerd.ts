// The workers vitest plugin set up on the production wrangler.toml, with the test-only
// overrides every workerd run shares (vitest.config.ts, vitest.bench.config.ts).
import { cloudflareTest } from "@cloudflare/vitest-plugin";

const key = () => Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");

export function workerdTests(bindings: Record<string, string>) {
	return cloudflareTest({
		wrangler: { configPath: "./wrangler.toml" },
		miniflare: {
			bindings: {
				// Thumbor is down in these runs (see outboundService below).
				THUMBOR_URL: "http://127.0.0.1:1",
				ORIGINALS_BASE_URL: "http://127.0.0.1:1",
				// Not the host tests send requests to: job views must never echo the request's Host.
				PUBLIC_BASE_URL: "https://img.example",
				THUMBOR_SECURITY_KEY: key(),
				ORIGINALS_SIGNING_KEY: key(),
				ADMIN_TOKEN: key(),
				...bindings,
			},
			// Tests hand batches to the consumer themselves (createMessageBatch): what the
			// Worker sends goes to a queue nothing consumes, so no consumer runs behind their back.
			queueProducers: { JOB_QUEUE: { queueName: "thumbnail-jobs-unconsumed" } },
			// The only outbound requests here are Thumbor's, and Thumbor is down: every one is
			// answered 503. (A closed port fails the same way for the code under test, but
			// workerd prints an "uncaught exception" line for every refused connection.)
			outboundService: async () => new Response(null, { status: 503 }),
		},
	});
}
