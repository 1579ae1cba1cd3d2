// `npm run keys -- <command>`: API keys, through the Worker's admin API (no redeploy).
//
//   npm run keys -- create --name "acme web" --owner acme
//   npm run keys -- list [--owner acme]
//   npm run keys -- revoke key_01m8…
//
// --url is the Worker (default http://127.0.0.1:8787, or $THUMBNAILS_URL); the admin
// secret comes from $ADMIN_TOKEN, else from .dev.vars. A new key's secret is printed
// once; only its hash is stored.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ROOT, readEnvFile } from "./stack.mjs";

async function call(baseUrl, adminToken, method, path, body) {
	const res = await fetch(`${baseUrl.replace(/\/+$/, "")}${path}`, {
		method,
		headers: { Authorization: `Bearer ${adminToken}`, ...(body && { "Content-Type": "application/json" }) },
		body: body && JSON.stringify(body),
	});
	const answer = await res.json().catch(() => ({}));
	if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${answer.detail ?? JSON.stringify(answer)}`);
	return answer;
}

/** Makes a key for `ownerId`; resolves with the admin API's answer, whose `key` is the secret. */
export const createKey = (baseUrl, adminToken, { name, ownerId }) =>
	call(baseUrl, adminToken, "POST", "/admin/keys", { name, ownerId });
export const listKeys = (baseUrl, adminToken, ownerId) =>
	call(baseUrl, adminToken, "GET", `/admin/keys${ownerId ? `?ownerId=${encodeURIComponent(ownerId)}` : ""}`);
export const revokeKey = (baseUrl, adminToken, id) =>
	call(baseUrl, adminToken, "DELETE", `/admin/keys/${encodeURIComponent(id)}`);

async function main() {
	const { values, positionals } = parseArgs({
		allowPositionals: true,
		options: { url: { type: "string" }, name: { type: "string" }, owner: { type: "string" } },
	});
	const baseUrl = values.url ?? process.env.THUMBNAILS_URL ?? "http://127.0.0.1:8787";
	const devVars = join(ROOT, ".dev.vars");
	const adminToken = process.env.ADMIN_TOKEN ?? (existsSync(devVars) ? readEnvFile(devVars).ADMIN_TOKEN : undefined);
	if (!adminToken) throw new Error("set ADMIN_TOKEN (the Worker's admin secret)");
	const [command, id] = positionals;
	if (command === "create") {
		if (!values.name || !values.owner) throw new Error('create needs --name "what it is for" and --owner <owner id>');
		const made = await createKey(baseUrl, adminToken, { name: values.name, ownerId: values.owner });
		console.log(JSON.stringify(made, null, 2));
		console.error("\nThe key is shown this once; store it now.");
	} else if (command === "list") {
		console.log(JSON.stringify(await listKeys(baseUrl, adminToken, values.owner), null, 2));
	} else if (command === "revoke" && id) {
		console.log(JSON.stringify(await revokeKey(baseUrl, adminToken, id), null, 2));
	} else {
		throw new Error(
			"usage: npm run keys -- create --name <name> --owner <owner> | list [--owner <owner>] | revoke <key id>   [--url <worker>]",
		);
	}
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	main().catch((err) => {
		console.error(err.message);
		process.exit(1);
	});
}
