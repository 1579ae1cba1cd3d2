/**
 * GET /docs: the API reference, Swagger UI (swagger-ui-dist, served from this origin: no CDN,
 * no internet) reading /openapi.json, with "Try it out" against this Worker. The API key given
 * to Authorize stays in the page (not persisted). No validator badge: that would call out.
 */
import { NONCE } from "./pages";
import { SWAGGER_UI } from "./vendor";

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-thumbnails API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${SWAGGER_UI.style}" nonce="${NONCE}">
<style nonce="${NONCE}">
	body { margin: 0; font-family: system-ui, sans-serif; }
	header { max-width: 1460px; margin: 0 auto; padding: .8rem 20px 0; }
	header a { margin-right: 1rem; }
</style>
</head>
<body>
<header><nav aria-label="Pages"><a href="/">Upload page</a><a href="/openapi.json">openapi.json</a></nav></header>
<main id="reference"></main>
<script src="${SWAGGER_UI.script}" nonce="${NONCE}"></script>
<script nonce="${NONCE}">
	window.ui = SwaggerUIBundle({
		url: "/openapi.json",
		dom_id: "#reference",
		presets: [SwaggerUIBundle.presets.apis],
		layout: "BaseLayout",
		deepLinking: true,
		validatorUrl: null,
		persistAuthorization: false,
		displayRequestDuration: true,
		tryItOutEnabled: false,
	});
</script>
</body>
</html>
`;
