/**
 * GET /: a page to try the service with — paste an API key (kept in this browser's
 * localStorage), pick or drop images, watch each upload's progress and its job's status
 * (long-polled with ?wait, not a spin loop), then the thumbnail beside its URL. Files go up
 * over tus (/uploads, with tus-js-client served from this origin): a dropped connection is
 * retried from where it stopped, and a file chosen again after a reload resumes. A finished job's
 * placeholder (its ThumbHash, decoded by the reference code, on its dominant colour) is painted
 * at once, and the thumbnail over it as it loads. Plain HTML, CSS (here) and JavaScript
 * (http/upload-script.ts) in one answer: no framework, no build step, nothing fetched from
 * elsewhere. The e2e suite drives it in headless Chromium (test/e2e/browser.test.mjs).
 */
import { NONCE } from "./pages";
import { UPLOAD_SCRIPT } from "./upload-script";
import { TUS_CLIENT } from "./vendor";

export const UPLOAD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-thumbnails</title>
<link rel="icon" href="data:,">
<style nonce="${NONCE}">
	:root { color-scheme: light dark; --line: #8886; --muted: #777; --ok: #1a7f37; --bad: #c62828; }
	:root { font-family: system-ui, sans-serif; }
	body { max-width: 52rem; margin: 0 auto; padding: 1rem 1.5rem 4rem; line-height: 1.45; }
	header nav a { margin-right: 1rem; }
	fieldset { border: 1px solid var(--line); border-radius: .5rem; margin: 1rem 0; padding: .8rem 1rem; }
	label { display: block; font-weight: 600; margin-bottom: .3rem; }
	input[type=password], input[type=text] { width: 100%; box-sizing: border-box; padding: .45rem; font: inherit; }
	#drop { border: 2px dashed var(--line); border-radius: .5rem; padding: 1.5rem; text-align: center; }
	#drop.over { border-color: Highlight; background: #8881; }
	button { font: inherit; padding: .35rem .8rem; cursor: pointer; }
	:focus-visible { outline: 3px solid Highlight; outline-offset: 2px; }
	.muted { color: var(--muted); }
	ol#uploads { list-style: none; padding: 0; }
	.job { display: grid; grid-template-columns: 100px 1fr; gap: 1rem; border-top: 1px solid var(--line); padding: .8rem 0; }
	.job .thumb { width: 100px; height: 100px; background: #8882; border-radius: .3rem; }
	.job .thumb { display: grid; place-items: center; overflow: hidden; }
	/* A placeholder and the thumbnail in one cell: the thumbnail, once loaded, covers it. */
	.paint { display: grid; border-radius: .3rem; overflow: hidden; }
	.paint > picture { display: contents; }
	.paint img { grid-area: 1 / 1; width: 100%; height: 100%; object-fit: cover; }
	.paint img.thumbnail { opacity: 0; transition: opacity .2s; }
	.paint img.thumbnail.loaded { opacity: 1; }
	.swatch { display: inline-block; width: .8em; height: .8em; border-radius: .2em; vertical-align: -.05em; }
	#recent-table .paint { width: 40px; height: 40px; }
	.job progress { width: 100%; }
	.status-done { color: var(--ok); font-weight: 600; }
	.status-failed, .reason { color: var(--bad); }
	.url { font-family: ui-monospace, monospace; word-break: break-all; }
	table { border-collapse: collapse; width: 100%; }
	th, td { text-align: left; padding: .25rem .5rem; border-top: 1px solid var(--line); overflow-wrap: anywhere; }
	th { white-space: nowrap; }
	/* Narrow screens: each job a block of label: value lines, not four squeezed columns. */
	@media (max-width: 36rem) {
		#recent-table thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
		#recent-table tr { display: block; border-top: 1px solid var(--line); padding: .4rem 0; }
		#recent-table td { display: block; border: 0; padding: .1rem 0; }
		#recent-table td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); }
	}
	.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
</style>
</head>
<body>
<header>
	<h1>edge-thumbnails</h1>
	<nav aria-label="Pages"><a href="/docs">API reference</a><a href="/openapi.json">openapi.json</a></nav>
	<p class="muted">Upload images; each becomes a 100x100 thumbnail at stable, public URLs: WebP, AVIF and JPEG, at 1x, 2x and 3x.</p>
</header>
<main>
	<fieldset>
		<legend>Your API key</legend>
		<label for="key">API key (et_live_…)</label>
		<input id="key" type="password" autocomplete="off" spellcheck="false" aria-describedby="key-help">
		<p id="key-help" class="muted">Kept in this browser (localStorage) only.
			<code>npm run dev</code> writes one to <code>.dev-api-key</code>.</p>
	</fieldset>
	<fieldset>
		<legend>Images</legend>
		<div id="drop">
			<label for="files">Choose images, or drop them here</label>
			<input id="files" type="file" accept="image/*,.heic,.heif" multiple>
			<p class="muted">JPEG, PNG, GIF, WebP, AVIF, HEIC or TIFF, up to 25 MiB each.</p>
		</div>
	</fieldset>
	<section aria-labelledby="uploads-title">
		<h2 id="uploads-title">Uploads</h2>
		<p id="announce" class="sr-only" aria-live="polite"></p>
		<div id="unfinished"></div>
		<ol id="uploads"></ol>
	</section>
	<section aria-labelledby="recent-title">
		<h2 id="recent-title">Recent jobs of this key</h2>
		<table id="recent-table">
			<thead><tr>
				<th scope="col"><span class="sr-only">Picture</span></th><th scope="col">Job</th><th scope="col">Status</th>
				<th scope="col">Original</th><th scope="col">Thumbnail</th>
			</tr></thead>
			<tbody id="recent"><tr><td colspan="5" class="muted">Paste a key to see its jobs.</td></tr></tbody>
		</table>
	</section>
</main>
<script src="${TUS_CLIENT.script}" nonce="${NONCE}"></script>
<script type="module" nonce="${NONCE}">
${UPLOAD_SCRIPT}</script>
</body>
</html>
`;
