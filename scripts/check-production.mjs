// `npm run check` and `npm run deploy` run this first: the production environment of wrangler.toml
// (as wrangler itself reads it) must not carry a local value, and must have every binding the
// top level has (wrangler inherits neither vars nor bindings into an environment, so a binding
// added above and forgotten below would deploy a Worker that fails at its first use).
// `--for-deploy` also refuses the example PUBLIC_BASE_URL. Exits 1 with every problem listed.
import { unstable_readConfig } from "wrangler";

const forDeploy = process.argv.includes("--for-deploy");
// `--config <file>`: another wrangler.toml (the check's own test uses this).
const configArg = process.argv.indexOf("--config");
const config = configArg > 0 ? process.argv[configArg + 1] : "wrangler.toml";
const local = unstable_readConfig({ config });
const prod = unstable_readConfig({ config, env: "production" });
const problems = [];
const vars = prod.vars ?? {};

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$/i;
function publicUrl(name, { optional = false } = {}) {
	const value = String(vars[name] ?? "");
	if (value === "" && optional) return;
	let url;
	try {
		url = new URL(value);
	} catch {
		return problems.push(`${name} = "${value}" is not a URL`);
	}
	if (url.protocol !== "https:") problems.push(`${name} = "${value}": production URLs are https`);
	if (LOOPBACK.test(url.hostname)) problems.push(`${name} = "${value}" is this machine, not a public host`);
	if (forDeploy && url.hostname.endsWith(".example.com")) problems.push(`${name} = "${value}" is the example: set yours`);
}

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
for (const name of Object.keys(local.vars ?? {})) {
	if (!(name in vars)) problems.push(`var ${name} is set for local work but not in [env.production.vars]`);
}

// Every binding of the top level, by kind and name, is in production too.
const names = (config) => [
	...(config.durable_objects?.bindings ?? []).map((b) => `Durable Object ${b.name} (${b.class_name})`),
	...(config.r2_buckets ?? []).map((b) => `R2 bucket ${b.binding} (${b.bucket_name})`),
	...(config.queues?.producers ?? []).map((b) => `queue producer ${b.binding} (${b.queue})`),
	...(config.queues?.consumers ?? []).map((b) => `queue consumer ${b.queue}`),
	...(config.ratelimits ?? []).map((b) => `rate limit ${b.name}`),
	...(config.analytics_engine_datasets ?? []).map((b) => `Analytics Engine ${b.binding} (${b.dataset})`),
	...(config.containers ?? []).map((b) => `container ${b.class_name}`),
];
const deployed = new Set(names(prod));
for (const binding of names(local)) if (!deployed.has(binding)) problems.push(`${binding} is missing from [env.production]`);
if (!prod.observability?.enabled) problems.push("observability is off in production");

if (problems.length > 0) {
	console.error(`wrangler.toml's production environment is not fit to deploy:\n- ${problems.join("\n- ")}`);
	process.exit(1);
}
