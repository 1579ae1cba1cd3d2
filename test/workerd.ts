// The workers vitest plugin set up on the production wrangler.toml, with the test-only
// overrides every workerd run shares (vitest.config.ts, vitest.bench.config.ts).
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { writeAssets } from "../scripts/assets.mjs";

const key = () => Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");

export function workerdTests(bindings: Record<string, string>) {
	// wrangler.toml's [assets] directory must exist (npm install makes it; this keeps it current).
	writeAssets();
	return cloudflareTest({
		wrangler: { configPath: "./wrangler.toml" },
		miniflare: {
			bindings: {
				// Thumbor is down in these runs (see outboundService below).
				THUMBOR_URL: "http://127.0.0.1:1",
				// Not the host tests send requests to: job views must never echo the request's Host.
				PUBLIC_BASE_URL: "https://img.example",
				THUMBOR_SECURITY_KEY: key(),
				CURSOR_SIGNING_KEY: key(),
				KEY_CHECKSUM_SECRET: key(),
				ADMIN_TOKEN: key(),
				...bindings,
			},
			// Tests hand batches to the consumer themselves (createMessageBatch): what the
			// Worker sends goes to a queue nothing consumes, so no consumer runs behind their back.
			queueProducers: { JOB_QUEUE: { queueName: "thumbnail-jobs-unconsumed" } },
			// Outbound requests go nowhere real. Thumbor is down: it answers 503. (A closed port fails
			// the same way for the code under test, but workerd prints an "uncaught exception" line
			// for every refused connection.) https://hooks.example/<status> stands in for a webhook
			// receiver answering that status (the end-to-end tests use a real one).
			outboundService: async (request: Request) => {
				const url = new URL(request.url);
				if (url.hostname === "hooks.example") return new Response(null, { status: Number(url.pathname.slice(1)) || 200 });
				return new Response(null, { status: 503 });
			},
		},
	});
}
