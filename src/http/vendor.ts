/**
 * Browser libraries the pages load from this origin: copied from node_modules into .assets/ at
 * install (scripts/assets.mjs) and served by wrangler.toml's [assets], under a path that names
 * their version (cached for good; a new version is a new URL).
 */
import swaggerUi from "swagger-ui-dist/package.json";
import thumbhash from "thumbhash/package.json";
import tusClient from "tus-js-client/package.json";

const vendored = (pkg: { name: string; version: string }, file: string) => `/vendor/${pkg.name}/${pkg.version}/${file}`;

/** Swagger UI (the /docs page): its bundle and its style sheet. */
export const SWAGGER_UI = {
	script: vendored(swaggerUi, "swagger-ui-bundle.js"),
	style: vendored(swaggerUi, "swagger-ui.css"),
};

/** tus-js-client (the upload page's resumable uploads): its browser bundle, which defines `tus`. */
export const TUS_CLIENT = { script: vendored(tusClient, "dist/tus.min.js") };

/** ThumbHash's reference code (an ES module): the upload page paints placeholders with its decoder. */
export const THUMBHASH = { module: vendored(thumbhash, "thumbhash.js") };
