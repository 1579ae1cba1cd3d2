/**
 * GET /: a page to try the service with — paste an API key (kept in this browser's
 * localStorage), pick or drop images, watch each upload's progress and its job's status
 * (long-polled with ?wait, not a spin loop), then the thumbnail beside its URL. Files go up
 * over tus (/uploads, with tus-js-client served from this origin): a dropped connection is
 * retried from where it stopped, and a file chosen again after a reload resumes. A finished job's
 * placeholder (its ThumbHash, decoded by the reference code, on its dominant colour) is painted
 * at once, and the thumbnail over it as it loads. Plain HTML,
 * CSS and JavaScript in one answer: no framework, no build step, nothing fetched from
 * elsewhere. The e2e suite drives it in headless Chromium (test/e2e/browser.test.mjs).
 */
import { NONCE } from "./pages";
import { THUMBHASH, TUS_CLIENT } from "./vendor";

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
	.paint > img { grid-area: 1 / 1; width: 100%; height: 100%; object-fit: cover; }
	.paint > img.thumbnail { opacity: 0; transition: opacity .2s; }
	.paint > img.thumbnail.loaded { opacity: 1; }
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
	<p class="muted">Upload images; each becomes a 100x100 WebP at a stable, public URL.</p>
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
import { thumbHashToDataURL } from "${THUMBHASH.module}";
const KEY_STORE = "edge-thumbnails.api-key";
const keyInput = document.getElementById("key");
const fileInput = document.getElementById("files");
const drop = document.getElementById("drop");
const list = document.getElementById("uploads");
const announce = document.getElementById("announce");
keyInput.value = localStorage.getItem(KEY_STORE) || "";
keyInput.addEventListener("input", () => localStorage.setItem(KEY_STORE, keyInput.value.trim()));
// The list is fetched once the key is complete (pasted, or typed and left), not on every keystroke.
keyInput.addEventListener("change", refreshRecent);

const el = (tag, props = {}, ...children) => {
	const node = Object.assign(document.createElement(tag), props);
	for (const child of children) node.append(child);
	return node;
};
const size = (bytes) =>
	bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MiB" : Math.max(1, Math.round(bytes / 1024)) + " KiB";
const auth = () => ({ Authorization: "Bearer " + keyInput.value.trim() });

/** Why a job or an upload failed, in words a person can act on (the API's own detail first). */
function reason(problem) {
	const plain = {
		unauthorized: "The API key is missing or not valid: paste a key above.",
		unsupported_media_type: "This file is not an image the service can read (JPEG, PNG, GIF, WebP, AVIF, HEIC or TIFF).",
		payload_too_large: "The file is too large (over 25 MiB).",
		image_too_large: "The image has too many pixels (over 50 megapixels).",
		rate_limited: "Too many uploads with this key just now: wait a minute and try again.",
		too_many_jobs_in_flight: "Too many of your images are still being processed: wait for some to finish.",
	};
	return (problem && (problem.detail || plain[problem.code])) || "The upload failed.";
}

/** The answer's problem body, from a tus-js-client error. */
function problemOf(error) {
	try {
		return JSON.parse(error.originalResponse.getBody());
	} catch {
		return { detail: "The connection failed before the upload finished." };
	}
}

/**
 * Uploads one file over tus: passing failures are retried from the server's offset, and a
 * file this browser began before (a reload, a closed tab) resumes where it stopped.
 * Resolves with the job's id, or the problem that ended the upload.
 */
function send(file, row) {
	return new Promise((resolve) => {
		let resumedAt = null;
		const upload = new tus.Upload(file, {
			endpoint: location.origin + "/uploads",
			headers: auth(),
			metadata: { filename: file.name, filetype: file.type },
			chunkSize: 5 * 1048576,
			retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
			removeFingerprintOnSuccess: true,
			onProgress(sent, total) {
				const percent = Math.round((sent / total) * 100);
				if (resumedAt === true) {
					resumedAt = percent;
					row.status.textContent = "uploading, resumed at " + percent + "%";
					announce.textContent = row.name + ": resumed at " + percent + "%";
				}
				row.progress.value = percent;
			},
			onSuccess: () => resolve({ id: upload.url.split("/").pop() }),
			async onError(error) {
				// Refused or gone: nothing to resume (a connection that kept failing stays resumable).
				const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
				if ([404, 410, 413, 415, 422].includes(status)) await forget(upload.url);
				resolve({ problem: problemOf(error) });
			},
		});
		upload.findPreviousUploads().then((previous) => {
			if (previous.length > 0) {
				upload.resumeFromPreviousUpload(previous[0]);
				resumedAt = true;
			}
			upload.start();
		});
	});
}

