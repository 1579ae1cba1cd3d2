// The browser libraries the Worker's pages load, copied out of node_modules into .assets/ (the
// directory wrangler.toml's [assets] serves, before the Worker and at no cost to it). Each lives
// under /vendor/<package>/<version>/, so a new version is a new URL and every answer can be
// cached for good. Run by wrangler itself before `wrangler dev` and `wrangler deploy` (wrangler.toml
// [build]), and by the workerd tests' setup (test/workerd.ts), which builds nothing; quiet when it works.
// The pages name the same files (src/http/vendor.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, ".assets");

/** Per package, the files of it that pages load. */
export const VENDORED = {
	"swagger-ui-dist": ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"],
	"tus-js-client": ["dist/tus.min.js", "LICENSE"],
	thumbhash: ["thumbhash.js"],
};

const HEADERS = `/vendor/*
  Cache-Control: public, max-age=31536000, immutable
  X-Content-Type-Options: nosniff
  Cross-Origin-Resource-Policy: same-origin
`;

/**
 * Brings .assets/ up to date with node_modules. Safe while a wrangler dev serves it (the tests start
 * several stacks at once): files that are already right are left alone, a changed file is replaced
 * whole (written beside it, then renamed), and only versions no longer installed are removed.
 */
export function writeAssets() {
	const require = createRequire(join(ROOT, "package.json"));
	const wanted = new Set();
	for (const [name, files] of Object.entries(VENDORED)) {
		const manifest = require.resolve(`${name}/package.json`);
		const { version } = JSON.parse(readFileSync(manifest, "utf8"));
		const dir = join(OUT, "vendor", name, version);
		wanted.add(`${name}/${version}`);
		for (const file of files) {
			mkdirSync(dirname(join(dir, file)), { recursive: true });
			put(join(dir, file), readFileSync(join(dirname(manifest), file)));
		}
	}
	for (const dir of readdirSync(join(OUT, "vendor"), { withFileTypes: true })) {
		if (!dir.isDirectory()) continue;
		for (const version of readdirSync(join(OUT, "vendor", dir.name))) {
			const installed = `${dir.name}/${version}`;
			if (!wanted.has(installed)) rmSync(join(OUT, "vendor", installed), { recursive: true, force: true });
		}
	}
	put(join(OUT, "_headers"), Buffer.from(HEADERS));
}

/** Writes `bytes` at `path` unless they are there already; never leaves a half-written file. */
function put(path, bytes) {
	if (existsSync(path) && readFileSync(path).equals(bytes)) return;
	const partial = `${path}.${process.pid}.partial`;
	writeFileSync(partial, bytes);
	renameSync(partial, path);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeAssets();
