/**
 * The upload page (GET /) in a real browser, Chromium driven by puppeteer-core,
 * against the real stack. A person's path: paste a key, pick images, watch the progress
 * bar (uploads throttled so it can be seen), see the thumbnail appear and a refused file's
 * reason. Screenshots of each state go to test-output/screenshots/.
 *
 * The browser is CHROMIUM_PATH, a Chromium on PATH, or else the one npm installs
 * (@sparticuz/chromium): these tests run on every machine, never skipped.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ROOT } from "../../scripts/stack.mjs";

/**
 * The browser to drive: CHROMIUM_PATH, else a Chromium on PATH, else the one npm brought
 * (@sparticuz/chromium, a headless build unpacked to /tmp on first use): every machine that ran
 * `npm install` has one, so these tests never skip for want of a browser.
 * @returns {Promise<{ executablePath: string, args: string[], headless: boolean | "shell", source: string }>}
 */
async function findChromium() {
	const system = { args: ["--no-sandbox", "--disable-gpu"], headless: true };
	if (process.env.CHROMIUM_PATH) return { ...system, executablePath: process.env.CHROMIUM_PATH, source: "CHROMIUM_PATH" };
	for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
		try {
			const found = execFileSync("which", [name], { encoding: "utf8" }).trim();
			if (found) return { ...system, executablePath: found, source: found };
		} catch {
			// not this one
		}
	}
	const { default: bundled } = await import("@sparticuz/chromium");
	return {
		executablePath: await bundled.executablePath(),
		args: await puppeteer.defaultArgs({ args: bundled.args, headless: "shell" }),
		headless: "shell",
		source: "@sparticuz/chromium",
	};
}

const base = inject("baseUrl");
const shots = join(ROOT, "test-output", "screenshots");
/** @type {import("puppeteer-core").Browser} */
let browser;
/** @type {import("puppeteer-core").Page} */
let page;

beforeAll(async () => {
	mkdirSync(shots, { recursive: true });
	const { executablePath, args, headless } = await findChromium();
	browser = await puppeteer.launch({ executablePath, headless, args });
	page = await browser.newPage();
	await page.setViewport({ width: 900, height: 1000 });
});
afterAll(async () => browser?.close());

const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