/** Drops the upload at url from those this browser may resume. */
async function forget(url) {
	const storage = tus.defaultOptions.urlStorage;
	for (const u of await storage.findAllUploads()) if (u.uploadUrl === url) await storage.removeUpload(u.urlStorageKey);
	listUnfinished();
}

/** Uploads this browser began and did not finish: choosing the same file again resumes it. */
async function listUnfinished() {
	const box = document.getElementById("unfinished");
	const stored = await tus.defaultOptions.urlStorage.findAllUploads().catch(() => []);
	const mine = stored.filter((u) => u.uploadUrl && u.uploadUrl.startsWith(location.origin + "/uploads/"));
	if (mine.length === 0) return box.replaceChildren();
	const items = mine.map((u) =>
		el("li", { textContent: (u.metadata.filename || "a file") + " (" + size(u.size) + ")" }),
	);
	box.replaceChildren(
		el("p", { className: "muted", textContent: "Unfinished in this browser: choose the same file again to resume." }),
		el("ul", { className: "unfinished" }, ...items),
	);
}
listUnfinished();

/** Follows a job until it ends, one long-poll at a time (the server holds each for up to 30 s). */
async function follow(job, row) {
	while (job.status === "queued" || job.status === "processing") {
		show(job, row);
		const res = await fetch("/jobs/" + job.id + "?wait=30", { headers: auth() });
		if (!res.ok) return fail(row, reason(await res.json().catch(() => null)));
		job = await res.json();
	}
	show(job, row);
	refreshRecent();
}

function show(job, row) {
	row.status.textContent = job.status;
	row.status.className = "status-" + job.status;
	row.details.replaceChildren(el("span", { textContent: describe(job.original) }));
	if (job.status === "done") {
		row.thumb.replaceChildren(paint(job, "Thumbnail of " + row.name, 100));
		const copy = el("button", { type: "button", textContent: "Copy URL" });
		copy.addEventListener("click", async () => {
			await navigator.clipboard.writeText(job.thumbnailUrl).catch(() => {});
			copy.textContent = "Copied";
			announce.textContent = "Thumbnail URL copied";
		});
		row.link.replaceChildren(el("a", { href: job.thumbnailUrl, className: "url", textContent: job.thumbnailUrl }), " ", copy);
		announce.textContent = row.name + ": thumbnail ready";
	} else if (job.status === "failed") {
		fail(row, (job.error && job.error.message) || "The thumbnail could not be made.");
	} else if (job.error) {
		row.link.replaceChildren(el("span", { className: "muted", textContent: "Waiting to try again: " + job.error.message }));
	}
}

/** An original as a line: type, size, pixels; once done, what the origin read of it. */
function describe(original) {
	if (!original) return "";
	const dimensions = original.width ? ", " + original.width + "x" + original.height : "";
	const facts = original.facts;
	if (!facts) return original.contentType + ", " + size(original.bytes) + dimensions;
	const shown = facts.rotated ? ", shown " + facts.displayWidth + "x" + facts.displayHeight : "";
	const more = [
		facts.bitDepth + "-bit " + facts.colorSpace.toUpperCase(),
		facts.alpha && "alpha",
		facts.animated && facts.frames + " frames",
		facts.iccProfile && facts.iccProfile + " profile",
	].filter(Boolean);
	return original.contentType + ", " + size(original.bytes) + dimensions + shown + " (" + more.join(", ") + ")";
}

/**
 * A finished job's picture at size px: its placeholder (the ThumbHash on the dominant colour)
 * painted at once, the thumbnail drawn over it once it has loaded.
 */
