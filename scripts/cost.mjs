// What one thumbnail costs on Cloudflare: the billed operations the Worker itself counts
// (METER_OPS="1", GET /admin/meter, src/base/metering.ts) while uploads are taken to `done` and
// their thumbnails fetched once, priced at Cloudflare's list prices (docs/performance.md).
// Used by `npm run bench` (the table) and by the e2e cost test (the counts).

/** List prices in USD, paid plan, beyond the included amounts (sources in docs/performance.md). */
export const PRICES = {
	workerRequest: 0.3 / 1e6, // Workers: $0.30 per million requests
	doRequest: 0.15 / 1e6, // Durable Objects: $0.15 per million requests (each RPC call, each alarm)
	sqliteRowWritten: 1.0 / 1e6, // SQLite-backed Durable Objects: $1.00 per million rows written
	sqliteRowRead: 0.001 / 1e6, // … $0.001 per million rows read
	r2ClassA: 4.5 / 1e6, // R2: $4.50 per million Class A operations (put, list)
	r2ClassB: 0.36 / 1e6, // R2: $0.36 per million Class B operations (get, head); deletes are free
	r2GbMonth: 0.015, // R2: $0.015 per GB-month stored
	queueOperation: 0.4 / 1e6, // Queues: $0.40 per million operations (write, read, delete, each per 64 KB)
	containerVcpuSecond: 0.00002, // Containers: $0.000020 per vCPU-second (active CPU)
	containerGibSecond: 0.0000025, // Containers: $0.0000025 per GiB-second of memory
	analyticsDataPoint: 0.25 / 1e6, // Workers Analytics Engine: $0.25 per million data points written
	imagesTransformation: 0.5 / 1000, // Cloudflare Images: $0.50 per 1,000 unique transformations
};

/** `image` (a JPEG) with a comment segment after SOI: other bytes (no thumbnail reuse), the same pixels. */
export function uniqueJpeg(image, tag) {
	const text = Buffer.from(`edge-thumbnails ${tag}`);
	const marker = Buffer.alloc(4);
	marker.writeUInt16BE(0xfffe, 0);
	marker.writeUInt16BE(text.length + 2, 2);
	return Buffer.concat([image.subarray(0, 2), marker, text, image.subarray(2)]);
}

const admin = (baseUrl, adminToken, method) =>
	fetch(`${baseUrl}/admin/meter`, { method, headers: { Authorization: `Bearer ${adminToken}` } });

async function snapshot(baseUrl, adminToken) {
	const res = await admin(baseUrl, adminToken, "GET");
	if (res.status !== 200) throw new Error(`GET /admin/meter answered ${res.status}: is METER_OPS "1"?`);
	return (await res.json()).ops;
}

/** The counts once background work (listing reports, releases) has stopped adding to them. */
async function settled(baseUrl, adminToken) {
	let before = await snapshot(baseUrl, adminToken);
	for (let i = 0; i < 50; i++) {
		await new Promise((r) => setTimeout(r, 200));
		const now = await snapshot(baseUrl, adminToken);
		if (JSON.stringify(now) === JSON.stringify(before)) return now;
		before = now;
	}
	throw new Error("the operation counts kept moving");
}

/** One upload taken to done (`POST /jobs?wait=`), and its thumbnail fetched once; returns the job. */
export async function uploadWithWaitAndFetch(baseUrl, apiKey, bytes) {
	const res = await fetch(`${baseUrl}/jobs?wait=30`, {
		method: "POST",
		body: bytes,
		headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "image/jpeg" },
	});
	const job = await res.json();
	if (res.status !== 201 || job.status !== "done") throw new Error(`upload answered ${res.status}: ${JSON.stringify(job)}`);
	return fetchThumbnailOf(baseUrl, job);
}

/** The finished `job`'s thumbnail, fetched once; the job and the thumbnail's size. */
async function fetchThumbnailOf(baseUrl, job) {
	const thumb = await fetch(`${baseUrl}/thumbnails/${job.slug}.webp`);
	if (thumb.status !== 200) throw new Error(`thumbnail answered ${thumb.status}`);
	return { job, thumbnailBytes: (await thumb.arrayBuffer()).byteLength };
}

/**
 * The same through the tus server (/uploads), as tus-js-client sends a file that fits one chunk:
 * the creation, one PATCH with every byte, then the job waited for (GET /jobs/<id>?wait=).
 */
