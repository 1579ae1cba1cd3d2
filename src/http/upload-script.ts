/**
 * The upload page's own script (http/upload-page.ts inlines it, under the page's nonce): the key
 * kept in localStorage, each file sent over tus (tus-js-client, served from this origin) and
 * resumed after a reload, each job followed by long-polls, its placeholder painted (ThumbHash's
 * reference decoder) then its thumbnail, and the key's recent jobs. A module, so that its import
 * of the vendored ThumbHash inherits the nonce. Plain JavaScript in a string: no backticks in it.
 */
import { THUMBHASH } from "./vendor";

export const UPLOAD_SCRIPT = `import { thumbHashToDataURL } from "${THUMBHASH.module}";
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
		too_many_uploads_in_progress: "Too many of your uploads are unfinished: finish or cancel some, or wait.",
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
 * painted at once, the thumbnail drawn over it once it has loaded — in the rendition the screen
 * wants: AVIF where the browser takes it, else WebP, at 1x, 2x or 3x by its pixel density
 * (the job's srcsets, as docs/api.md shows them in a <picture>).
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
	const renditions = job.renditions;
	const picture = el("picture", {});
	picture.append(el("source", { type: renditions.avif.type, srcset: renditions.avif.srcset }));
	const thumbnail = el("img", {
		className: "thumbnail",
		src: job.thumbnailUrl,
		srcset: renditions.webp.srcset,
		width: px,
		height: px,
		alt,
	});
	thumbnail.addEventListener("load", () => thumbnail.classList.add("loaded"));
	picture.append(thumbnail);
	box.append(picture);
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
`;