describe("the upload page, in Chromium", () => {
	it("uploads with a pasted key, shows real progress, then the thumbnail with its URL; a refused file says why", async () => {
		await page.goto(`${base}/`);
		await shot("1-empty");
		// Keyboard only: the key field is labelled and reachable.
		expect(await page.$eval("label[for=key]", (l) => l.textContent)).toContain("API key");
		await page.focus("#key");
		await page.keyboard.type(inject("apiKeys").a);
		await page.keyboard.press("Tab"); // leaving the field lists the key's jobs

		// Uploads slowed to ~20 KB/s, so the progress bar has time to move.
		const cdp = await page.createCDPSession();
		await cdp.send("Network.emulateNetworkConditions", {
			offline: false,
			latency: 0,
			downloadThroughput: -1,
			uploadThroughput: 20_000,
		});
		const notAnImage = join(mkdtempSync(join(tmpdir(), "thumbs-browser-")), "notes.txt");
		writeFileSync(notAnImage, "a shopping list, not an image\n");
		const input = await page.$("#files");
		await input.uploadFile(join(inject("fixtures"), "photo-640x480.jpg"), notAnImage);
		await page.waitForFunction(() => [...document.querySelectorAll("progress")].some((p) => p.value > 5 && p.value < 95), {
			timeout: 20_000,
		});
		await shot("2-uploading");
		await cdp.send("Network.emulateNetworkConditions", {
			offline: false,
			latency: 0,
			downloadThroughput: -1,
			uploadThroughput: -1,
		});

		await page.waitForFunction(
			() => [...document.querySelectorAll(".job img")].some((i) => i.complete && i.naturalWidth === 100),
			{ timeout: 30_000 },
		);
		const url = await page.$eval(".job .url", (a) => a.textContent ?? "");
		expect(url).toMatch(new RegExp(`^${base}/thumbnails/[0-9a-z]{26}\\.webp$`));
		expect(await page.$eval(".job .url", (a) => a.closest("li").textContent)).toMatch(/image\/jpeg, 58 KiB, 640x480/);
		expect(await page.$$eval("button", (bs) => bs.map((b) => b.textContent))).toContain("Copy URL");
		await page.waitForFunction(
			(want) => document.getElementById("recent").textContent.includes(want),
			{},
			url.split("/").pop().replace(".webp", ""),
		);
		await shot("3-done");
		// On a phone-sized screen nothing overflows sideways: the recent jobs become blocks of lines.
		await page.setViewport({ width: 420, height: 1000 });
		expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
		await shot("6-narrow");
		await page.setViewport({ width: 900, height: 1000 });

		const reason = await page.$eval(".reason", (e) => e.textContent ?? "");
		expect(reason).toContain("not a supported image");
		expect(await page.$eval(".reason", (e) => e.getAttribute("role"))).toBe("alert");
		// The refused file's row on its own.
		const failedRow = (await page.$(".reason").then((r) => r.evaluateHandle((e) => e.closest("li")))).asElement();
		await failedRow.screenshot({ path: join(shots, "4-failed.png") });
	});

	it("resumes an upload after a reload: the same file chosen again goes on from the server's offset", async () => {
		const photo = join(inject("fixtures"), "large-4000x3000.jpg");
		const offsets = [];
		page.on("request", (req) => {
			if (req.method() === "PATCH") offsets.push(Number(req.headers()["upload-offset"]));
		});
		await page.goto(`${base}/`);
		// Slowed to ~1 MB/s: the 6.4 MB photo is a quarter sent when the page is reloaded.
		const cdp = await page.createCDPSession();
		const throttle = (uploadThroughput) =>
			cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput });
		await throttle(1_000_000);
		await (await page.$("#files")).uploadFile(photo);
		await page.waitForFunction(() => document.querySelector("progress")?.value >= 25, { timeout: 30_000 });
		await page.reload();
		await throttle(-1);
		// The page remembers the unfinished upload, and says how to go on with it.
		await page.waitForSelector("#unfinished li");
		const unfinished = await page.$eval("#unfinished", (e) => e.textContent);
		expect(unfinished).toContain("large-4000x3000.jpg (6.1 MiB)");
		expect(unfinished).toContain("choose the same file again to resume");
		await shot("7-unfinished");
		await (await page.$("#files")).uploadFile(photo);
		await page.waitForFunction(() => document.querySelector(".job")?.textContent.includes("resumed at"), { timeout: 20_000 });
		const resumed = await page.$eval(".job", (e) => Number(/resumed at (\d+)%/.exec(e.textContent)[1]));
		expect(resumed).toBeGreaterThanOrEqual(20);
		await page.waitForFunction(
			() => [...document.querySelectorAll(".job img")].some((i) => i.complete && i.naturalWidth === 100),
			{ timeout: 60_000 },
		);
		// The second PATCH began where the first left off: nothing was sent from the start again.
		expect(offsets[0]).toBe(0);
		expect(offsets.length).toBeGreaterThanOrEqual(2);
		expect(offsets[1]).toBeGreaterThan(0);
		// Finished, it is no longer offered for resuming.
		await page.waitForFunction(() => !document.querySelector("#unfinished li"), { timeout: 5000 });
		await shot("8-resumed");
	});

	it("paints a finished job's placeholder at once, then the thumbnail over it as it loads", async () => {
		const complaints = [];
		const onConsole = (msg) => msg.type() === "error" && complaints.push(msg.text());
		page.on("console", onConsole);
		// Thumbnails are held back until the placeholder has been seen painted alone.
		const held = [];
		const hold = (req) =>
			req.isInterceptResolutionHandled() ? undefined : req.url().includes("/thumbnails/") ? held.push(req) : req.continue();
		await page.setRequestInterception(true);
		page.on("request", hold);
		try {
			await page.goto(`${base}/`);
			await (await page.$("#files")).uploadFile(join(inject("fixtures"), "photo-640x480.jpg"));
			await page.waitForFunction(() => document.querySelector(".job .paint img.placeholder")?.complete, { timeout: 30_000 });
			const alone = await page.$eval(".job .paint", (box) => ({
				background: box.style.backgroundColor,
				placeholder: box.querySelector("img.placeholder").naturalWidth,
				thumbnail: box.querySelector("img.thumbnail").naturalWidth,
			}));
			expect(alone.background).toMatch(/^rgb\(\d+, \d+, \d+\)$/);
			expect(alone.placeholder).toBeGreaterThan(10); // ThumbHash's picture: about 32 px across
			expect(alone.thumbnail).toBe(0);
			expect(held.length).toBeGreaterThan(0);
			await page.$eval(".job", (row) => row.scrollIntoView());
			await shot("9-placeholder");
			for (const req of held.splice(0)) req.continue();
			page.off("request", hold);
			await page.setRequestInterception(false);
			await page.waitForSelector(".job .paint img.thumbnail.loaded", { timeout: 10_000 });
			expect(await page.$eval(".job .paint img.thumbnail", (i) => i.naturalWidth)).toBe(100);
			// The recent jobs show theirs too.
			await page.waitForSelector("#recent .paint img.placeholder");
			await shot("10-painted");
			// Facts the origin read: size, depth, colour space.
			expect(await page.$eval(".job", (e) => e.textContent)).toMatch(/640x480 \(8-bit RGB\)/);
			expect(complaints).toEqual([]);
		} finally {
			page.off("request", hold);
			page.off("console", onConsole);
			for (const req of held) req.continue();
			await page.setRequestInterception(false);
		}
	});

	it("shows a thumbnail at the screen's density: at device scale 2 the browser picks the @2x AVIF from the srcset", async () => {
		await page.setViewport({ width: 900, height: 1000, deviceScaleFactor: 2 });
		try {
			await page.goto(`${base}/`);
			await (await page.$("#files")).uploadFile(join(inject("fixtures"), "subject-right-1200x600.png"));
			await page.waitForSelector(".job .paint img.thumbnail.loaded", { timeout: 30_000 });
			const shown = await page.$eval(".job .paint img.thumbnail", async (img) => {
				// naturalWidth divides by the srcset's density: the file's own pixels, read apart.
				const file = new Image();
				file.src = img.currentSrc;
				await file.decode();
				return { currentSrc: img.currentSrc, pixels: file.naturalWidth, width: img.getBoundingClientRect().width };
			});
			expect(shown.currentSrc).toMatch(/\/thumbnails\/[0-9a-z]{26}@2x\.avif$/);
			expect(shown.pixels).toBe(200);
			expect(shown.width).toBe(100); // drawn at 100 CSS pixels: one image pixel to each device pixel
			await page.$eval(".job", (row) => row.scrollIntoView());
			await shot("11-device-scale-2");
		} finally {
			await page.setViewport({ width: 900, height: 1000 });
		}
	});

	it("renders the API reference at /docs (Swagger UI) from this origin alone, and tries a request from it", async () => {
		const elsewhere = [];
		const refused = [];
		const complaints = [];
		page.on("request", (req) => {
			if (!req.url().startsWith(base) && !req.url().startsWith("data:")) elsewhere.push(req.url());
		});
		page.on("response", (res) => {
			if (res.status() >= 400) refused.push(`${res.status()} ${res.url()}`);
		});
		// A Content-Security-Policy refusal or a script error shows up here.
		page.on("console", (msg) => {
			if (msg.type() === "error") complaints.push(msg.text());
		});
		page.on("pageerror", (err) => complaints.push(String(err)));
		await page.setViewport({ width: 1200, height: 1000 });
		await page.goto(`${base}/docs`);
		await page.waitForSelector("#reference .opblock");
		const text = await page.$eval("#reference", (e) => e.textContent);
		for (const path of ["/jobs", "/jobs/{id}", "/thumbnails/{file}", "/webhooks/test"]) expect(text).toContain(path);

		// An operation opened, as a reader would: its Markdown is rendered (inline code is code, not backticks).
		await page.click("#operations-jobs-postJobs .opblock-summary-control");
		await page.waitForSelector("#operations-jobs-postJobs .parameters");
		expect(await page.$$eval("#operations-jobs-postJobs code", (codes) => codes.map((c) => c.textContent))).toContain("wait");
		expect(await page.$eval("#operations-jobs-postJobs", (e) => e.textContent.includes("`"))).toBe(false);
		await shot("5-docs");

		// Try it out: GET /health from the page, answered by this Worker.
		const health = "#operations-service-getHealth";
		await page.click(`${health} .opblock-summary-control`);
		await page.click(`${health} .try-out__btn`);
		await page.click(`${health} .execute`);
		await page.waitForSelector(`${health} .live-responses-table tbody .response-col_status`);
		expect(await page.$eval(`${health} .live-responses-table tbody .response-col_status`, (e) => e.textContent.trim())).toBe(
			"200",
		);

		expect(refused).toEqual([]);
		expect(elsewhere).toEqual([]);
		expect(complaints).toEqual([]);
	});
});
