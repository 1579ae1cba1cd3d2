/**
 * GET /docs: the API reference, read from /openapi.json by a small script in this page. No
 * other file, no CDN: it works with no internet, as the rest of the service does.
 */
import { NONCE } from "./pages";

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-thumbnails API</title>
<link rel="icon" href="data:,">
<style nonce="${NONCE}">
	:root { color-scheme: light dark; --line: #8884; --muted: #888; font-family: system-ui, sans-serif; }
	body { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 4rem; line-height: 1.45; }
	nav a { margin-right: 1rem; }
	h2 { margin-top: 2.5rem; border-bottom: 1px solid var(--line); }
	details { border: 1px solid var(--line); border-radius: .4rem; margin: .5rem 0; padding: .3rem .8rem; }
	summary { cursor: pointer; font-family: ui-monospace, monospace; }
	summary:focus-visible, a:focus-visible { outline: 2px solid Highlight; outline-offset: 2px; }
	.method { display: inline-block; min-width: 4.5rem; font-weight: bold; }
	.muted { color: var(--muted); }
	table { border-collapse: collapse; width: 100%; margin: .4rem 0; }
	th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-top: 1px solid var(--line); }
	code { font-family: ui-monospace, monospace; font-size: .92em; background: #8882; padding: 0 .2em; border-radius: .2rem; }
	pre { overflow: auto; background: #8881; padding: .5rem; border-radius: .3rem; font-size: .85rem; }
</style>
</head>
<body>
<header>
	<h1>edge-thumbnails API</h1>
	<nav aria-label="Pages"><a href="/">Upload page</a><a href="/openapi.json">openapi.json</a></nav>
	<p id="intro" class="muted">Loading the API description…</p>
</header>
<main id="reference"></main>
<script nonce="${NONCE}">
(async () => {
	const spec = await (await fetch("/openapi.json")).json();
	const intro = document.getElementById("intro");
	const main = document.getElementById("reference");
	const el = (tag, props = {}, ...children) => {
		const node = Object.assign(document.createElement(tag), props);
		for (const child of children) node.append(child);
		return node;
	};
	const resolve = (schema) => {
		if (schema && schema.$ref) return { ref: schema.$ref.split("/").pop(), ...spec.components.schemas[schema.$ref.split("/").pop()] };
		return schema;
	};
	// Descriptions are CommonMark; of it they use \`code\` only, rendered as such (never as HTML).
	const prose = (text) => {
		const out = document.createDocumentFragment();
		String(text || "").split("\`").forEach((part, i) => out.append(i % 2 ? el("code", { textContent: part }) : part));
		return out;
	};
	intro.replaceChildren(prose((spec.info.description || "") + " OpenAPI " + spec.openapi + ", version " + spec.info.version + "."));
	const schemaBlock = (schema) => el("pre", { textContent: JSON.stringify(resolve(schema), null, 2) });
	const table = (head, rows) =>
		el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", textContent: h })))), el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
	const byTag = new Map();
	for (const [path, item] of Object.entries(spec.paths)) {
		for (const [method, op] of Object.entries(item)) {
			const tag = (op.tags && op.tags[0]) || "other";
			if (!byTag.has(tag)) byTag.set(tag, []);
			byTag.get(tag).push({ path, method, op });
		}
	}
	for (const [tag, ops] of byTag) {
		const section = el("section", { id: "tag-" + tag, ariaLabel: tag }, el("h2", { textContent: tag }));
		for (const { path, method, op } of ops) {
			const summary = el("summary", {}, el("span", { className: "method", textContent: method.toUpperCase() }), path + "  ", el("span", { className: "muted" }, prose(op.summary)));
			const body = el("div");
			if (op.description) body.append(el("p", {}, prose(op.description)));
			if (op.security) body.append(el("p", { textContent: "Needs: " + op.security.map((s) => Object.keys(s).join(", ")).join(" or ") }));
			if (op.parameters && op.parameters.length)
				body.append(el("h3", { textContent: "Parameters" }), table(["name", "in", "required", "about"], op.parameters.map((p) => [p.name, p.in, p.required ? "yes" : "no", el("span", {}, prose(p.description), " ", el("code", { textContent: JSON.stringify(p.schema || {}) }))])));
			if (op.requestBody) {
				body.append(el("h3", { textContent: "Body" }));
				for (const [media, content] of Object.entries(op.requestBody.content)) body.append(el("p", { textContent: media }), schemaBlock(content.schema));
			}
			body.append(el("h3", { textContent: "Responses" }));
			for (const [status, response] of Object.entries(op.responses || {})) {
				const headers = Object.keys(response.headers || {});
				body.append(el("p", {}, el("strong", { textContent: status + " " }), prose(response.description), headers.length ? el("span", { className: "muted", textContent: "  headers: " + headers.join(", ") }) : ""));
				for (const [media, content] of Object.entries(response.content || {})) {
					const d = el("details", {}, el("summary", { textContent: media }), schemaBlock(content.schema));
					body.append(d);
				}
			}
			section.append(el("details", { id: (op.operationId || method + path).replace(/[^a-zA-Z0-9]+/g, "-") }, summary, body));
		}
		main.append(section);
	}
})().catch((err) => {
	document.getElementById("intro").textContent = "Could not load /openapi.json: " + err;
});
</script>
</body>
</html>
`;