export async function uploadViaTusAndFetch(baseUrl, apiKey, bytes) {
	const headers = { Authorization: `Bearer ${apiKey}`, "Tus-Resumable": "1.0.0" };
	const created = await fetch(`${baseUrl}/uploads`, {
		method: "POST",
		headers: { ...headers, "Upload-Length": String(bytes.length) },
	});
	if (created.status !== 201) throw new Error(`POST /uploads answered ${created.status}: ${await created.text()}`);
	const { id } = await created.json();
	const patched = await fetch(`${baseUrl}/uploads/${id}`, {
		method: "PATCH",
		body: bytes,
		headers: { ...headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
	});
	if (patched.status !== 204) throw new Error(`PATCH answered ${patched.status}: ${await patched.text()}`);
	let job;
	do job = await (await fetch(`${baseUrl}/jobs/${id}?wait=30`, { headers })).json();
	while (job.status !== "done" && job.status !== "failed");
	if (job.status !== "done") throw new Error(`the tus upload's job failed: ${JSON.stringify(job)}`);
	return fetchThumbnailOf(baseUrl, job);
}

/**
 * The operations each of `n` runs of `run(i)` costs, counted from a zeroed meter once the work
 * before has stopped adding to it, until their own has; and the mean of the byte counts `run`
 * resolves to.
 */
async function meterEach({ baseUrl, adminToken }, n, run) {
	await settled(baseUrl, adminToken);
	const reset = await admin(baseUrl, adminToken, "DELETE");
	if (reset.status !== 204) throw new Error(`DELETE /admin/meter answered ${reset.status}`);
	let bytes = 0;
	for (let i = 0; i < n; i++) bytes += await run(i);
	const totals = await settled(baseUrl, adminToken);
	return { per: Object.fromEntries(Object.entries(totals).map(([op, total]) => [op, total / n])), bytes: bytes / n };
}

/**
 * Counts what `n` uploads of `image` (each made distinct, or all the same with `same`) cost,
 * one after another after a warm-up upload, by POST /jobs?wait (or, with `tus`, through /uploads);
 * returns the counts per upload.
 */
export async function meterUploads({ baseUrl, adminToken, apiKey, image, n, same = false, tus = false }) {
	const bytes = (i) => (same ? image : uniqueJpeg(image, `${Date.now()}-${i}`));
	const uploadAndFetch = tus ? uploadViaTusAndFetch : uploadWithWaitAndFetch;
	await uploadAndFetch(baseUrl, apiKey, bytes("warm-up")); // the key is checked, the first of `same` made
	const { per, bytes: thumbnailBytes } = await meterEach(
		{ baseUrl, adminToken },
		n,
		async (i) => (await uploadAndFetch(baseUrl, apiKey, bytes(i))).thumbnailBytes,
	);
	return { perUpload: per, originalBytes: bytes(0).length, thumbnailBytes };
}

/**
 * Counts what a rendition made on its first request costs: one upload taken to done (not counted),
 * then each of `renditions` (`avif@1x`, …: none of the job's eager set) fetched once, each its first
 * request; returns the counts per rendition and its mean bytes.
 */
export async function meterRenditions({ baseUrl, adminToken, apiKey, image, renditions }) {
	const { job } = await uploadWithWaitAndFetch(baseUrl, apiKey, uniqueJpeg(image, `renditions-${Date.now()}`));
	const { per, bytes } = await meterEach({ baseUrl, adminToken }, renditions.length, async (i) => {
		const [format, density] = renditions[i].split("@");
		const res = await fetch(job.renditions[format][density]);
		if (res.status !== 200) throw new Error(`${renditions[i]} answered ${res.status}`);
		return (await res.arrayBuffer()).byteLength;
	});
	return { perRendition: per, renditionBytes: bytes };
}

const sum = (ops, predicate) => Object.entries(ops).reduce((s, [op, n]) => (predicate(op) ? s + n : s), 0);

/**
 * The bill for a million thumbnails, line by line, from counts per upload and what the
 * Thumbor container spent on each (CPU-seconds, and GiB-seconds of memory held).
 */
export function costPerMillion(perUpload, { thumborCpuSeconds, thumborGibSeconds, originalBytes, thumbnailBytes }) {
	const M = 1e6;
	const gb = (bytes) => (bytes * M) / 1e9;
	const line = (item, perThumbnail, price, unit) => ({
		item,
		"per thumbnail": +perThumbnail.toFixed(4),
		unit,
		"USD per million": +(perThumbnail * price * M).toFixed(2),
	});
	const rows = [
		line(
			"Workers requests",
			sum(perUpload, (op) => op.startsWith("worker ")),
			PRICES.workerRequest,
			"requests",
		),
		line(
			"Durable Object requests",
			sum(perUpload, (op) => op.startsWith("do ")),
			PRICES.doRequest,
			"requests",
		),
		line("SQLite rows written", perUpload["sqlite rows written"] ?? 0, PRICES.sqliteRowWritten, "rows"),
		line("SQLite rows read", perUpload["sqlite rows read"] ?? 0, PRICES.sqliteRowRead, "rows"),
		line(
			"R2 Class A",
			sum(perUpload, (op) => op.startsWith("r2 A ")),
			PRICES.r2ClassA,
			"operations",
		),
		line(
			"R2 Class B",
			sum(perUpload, (op) => op.startsWith("r2 B ")),
			PRICES.r2ClassB,
			"operations",
		),
		line(
			"Queue operations",
			sum(perUpload, (op) => /^queue (write|read|ack)$/.test(op)),
			PRICES.queueOperation,
			"operations",
		),
		line("Analytics Engine data points", perUpload["analytics write"] ?? 0, PRICES.analyticsDataPoint, "data points"),
		line("Thumbor container CPU", thumborCpuSeconds, PRICES.containerVcpuSecond, "vCPU-seconds"),
		line("Thumbor container memory", thumborGibSeconds, PRICES.containerGibSecond, "GiB-seconds"),
	];
	const total = rows.reduce((s, r) => s + r["USD per million"], 0);
	const storage = {
		originals: (gb(originalBytes) * PRICES.r2GbMonth).toFixed(2),
		thumbnails: (gb(thumbnailBytes) * PRICES.r2GbMonth).toFixed(3),
	};
	return { rows, total: +total.toFixed(2), storage, images: PRICES.imagesTransformation * M };
}
