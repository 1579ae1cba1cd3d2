/** What the e2e global setup (global-setup.mjs) provides to the tests: inject("baseUrl") and so on. */
import "vitest";

declare module "vitest" {
	export interface ProvidedContext {
		baseUrl: string;
		thumborUrl: string;
		thumborKey: string;
		fixtures: string;
		python: string;
		logDir: string;
		apiKeys: { a: string; b: string; c: string; aWebhookSecret: string };
	}
}
