// `npm run check` and `npm run deploy` run this first: each deployed environment of wrangler.toml
// ([env.production], [env.eu]…, as wrangler itself reads them) must not carry a local value, and
// must have every binding the top level has (wrangler inherits neither vars nor bindings into an
// environment, so a binding added above and forgotten below would deploy a Worker that fails at
// its first use). An environment with DATA_JURISDICTION set must be resident whole: its R2
// buckets declare that jurisdiction, its containers are constrained to it, its queues are its own
// (made with --jurisdiction, named for it), and no var points at a service elsewhere.
// `--for-deploy` also refuses the example PUBLIC_BASE_URL; `--env NAME` checks that environment
// only. Exits 1 with every problem listed, each naming its environment.
import { readFileSync } from "node:fs";
import { unstable_readConfig } from "wrangler";

const forDeploy = process.argv.includes("--for-deploy");
// `--config <file>`: another wrangler.toml (the check's own test uses this).
const arg = (name) => {
	const at = process.argv.indexOf(name);
	return at > 0 ? process.argv[at + 1] : undefined;
};
const config = arg("--config") ?? "wrangler.toml";
const only = arg("--env");
const local = unstable_readConfig({ config });
const environments = only
	? [only]
	: [...new Set([...readFileSync(config, "utf8").matchAll(/^\[env\.([\w-]+)\]/gm)].map((m) => m[1]))];

/** Every binding of a configuration, by kind and name. */
const bindingNames = (c) => [
	...(c.durable_objects?.bindings ?? []).map((b) => `Durable Object ${b.name} (${b.class_name})`),
	...(c.r2_buckets ?? []).map((b) => `R2 bucket ${b.binding}`),
	...(c.queues?.producers ?? []).map((b) => `queue producer ${b.binding}`),
	`queue consumers: ${(c.queues?.consumers ?? []).length}`,
	...(c.ratelimits ?? []).map((b) => `rate limit ${b.name}`),
	...(c.analytics_engine_datasets ?? []).map((b) => `Analytics Engine ${b.binding}`),
	...(c.containers ?? []).map((b) => `container ${b.class_name}`),
];

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$/i;

/** What is wrong with environment `name` for a deploy. */
function check(name) {
	const env = unstable_readConfig({ config, env: name });
	const vars = env.vars ?? {};
	const problems = [];
	const publicUrl = (variable, { optional = false } = {}) => {
		const value = String(vars[variable] ?? "");
		if (value === "" && optional) return;
		let url;
		try {
			url = new URL(value);
		} catch {
			return problems.push(`${variable} = "${value}" is not a URL`);
		}
		if (url.protocol !== "https:") problems.push(`${variable} = "${value}": production URLs are https`);
		if (LOOPBACK.test(url.hostname)) problems.push(`${variable} = "${value}" is this machine, not a public host`);
		if (forDeploy && url.hostname.endsWith(".example.com")) problems.push(`${variable} = "${value}" is the example: set yours`);
	};
	publicUrl("PUBLIC_BASE_URL");
	publicUrl("THUMBOR_URL", { optional: true });
	if (String(vars.WEBHOOK_DEV_HOSTS ?? "") !== "") {
		problems.push(`WEBHOOK_DEV_HOSTS = "${vars.WEBHOOK_DEV_HOSTS}" lets webhooks reach plain-http and private hosts`);
	}
	if (
		String(vars.CORS_ALLOWED_ORIGINS ?? "")
			.split(",")
			.some((o) => o.trim() === "*")
	) {
		problems.push('CORS_ALLOWED_ORIGINS = "*" lets any web page call the API with a key it holds: list your sites');
	}
	if (String(vars.METER_OPS ?? "0") !== "0") problems.push("METER_OPS counts operations in memory for benchmarks: leave it 0");
	for (const variable of Object.keys(local.vars ?? {})) {
		if (!(variable in vars)) problems.push(`var ${variable} is set for local work but not in [env.${name}.vars]`);
	}
	const deployed = new Set(bindingNames(env));
	for (const binding of bindingNames(local)) if (!deployed.has(binding)) problems.push(`${binding} is missing`);
	if (!env.observability?.enabled) problems.push("observability is off");
	const jurisdiction = String(vars.DATA_JURISDICTION ?? "");
	if (jurisdiction !== "") problems.push(...resident(env, jurisdiction));
	return problems.map((problem) => `[env.${name}] ${problem}`);
}

/** What would leave `jurisdiction` in an environment meant to stay in it. */
function resident(env, jurisdiction) {
	const problems = [];
	for (const bucket of env.r2_buckets ?? []) {
		if (bucket.jurisdiction !== jurisdiction) {
			problems.push(`R2 bucket ${bucket.binding} (${bucket.bucket_name}) has no jurisdiction = "${jurisdiction}"`);
		}
	}
	for (const container of env.containers ?? []) {
		if (container.constraints?.jurisdiction !== jurisdiction) {
			problems.push(
				`container ${container.class_name} is not constrained to the jurisdiction: constraints = { jurisdiction = "${jurisdiction}" }`,
			);
		}
	}
	// A queue's jurisdiction is fixed when it is made (wrangler queues create --jurisdiction), not in
	// this file: a resident environment's queues are its own, named for it, so none is shared by mistake.
	const queues = [
		...(env.queues?.producers ?? []).map((q) => q.queue),
		...(env.queues?.consumers ?? []).flatMap((q) => [q.queue, q.dead_letter_queue].filter(Boolean)),
	];
	for (const queue of new Set(queues)) {
		if (!queue.split("-").includes(jurisdiction)) {
			problems.push(
				`queue ${queue} is not this jurisdiction's own: make one with --jurisdiction ${jurisdiction}, named …-${jurisdiction}`,
			);
		}
	}
	if (String(env.vars?.THUMBOR_URL ?? "") !== "") {
		problems.push(
			`THUMBOR_URL = "${env.vars.THUMBOR_URL}" sends originals to a Thumbor this check cannot place in "${jurisdiction}": ` +
				"leave it empty (the constrained containers)",
		);
	}
	return problems;
}

const problems = environments.flatMap(check);
if (problems.length > 0) {
	console.error(`wrangler.toml is not fit to deploy:\n- ${problems.join("\n- ")}`);
	process.exit(1);
}