function paint(job, alt, px) {
	const box = el("div", { className: "paint" });
	box.style.width = box.style.height = px + "px";
	const placeholder = job.placeholder;
	if (placeholder) {
		box.style.background = placeholder.color;
		const bytes = Uint8Array.from(atob(placeholder.thumbhash), (c) => c.charCodeAt(0));
		box.append(el("img", { className: "placeholder", src: thumbHashToDataURL(bytes), alt: "" }));
	}
	const thumbnail = el("img", { className: "thumbnail", src: job.thumbnailUrl, width: px, height: px, alt });
	thumbnail.addEventListener("load", () => thumbnail.classList.add("loaded"));
	box.append(thumbnail);
	return box;
}

function fail(row, why) {
	row.thumb.textContent = "✕";
	row.status.textContent = "failed";
	row.status.className = "status-failed";
	row.link.replaceChildren(el("span", { className: "reason", role: "alert", textContent: why }));
	announce.textContent = row.name + " failed: " + why;
}

async function upload(file) {
	const row = {
		name: file.name,
		progress: el("progress", { max: 100, value: 0 }),
		status: el("span", { textContent: "uploading" }),
		details: el("span", { className: "muted", textContent: file.type || "unknown type" }),
		thumb: el("div", { className: "thumb", textContent: "…" }),
		link: el("div"),
	};
	row.progress.setAttribute("aria-label", "Upload of " + file.name);
	const name = el("strong", { textContent: file.name + " " });
	const about = el("div", {}, name, row.status, el("div", {}, row.details), row.progress, row.link);
	list.prepend(el("li", { className: "job" }, row.thumb, about));
	const sent = await send(file, row);
	if (!sent.id) return fail(row, reason(sent.problem));
	row.progress.value = 100;
	// tus-js-client forgets a finished upload as it reports it: the list is redrawn after.
	setTimeout(listUnfinished, 0);
	const res = await fetch("/jobs/" + sent.id, { headers: auth() });
	if (!res.ok) return fail(row, reason(await res.json().catch(() => null)));
	await follow(await res.json(), row);
}

function uploadAll(files) {
	if (!keyInput.value.trim()) {
		keyInput.focus();
		announce.textContent = "Paste an API key first.";
		return;
	}
	for (const file of files) upload(file);
}
fileInput.addEventListener("change", () => {
	uploadAll([...fileInput.files]);
	fileInput.value = "";
});
for (const type of ["dragenter", "dragover"]) {
	drop.addEventListener(type, (e) => {
		e.preventDefault();
		drop.classList.add("over");
	});
}
for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); uploadAll([...e.dataTransfer.files]); });

/** A cell of the recent jobs' table, labelled for the narrow layout (where it is a line of its own). */
function cell(label, props, ...children) {
	const td = el("td", props, ...children);
	td.dataset.label = label;
	return td;
}

/** The key's ten newest jobs (GET /jobs). */
async function refreshRecent() {
	const body = document.getElementById("recent");
	if (!keyInput.value.trim()) return;
	const res = await fetch("/jobs?limit=10", { headers: auth() });
	if (!res.ok) {
		const why = reason(await res.json().catch(() => null));
		body.replaceChildren(el("tr", {}, el("td", { colSpan: 5, className: "muted", textContent: why })));
		return;
	}
	const { items } = await res.json();
	const line = (job) =>
		el(
			"tr",
			{},
			cell("Picture", {}, job.status === "done" ? paint(job, "", 40) : ""),
			cell("Job", { className: "url", textContent: job.id }),
			cell("Status", { textContent: job.status }),
			cell("Original", { textContent: describe(job.original) }),
			cell("Thumbnail", {}, job.status === "done" ? el("a", { href: job.thumbnailUrl, textContent: job.slug + ".webp" }) : ""),
		);
	const none = el("tr", {}, el("td", { colSpan: 5, className: "muted", textContent: "No jobs yet." }));
	body.replaceChildren(...(items.length ? items.map(line) : [none]));
}
refreshRecent();
</script>
</body>
</html>
`;
