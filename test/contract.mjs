// Holds real responses to /openapi.json: the route, method and status must be documented,
// a JSON body must match the documented schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1
// uses it), and every API header the response carries must be documented for that status.
// Used by the e2e setup for every response of the shared stack, and by the contract test.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** Headers this API sets on purpose: each one sent must be in the document. */
const API_HEADERS = [
	...["location", "retry-after", "link", "idempotent-replayed", "server-timing", "www-authenticate", "etag"],
	...["tus-resumable", "tus-version", "tus-extension", "tus-max-size"],
	...["upload-offset", "upload-length", "upload-metadata", "upload-expires"],
];

export function contract(spec) {
	const ajv = new Ajv2020({ strict: false, allErrors: true });
	addFormats(ajv);
	// Schemas refer to "#/components/schemas/…": the document itself is the base they resolve against.
	ajv.addSchema({ ...spec, $id: "openapi.json" });
	const routes = Object.entries(spec.paths).map(([path, item]) => ({
		path,
		item,
		pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+")}$`),
	}));
	const validators = new Map();
	const validatorFor = (schema) => {
		const key = JSON.stringify(schema);
		if (!validators.has(key)) {
			const rebased = JSON.parse(key.replaceAll('"#/components/', '"openapi.json#/components/'));
			validators.set(key, ajv.compile(rebased));
		}
		return validators.get(key);
	};

	/** What is wrong with `res` (to `method` `url`) by the document; [] when nothing. */
	return async function check(method, url, res) {
		const { pathname } = new URL(url);
		// Not the API: the pages' static files (wrangler.toml [assets], served before the Worker)
		// and wrangler dev's own routes (/cdn-cgi/: its local observability store, say).
		const notApi = ["/vendor/", "/cdn-cgi/"].some((prefix) => pathname.startsWith(prefix));
		if (pathname === "/openapi.json" || notApi || method === "OPTIONS") return [];
		const where = `${method} ${pathname} → ${res.status}`;
		const route = routes.find((r) => r.pattern.test(pathname));
		if (!route) return [`${where}: the path is not in /openapi.json`];
		const op = route.item[method === "HEAD" ? "get" : method.toLowerCase()];
		if (!op && res.status === 405) {
			// A method the path does not take: Allow must list exactly the documented ones.
			const documented = ["get", "post", "put", "patch", "delete"]
				.filter((m) => route.item[m])
				.flatMap((m) => (m === "get" ? ["GET", "HEAD"] : [m.toUpperCase()]));
			const allow = (res.headers.get("allow") ?? "").split(/,\s*/).filter(Boolean);
			return allow.sort().join() === documented.sort().join()
				? []
				: [`${where}: Allow "${allow.join(", ")}" is not the documented ${documented.join(", ")}`];
		}
		if (!op) return [`${where}: ${method} ${route.path} is not in /openapi.json`];
		const documented =
			op.responses?.[String(res.status)] ?? op.responses?.[`${String(res.status)[0]}XX`] ?? op.responses?.default;
		if (!documented) return [`${where}: status ${res.status} is not documented for ${method} ${route.path}`];
		const problems = [];
		const headers = Object.keys(documented.headers ?? {}).map((h) => h.toLowerCase());
		for (const name of API_HEADERS) {
			if (res.headers.has(name) && !headers.includes(name)) problems.push(`${where}: header ${name} is sent but not documented`);
		}
		const type = (res.headers.get("content-type") ?? "").split(";")[0].trim();
		if (method === "HEAD" || res.status === 204 || res.status === 304 || !type) return problems;
		const media = Object.entries(documented.content ?? {}).find(
			([m]) => m === type || (m.endsWith("/*") && type.startsWith(m.slice(0, -1))),
		);
		if (!media)
			return [
				...problems,
				`${where}: Content-Type ${type} is not documented (${Object.keys(documented.content ?? {}).join(", ") || "no body"})`,
			];
		if (type.endsWith("json") && media[1].schema) {
			const body = await res.clone().json();
			const validate = validatorFor(media[1].schema);
			if (!validate(body))
				problems.push(
					`${where}: body does not match the schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
				);
		}
		return problems;
	};
}
