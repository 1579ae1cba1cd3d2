/**
 * scripts/check-production.mjs, which `npm run check` and `npm run deploy` run: wrangler.toml as
 * it is passes, and each kind of local value or forgotten binding in its deployed environments,
 * and each way of leaving the EU environment half resident, fails it, saying which.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack.mjs";

const original = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
const [local, production] = original.split("[env.production]");

/** Runs the check on wrangler.toml changed by `edit` (beside the real one: its paths resolve the same). */
function check(edit, ...args) {
	const file = join(ROOT, `.wrangler-check-${process.pid}-${Math.random().toString(36).slice(2)}.toml`);
	writeFileSync(file, `${local}[env.production]${edit(production)}`);
	try {
		const run = spawnSync(process.execPath, ["scripts/check-production.mjs", "--config", file, ...args], {
			cwd: ROOT,
			encoding: "utf8",
		});
		return { status: run.status, output: run.stderr + run.stdout };
	} finally {
		rmSync(file, { force: true });
	}
}

describe("the production environment check", () => {
	it("passes wrangler.toml as it is; refuses its example PUBLIC_BASE_URL for a real deploy", () => {
		expect(check((p) => p)).toEqual({ status: 0, output: "" });
		const deploy = check((p) => p, "--for-deploy", "--env", "production");
		expect(deploy.status).toBe(1);
		expect(deploy.output).toContain('[env.production] PUBLIC_BASE_URL = "https://thumbnails.example.com" is the example');
		expect(deploy.output).not.toContain("[env.eu]");
		expect(check((p) => p.replace("thumbnails.example.com", "img.acme.dev"), "--for-deploy", "--env", "production").status).toBe(
			0,
		);
	});

	it.each([
		[
			"local URLs",
			(p) => p.replace('PUBLIC_BASE_URL = "https://thumbnails.example.com"', 'PUBLIC_BASE_URL = "http://127.0.0.1:8787"'),
			/production URLs are https[\s\S]*is this machine/,
		],
		["a local Thumbor", (p) => p.replace('THUMBOR_URL = ""', 'THUMBOR_URL = "http://localhost:8888"'), /THUMBOR_URL/],
		[
			"development webhook hosts",
			(p) => p.replace('WEBHOOK_DEV_HOSTS = ""', 'WEBHOOK_DEV_HOSTS = "127.0.0.1"'),
			/WEBHOOK_DEV_HOSTS/,
		],
		[
			"CORS for any origin",
			(p) => p.replace('CORS_ALLOWED_ORIGINS = ""', 'CORS_ALLOWED_ORIGINS = "*"'),
			/CORS_ALLOWED_ORIGINS = "\*"/,
		],
		["operation metering", (p) => p.replace('METER_OPS = "0"', 'METER_OPS = "1"'), /METER_OPS/],
		["a var left out", (p) => p.replace('MONTHLY_UPLOAD_QUOTA = "0"\n', ""), /var MONTHLY_UPLOAD_QUOTA is set for local work/],
		[
			"a Durable Object binding left out",
			(p) => p.replace('[[env.production.durable_objects.bindings]]\nname = "OWNERS"\nclass_name = "OwnerObject"\n', ""),
			/Durable Object OWNERS \(OwnerObject\) is missing/,
		],
		[
			"the EU bucket without its jurisdiction",
			(p) => p.replace('bucket_name = "edge-thumbnails-eu"\njurisdiction = "eu"\n', 'bucket_name = "edge-thumbnails-eu"\n'),
			/\[env\.eu\] R2 bucket BUCKET \(edge-thumbnails-eu\) has no jurisdiction = "eu"/,
		],
		[
			"EU containers without the constraint",
			(p) => p.replace('constraints = { jurisdiction = "eu" }\n', ""),
			/\[env\.eu\] container ThumborContainer is not constrained to the jurisdiction/,
		],
		[
			"the EU environment on the default queue",
			(p) => p.replace('binding = "JOB_QUEUE"\nqueue = "thumbnail-jobs-eu"', 'binding = "JOB_QUEUE"\nqueue = "thumbnail-jobs"'),
			/\[env\.eu\] queue thumbnail-jobs is not this jurisdiction's own/,
		],
		[
			"a Thumbor elsewhere for the EU environment",
			(p) =>
				p.replace(
					'the check refuses one.\nTHUMBOR_URL = ""',
					'the check refuses one.\nTHUMBOR_URL = "https://thumbor.us-east.example.net"',
				),
			/\[env\.eu\] THUMBOR_URL = "https:\/\/thumbor\.us-east\.example\.net" sends originals to a Thumbor/,
		],
		[
			"the metrics dataset left out",
			(p) => p.replace('[[env.production.analytics_engine_datasets]]\nbinding = "METRICS"\ndataset = "edge_thumbnails"\n', ""),
			/Analytics Engine METRICS/,
		],
	])("fails on %s", (_what, edit, message) => {
		const { status, output } = check(edit);
		expect(status).toBe(1);
		expect(output).toMatch(message);
	});
});
