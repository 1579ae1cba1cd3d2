// Node-side helpers for the end-to-end tests: read the generated images, and
// decode a thumbnail with Pillow to see what it really is.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKey } from "../../scripts/keys.mjs";
import {
	fileLoaderConf,
	freePorts,
	ROOT,
	scratchDir,
	startScratchStack,
	startThumbor,
	stop,
	waitForHttp,
} from "../../scripts/stack.mjs";

export { freePorts };

/**
 * Throws when `text` (an answer a client sees: a job view, a webhook's record, /health) carries
 * what only an operator may see: a reference, an address and port, a filesystem path, an exception.
 */
export function expectNoInternals(text, { allowed = [] } = {}) {
	let scrubbed = text;
	for (const what of allowed) scrubbed = scrubbed.split(what).join("");
	const leaks = [
		/reference =/i,
		/\b(?:\d{1,3}\.){3}\d{1,3}\b/,
		// A host and port (a timestamp's "18:36" or JSON's "bytes":59886 is neither).
		/\blocalhost\b|[\w-]+(?:\.[\w-]+)*:\d{4,5}\b/,
		/\/(?:work|home|root|tmp|usr|dev\/shm)\//,
		/\b(?:TypeError|Error:|Traceback|at \S+ \()/,
		/Network connection lost|ECONNREFUSED|internal error/i,
	].filter((pattern) => pattern.test(scrubbed));
	if (leaks.length > 0) throw new Error(`internal detail in a client's answer (${leaks.join(", ")}): ${text}`);
}

/** @returns {Uint8Array} */
export const readFixture = (dir, name) => new Uint8Array(readFileSync(join(dir, name)));

/**
 * Runs test/fixtures/`script` with the venv's `python` and returns what it prints (JSON). Each of
 * `args` is passed as it is, or, given as bytes, written to a file of its own whose path is passed.
 */
function fixtureScript(python, script, args, env) {
	const dir = mkdtempSync(join(tmpdir(), "thumbs-fixture-"));
	try {
		const argv = args.map((arg, i) => {
			if (typeof arg === "string") return arg;
			const file = join(dir, String(i));
			writeFileSync(file, arg);
			return file;
		});
		const r = spawnSync(python, [join(ROOT, "test", "fixtures", script), ...argv], {
			encoding: "utf8",
			...(env && { env: { ...process.env, ...env } }),
		});
		if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
		return JSON.parse(r.stdout);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** Pillow's view of an image: { format, width, height, frames, top: [r,g,b], bottom: [r,g,b] }. */
export const inspectImage = (python, bytes) => fixtureScript(python, "inspect_image.py", [bytes]);

/** Stops the process group led by `pid` (the setup's Thumbor) and waits until `port` refuses connections. */
export async function killGroup(pid, port) {
	try {
		process.kill(-pid, "SIGTERM");
	} catch {
		// already gone
	}
	for (let i = 0; i < 100; i++) {
		try {
			await fetch(`http://127.0.0.1:${port}/healthcheck`, { signal: AbortSignal.timeout(500) });
		} catch {
			return;
		}
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new Error(`port ${port} still answers after stopping ${pid}`);
}

/** Starts another Thumbor on `port` and resolves once it answers; `stop()` ends it. */
export async function startThumborOn(port, securityKey, logFile) {
	const child = startThumbor({ port, securityKey, logFile });
	await waitForHttp(`http://127.0.0.1:${port}/healthcheck`, { child });
	return { stop: () => stop(child) };
}

/**
 * GET /health until Thumbor is `thumbor` there (its finding is cached for seconds: a change is
 * seen within HEALTH_OK_MS); resolves with the status and body, or rejects after `timeoutMs`.
 */
export async function healthUntil(baseUrl, thumbor, timeoutMs = 30_000) {
	const deadline = Date.now() + timeoutMs;
	let last = null;
	while (Date.now() < deadline) {
		const res = await fetch(`${baseUrl}/health`);
		last = { status: res.status, body: await res.json() };
		if (last.body.thumbor === thumbor) return last;
		await new Promise((r) => setTimeout(r, 200));
	}
	throw new Error(`/health did not say thumbor "${thumbor}" within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** What a log file of the stack's says so far (`thumbor` or `wrangler`). */
export const readLog = (logDir, name) => readFileSync(join(logDir, `${name}.log`), "utf8");

export const logFile = (logDir, name) => join(logDir, `${name}.log`);

/** Decodes fixture `name` through our engine's guard with `budgetSeconds` (test/fixtures/guarded_decode.py). */
export const decodeWithBudget = (python, fixturesDir, name, budgetSeconds) =>
	fixtureScript(python, "guarded_decode.py", [join(fixturesDir, name), String(budgetSeconds)], {
		PYTHONPATH: join(ROOT, "thumbor"),
	});

/**
 * Runs `npm run dev`'s script (scripts/dev.mjs) in its own process group on free ports,
 * with its own secrets file and state dir (in `dir`, kept across runs, else a new one),
 * and resolves once it says it is up.
 */
export async function startDev({ dir: given } = {}) {
	const dir = given ?? mkdtempSync(join(tmpdir(), "thumbs-dev-"));
	const [port, thumborPort] = await freePorts(2);
	const child = spawn(process.execPath, [join(ROOT, "scripts", "dev.mjs")], {
		cwd: ROOT,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
		env: {
			...process.env,
			PORT: String(port),
			THUMBOR_PORT: String(thumborPort),
			DEV_VARS_FILE: join(dir, ".dev.vars"),
			DEV_STATE_DIR: join(dir, "state"),
		},
	});
	let output = "";
	child.stdout.on("data", (d) => (output += d));
	child.stderr.on("data", (d) => (output += d));
	const exited = new Promise((resolve) => child.once("exit", resolve));
	const waitFor = async (pattern, timeoutMs = 120_000) => {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const m = pattern.exec(output);
			if (m) return m;
			if (child.exitCode !== null) throw new Error(`dev exited early:\n${output}`);
			if (Date.now() > deadline) throw new Error(`dev never printed ${pattern}:\n${output}`);
			await new Promise((r) => setTimeout(r, 100));
		}
	};
	const up = await waitFor(/Thumbor .*\(pid (\d+);/);
	return {
		baseUrl: `http://127.0.0.1:${port}`,
		dir,
		thumborPort,
		thumborPid: Number(up[1]),
		output: () => output,
		waitFor,
		/** Ctrl-C, as a person would; resolves with the exit code once everything is down. `keep`: leave its dir for another run. */
		async stop({ keep = false } = {}) {
			try {
				process.kill(-child.pid, "SIGINT");
			} catch {
				// already gone
			}
			const code = await exited;
			if (!keep) rmSync(dir, { recursive: true, force: true });
			return code;
		},
	};
}

/**
 * A webhook receiver on 127.0.0.1 that checks every request with the `standardwebhooks`
 * package (an independent implementation, which also refuses stale timestamps) and
 * answers `status` (changeable). `requests` lists what arrived: webhook-id, the event if
 * it verified, what was answered, and the request's traceparent.
 */
export async function startReceiver(secret) {
	const { Webhook } = await import("standardwebhooks");
	const verifier = new Webhook(secret);
	const receiver = { status: 200, requests: [], url: "" };
	const server = createServer((req, res) => {
		let body = "";
		req.on("data", (d) => (body += d));
		req.on("end", () => {
			let event = null;
			let error = null;
			try {
				event = verifier.verify(body, req.headers);
			} catch (err) {
				error = err.message;
			}
			const status = error ? 401 : receiver.status;
			const traceparent = req.headers.traceparent ?? null;
			receiver.requests.push({ id: req.headers["webhook-id"], at: Date.now(), event, error, status, traceparent });
			res.writeHead(status).end();
		});
	});
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	receiver.url = `http://127.0.0.1:${server.address().port}/hooks`;
	receiver.close = () => new Promise((resolve) => server.close(resolve));
	return receiver;
}

/**
 * A Thumbor and `wrangler dev` of a test's own (fresh secrets, state, ports and key), for a
 * test that must take Thumbor away without pulling it from under the other test files.
 */
export async function startOwnStack(vars = {}) {
	const dir = scratchDir("thumbs-own-");
	const stack = await startScratchStack(dir, { vars });
	const { thumborKey, adminToken, thumborPort, logDir } = stack;
	// A stack that came up but could not be given a key is stopped here: no caller holds it yet.
	const { key } = await createKey(stack.baseUrl, adminToken, { name: "e2e", ownerId: "e2e-own" }).catch(async (err) => {
		await stack.stopAll();
		rmSync(dir, { recursive: true, force: true });
		throw err;
	});
	let replacement;
	// Its answers are held to /openapi.json like the shared stack's (contract-setup.ts).
	globalThis.contractOrigins ??= new Set();
	globalThis.contractOrigins.add(stack.baseUrl);
	return {
		baseUrl: stack.baseUrl,
		apiKey: key,
		adminToken,
		thumborKey,
		logDir,
		/** Stops Thumbor (the first, or the one restartThumbor started) and waits until its port refuses connections. */
		async stopThumbor() {
			if (replacement) await replacement.stop();
			else await killGroup(stack.thumbor.pid, thumborPort);
		},
		/** Starts Thumbor again on the same port, with the Worker's key or `securityKey`. */
		async restartThumbor(securityKey = thumborKey) {
			replacement = await startThumborOn(thumborPort, securityKey, logFile(logDir, "thumbor"));
		},
		async stop() {
			await Promise.all([stack.stopAll(), replacement?.stop()]);
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

/**
 * An original beside its thumbnail, as a colour-managed viewer shows each (test/fixtures/colour_check.py):
 * their mean colours' CIE76 distance, the placeholder colour's from the thumbnail's, the thumbnail's RIFF chunks.
 */
export const colourCheck = (python, original, thumbnail, placeholderColour) =>
	fixtureScript(python, "colour_check.py", [original, thumbnail, ...(placeholderColour ? [placeholderColour] : [])]);

/**
 * What each of a job's renditions is, decoded (test/fixtures/renditions_check.py): format, size, mode,
 * a JPEG's chroma subsampling, the metadata it carries, and its framing against the first one's (and,
 * given the `original`, against its centred square).
 */
export const renditionsCheck = (python, images, original) =>
	fixtureScript(python, "renditions_check.py", [...(original ? ["--original", original] : []), ...images]);

/** Mean absolute difference per channel (0-255) between two images of one size. */
export const meanDifference = (python, a, b) => fixtureScript(python, "compare_thumbnail.py", [a, b]).mean;

/**
 * Stock Thumbor (the same venv and thumbor.conf, without our engine and detector: a `smart`
 * crop is then the centre) reading `dir` with its file loader, on a free port: the reference
 * our engine's output is held to.
 */
export async function startStockThumbor(dir) {
	const conf = fileLoaderConf(dir, { stock: true });
	const [port] = await freePorts(1);
	const child = startThumbor({ port, securityKey: "stock-reference-key-not-secret", conf });
	await waitForHttp(`http://127.0.0.1:${port}/healthcheck`, { child });
	return { url: `http://127.0.0.1:${port}`, stop: () => stop(child) };
}

/**
 * A POST /jobs (or `method` `path` with `headers`) written on a raw socket to `baseUrl` with
 * `apiKey`: `body` sent in `chunks` pieces `gapMs` apart under a Content-Length of `declared`, the
 * connection then held open. Resolves with the answer as read off the socket, and how long after
 * the last byte sent it came.
 */
export function rawUpload(
	baseUrl,
	apiKey,
	body,
	declared,
	{ chunks = 1, gapMs = 0, method = "POST", path = "/jobs", headers = {} } = {},
) {
	const { port } = new URL(baseUrl);
	return new Promise((resolve, reject) => {
		const socket = connect(Number(port), "127.0.0.1");
		let answer = "";
		let lastSent = Date.now();
		const timer = setTimeout(() => {
			socket.destroy();
			reject(new Error(`no whole answer within 60 s: ${JSON.stringify(answer)}`));
		}, 60_000);
		const settle = (whole) => {
			const split = answer.indexOf("\r\n\r\n");
			if (split === -1) return;
			const [statusLine, ...lines] = answer.slice(0, split).split("\r\n");
			const headers = Object.fromEntries(
				lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
			);
			const rest = answer.slice(split + 4);
			if (!whole && Buffer.byteLength(rest) < Number(headers["content-length"] ?? Number.POSITIVE_INFINITY)) return;
			clearTimeout(timer);
			socket.destroy();
			resolve({
				status: Number(statusLine.split(" ")[1]),
				type: headers["content-type"] ?? "",
				body: rest,
				ms: Date.now() - lastSent,
			});
		};
		socket.on("data", (d) => {
			answer += d;
			settle(false);
		});
		socket.on("close", () => settle(true));
		socket.on("error", () => {});
		socket.on("connect", async () => {
			const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
			socket.write(
				`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${apiKey}\r\n${extra.join("")}` +
					`Content-Length: ${declared}\r\n\r\n`,
			);
			const size = Math.ceil(body.length / chunks);
			for (let at = 0; at < body.length; at += size) {
				if (at > 0) await new Promise((r) => setTimeout(r, gapMs));
				socket.write(body.subarray(at, at + size));
				lastSent = Date.now();
			}
		});
	});
}

/**
 * A server on 127.0.0.1:`port` that takes connections and never answers: a Thumbor that
 * hangs. `close()` drops every connection and stops it.
 */
export async function startBlackHole(port) {
	const sockets = new Set();
	const server = createNetServer((socket) => {
		sockets.add(socket);
		socket.on("error", () => {});
		socket.on("close", () => sockets.delete(socket));
	});
	await new Promise((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
	return {
		close: () =>
			new Promise((resolve) => {
				for (const socket of sockets) socket.destroy();
				server.close(resolve);
			}),
	};
}

/**
 * A TCP proxy on a free loopback port in front of `targetUrl` that counts the bytes clients
 * send through it and, once `cutAfter` of them have gone through, cuts every connection (a
 * dropped network) and then lets new ones through. `sent()`: bytes sent so far, every request's
 * headers included.
 */
export async function startCuttingProxy(targetUrl, { cutAfter = Number.POSITIVE_INFINITY } = {}) {
	const target = new URL(targetUrl);
	const sockets = new Set();
	let sent = 0;
	let cut = false;
	const server = createNetServer((client) => {
		const upstream = connect(Number(target.port), target.hostname);
		for (const s of [client, upstream]) {
			sockets.add(s);
			s.on("error", () => {});
			s.on("close", () => {
				sockets.delete(s);
				client.destroy();
				upstream.destroy();
			});
		}
		client.on("data", (chunk) => {
			if (!cut && sent + chunk.length >= cutAfter) {
				// Let through what fits under the cut, then drop every connection.
				const fits = chunk.subarray(0, cutAfter - sent);
				sent += fits.length;
				cut = true;
				client.destroy();
				upstream.end(fits, () => upstream.destroy());
				return;
			}
			sent += chunk.length;
			upstream.write(chunk);
		});
		upstream.pipe(client);
	});
	await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${server.address().port}`,
		sent: () => sent,
		wasCut: () => cut,
		close: () =>
			new Promise((resolve) => {
				for (const s of sockets) s.destroy();
				server.close(resolve);
			}),
	};
}
