// Starts and stops the pieces of the local stack: the Thumbor venv and server,
// and `wrangler dev`. Shared by `npm run dev`, the end-to-end tests and the benchmark.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const VENV = process.env.THUMBOR_VENV ?? join(ROOT, ".venv");
const REQUIREMENTS = join(ROOT, "thumbor", "requirements.txt");
/** requirements.txt and the origin's test tools (pytest): the local venv serves both. */
const DEV_REQUIREMENTS = join(ROOT, "thumbor", "requirements-dev.txt");
const STAMP = join(VENV, ".requirements.sha256");

/** Environment for wrangler: offline, no telemetry. */
export const WRANGLER_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

export const venvBin = (name) => join(VENV, "bin", name);

function findPython() {
	for (const candidate of [process.env.PYTHON, "python3", "python"].filter(Boolean)) {
		const probe = spawnSync(candidate, ["-c", "import sys; print(sys.version_info >= (3, 10))"], { encoding: "utf8" });
		if (probe.status === 0 && probe.stdout.trim() === "True") return candidate;
	}
	throw new Error("Python 3.10 or newer is needed for the local Thumbor (set PYTHON to its path)");
}

/**
 * Writes `<dir>/<ours|stock>.conf`: thumbor.conf reading images from `dir` with Thumbor's file
 * loader and unsigned URLs, for measuring and comparing. `stock` drops our engine, detector and
 * POST route (a `smart` crop is then the centre), the reference our origin is held to. Returns its path.
 */
export function fileLoaderConf(dir, { stock = false } = {}) {
	let text = readFileSync(join(ROOT, "thumbor", "thumbor.conf"), "utf8");
	if (stock) text = text.replace(/^(ENGINE|HANDLER_LISTS) = .*$/gm, "").replace(/^DETECTORS = .*$/m, "DETECTORS = []");
	const file = join(dir, stock ? "stock.conf" : "ours.conf");
	writeFileSync(
		file,
		`${text}\nLOADER = "thumbor.loaders.file_loader"\nFILE_LOADER_ROOT_PATH = ${JSON.stringify(dir)}\nALLOW_UNSAFE_URL = True\n`,
	);
	return file;
}

/** Makes `.venv` from thumbor/requirements-dev.txt (requirements.txt and pytest), once; again only when either changes. */
export function ensureThumborVenv(log = console.log) {
	const wanted = createHash("sha256").update(readFileSync(REQUIREMENTS)).update(readFileSync(DEV_REQUIREMENTS)).digest("hex");
	if (existsSync(STAMP) && readFileSync(STAMP, "utf8") === wanted && existsSync(venvBin("thumbor"))) return;
	log(`setting up the Thumbor venv in ${VENV} (first run only)…`);
	const run = (cmd, args) => {
		const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
		if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed with status ${r.status}`);
	};
	if (!existsSync(venvBin("python"))) {
		try {
			run(findPython(), ["-m", "venv", VENV]);
		} catch (err) {
			throw new Error(`${err.message}\nPython's venv module is missing? On Debian or Ubuntu: apt install python3-venv`);
		}
	}
	run(venvBin("python"), ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", DEV_REQUIREMENTS]);
	writeFileSync(STAMP, wanted);
}

/**
 * A new throwaway directory for a stack's state: in memory where the machine has a RAM disk.
 * wrangler dev's local R2 and Durable Objects sync every write to disk, which here took more
 * of their time than the work itself (npm run bench: 28 ms of workerd CPU per job in /dev/shm,
 * 43 ms on disk); a throwaway state need not survive a crash.
 */
export function scratchDir(prefix) {
	return mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), prefix));
}

export const randomKey = () => randomBytes(32).toString("base64url");

const SECRET_NAMES = ["THUMBOR_SECURITY_KEY", "CURSOR_SIGNING_KEY", "KEY_CHECKSUM_SECRET", "ADMIN_TOKEN"];

/**
 * Makes sure the dotenv file at `path` (mode 600) holds every secret the Worker and
 * Thumbor need, generating the missing ones (all of them for a new file); returns them all.
 */
export function ensureSecrets(path, comment = "") {
	const have = existsSync(path) ? readEnvFile(path) : {};
	const missing = SECRET_NAMES.filter((name) => !have[name]);
	if (missing.length > 0) {
		const lines = missing.map((name) => `${name}="${randomKey()}"`);
		const head = existsSync(path) ? "" : comment ? `# ${comment}\n` : "";
		appendFileSync(path, `${head}${lines.join("\n")}\n`, { mode: 0o600 });
	}
	return { secrets: readEnvFile(path), added: missing };
}

/** Writes the generated test images (test/fixtures/make_images.py, make_big_images.py) into `dir`, with the venv's Pillow. */
export function makeTestImages(dir) {
	ensureThumborVenv();
	for (const script of ["make_images.py", "make_big_images.py"]) {
		const made = spawnSync(venvBin("python"), [join(ROOT, "test", "fixtures", script), dir], { encoding: "utf8" });
		if (made.status !== 0) throw new Error(`making test images failed (${script}):\n${made.stderr}`);
	}
}

/**
 * The origin benchmarks' images in `dir`: the test corpus, and camera-like photos beside it
 * (test/fixtures/make_camera_images.py: 12 MP JPEG and HEICs, a 1080p PNG).
 */
export function makeBenchImages(dir) {
	makeTestImages(dir);
	const made = spawnSync(venvBin("python"), [join(ROOT, "test", "fixtures", "make_camera_images.py"), dir], { encoding: "utf8" });
	if (made.status !== 0) throw new Error(`making the camera images failed:\n${made.stderr}`);
}

/** `n` distinct ports the OS reports free on 127.0.0.1 right now. */
export async function freePorts(n) {
	const ports = new Set();
	while (ports.size < n) ports.add(await freePort());
	return [...ports];
}

/**
 * A port free on 127.0.0.1 right now, drawn at random from 20000-32767 rather than asked of
 * the OS: the OS hands a port it has just taken back to the next asker, so two stacks starting
 * side by side (the e2e files run in parallel) could be given the same one. The range lies
 * below Linux's ephemeral ports, which outgoing connections take.
 */
export async function freePort() {
	for (;;) {
		const port = 20_000 + Math.floor(Math.random() * 12_768);
		const free = await new Promise((resolve) => {
			const server = createServer();
			server.unref();
			server.once("error", () => resolve(false));
			server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
		});
		if (free) return port;
	}
}

const launched = new Set();
// Last resort: a process group this process started never outlives it.
process.on("exit", () => {
	for (const child of launched) {
		try {
			process.kill(-child.pid, "SIGKILL");
		} catch {
			// already gone
		}
	}
});

/** Stops every process this process launched. */
export const stopLaunched = () => Promise.all([...launched].map((child) => stop(child)));

/**
 * Spawns a process in its own process group, so that stop() reaches its children too.
 * Its output goes to `logTo` ("inherit", or a function given each chunk) and, with `logFile`, is appended there.
 */
function launch(name, command, args, { env = {}, logTo, logFile } = {}) {
	const child = spawn(command, args, {
		cwd: ROOT,
		env: { ...process.env, ...env },
		detached: true,
		stdio: logTo === "inherit" ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"],
	});
	launched.add(child);
	child.once("exit", () => launched.delete(child));
	child.label = name;
	child.output = "";
	const keep = (chunk) => {
		child.output = (child.output + chunk).slice(-20_000);
		if (typeof logTo === "function") logTo(String(chunk));
		if (logFile) appendFileSync(logFile, chunk);
	};
	child.stdout?.on("data", keep);
	child.stderr?.on("data", keep);
	return child;
}

/**
 * Starts Thumbor from the venv on 127.0.0.1 with the project's thumbor.conf. The Worker pushes
 * originals to it; `allowedSources` (hostnames) lets GETs load by URL too, for measuring
 * Thumbor on its own (none by default, as in production).
 */
export function startThumbor({
	port,
	securityKey,
	allowedSources = "",
	logTo,
	logFile,
	env = {},
	conf = join(ROOT, "thumbor", "thumbor.conf"),
}) {
	return launch("thumbor", venvBin("thumbor"), ["--ip=127.0.0.1", `--port=${port}`, `--conf=${conf}`], {
		// thumbor.conf names our engine and log filter, which live beside it.
		env: {
			THUMBOR_SECURITY_KEY: securityKey,
			THUMBOR_ALLOWED_SOURCES: allowedSources,
			PYTHONPATH: join(ROOT, "thumbor"),
			...env,
		},
		logTo,
		logFile,
	});
}

/**
 * Starts `wrangler dev` on 127.0.0.1 with the given vars (secrets included) and state dir;
 * `config`: another Worker's wrangler.toml.
 */
export function startWrangler({ port, inspectorPort, vars = {}, envFile, persistTo, logTo, logFile, config }) {
	const args = [
		join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"),
		"dev",
		...(config ? [`--config=${config}`] : []),
		"--ip=127.0.0.1",
		`--port=${port}`,
		`--inspector-port=${inspectorPort}`,
		"--show-interactive-dev-session=false",
		...(persistTo ? [`--persist-to=${persistTo}`] : []),
		...(envFile ? [`--env-file=${envFile}`] : []),
		...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
	];
	return launch("wrangler", process.execPath, args, { env: WRANGLER_ENV, logTo, logFile });
}

/**
 * Resolves once `url` answers 2xx (and `accept(body)` agrees); rejects if `child` exits first
 * (or is killed), or at once with the message `refuse(body)` gives for an answer that waiting
 * will not change.
 */
export async function waitForHttp(url, { child, timeoutMs = 120_000, accept = () => true, refuse = () => null } = {}) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (child && (child.exitCode !== null || child.signalCode !== null)) {
			throw new Error(
				`${child.label} exited with ${child.exitCode ?? child.signalCode} before ${url} answered:\n${child.output}`,
			);
		}
		let body = null;
		let ok = false;
		try {
			const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
			ok = res.ok;
			body = await res.text();
		} catch {
			// not up yet
		}
		if (body !== null) {
			const refused = refuse(body);
			if (refused) throw new Error(refused);
			if (ok && accept(body)) return;
		}
		await new Promise((r) => setTimeout(r, 250));
	}
	throw new Error(`${url} did not answer within ${timeoutMs} ms${child ? `:\n${child.output}` : ""}`);
}

/** Stops a launched process and everything in its process group (by PID, never by name). */
export async function stop(child, timeoutMs = 5000) {
	if (!child || child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise((resolve) => child.once("exit", resolve));
	const signal = (sig) => {
		try {
			process.kill(-child.pid, sig);
		} catch {
			// already gone
		}
	};
	signal("SIGTERM");
	const timer = setTimeout(() => signal("SIGKILL"), timeoutMs);
	await exited;
	clearTimeout(timer);
	signal("SIGKILL"); // stragglers left in the group
}

/** Parses a dotenv-style file (KEY="value" lines). */
export function readEnvFile(path) {
	const out = {};
	for (const line of readFileSync(path, "utf8").split("\n")) {
		const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"?(.*?)"?\s*$/.exec(line);
		if (m) out[m[1]] = m[2];
	}
	return out;
}

/** What GET /health says of Thumbor, or null for an answer that is not the health check's. */
function thumborState(body) {
	try {
		return JSON.parse(body).thumbor ?? null;
	} catch {
		return null;
	}
}

/**
 * Brings up Thumbor then the Worker, each on its own port, and resolves once the
 * Worker reports Thumbor reachable. `envFile` holds the secrets (the Thumbor key
 * is shared by both). With `thumborUrl`, an already running Thumbor (say, from
 * docker compose) is used instead of the venv. `logDir` keeps each process's output
 * in `<logDir>/<name>.log`. `stopAll()` tears down what was started.
 */
export async function startStack({
	workerPort,
	thumborPort,
	thumborUrl,
	envFile,
	persistTo,
	logTo,
	logDir,
	vars = {},
	thumborEnv = {},
}) {
	const logFile = (name) => (logDir ? join(logDir, `${name}.log`) : undefined);
	const secrets = readEnvFile(envFile);
	let thumbor;
	let worker;
	const stopAll = async () => Promise.all([stop(worker), stop(thumbor)]);
	try {
		if (!thumborUrl) {
			ensureThumborVenv();
			thumbor = startThumbor({
				port: thumborPort,
				securityKey: secrets.THUMBOR_SECURITY_KEY,
				logTo,
				logFile: logFile("thumbor"),
				env: thumborEnv,
			});
			thumborUrl = `http://127.0.0.1:${thumborPort}`;
		}
		await waitForHttp(`${thumborUrl}/healthcheck`, { child: thumbor });
		worker = startWrangler({
			port: workerPort,
			inspectorPort: await freePort(),
			envFile,
			persistTo,
			logTo,
			logFile: logFile("wrangler"),
			vars: {
				THUMBOR_URL: thumborUrl,
				PUBLIC_BASE_URL: `http://127.0.0.1:${workerPort}`,
				// Local stacks only: webhooks may go to plain-http receivers on this machine.
				WEBHOOK_DEV_HOSTS: "127.0.0.1",
				...vars,
			},
		});
		await waitForHttp(`http://127.0.0.1:${workerPort}/health`, {
			child: worker,
			accept: (body) => thumborState(body) === "ok",
			// Waiting will not mend a key that does not match: say so once, now.
			refuse: (body) =>
				thumborState(body) === "misconfigured"
					? `Thumbor at ${thumborUrl} refuses our signature: it runs with another THUMBOR_SECURITY_KEY ` +
						`than ${envFile ?? "the Worker's"} (or without thumbor/thumbor.conf).`
					: null,
		});
	} catch (err) {
		await stopAll();
		throw err;
	}
	return { thumbor, worker, stopAll, baseUrl: `http://127.0.0.1:${workerPort}`, thumborUrl };
}

/**
 * A stack (startStack) kept in the throwaway directory `dir`: fresh secrets in secrets.env, state
 * in state/, logs in logs/, on free ports. Also returns Thumbor's key, the admin token, the log
 * directory and Thumbor's port.
 */
export async function startScratchStack(dir, { vars = {}, thumborEnv = {} } = {}) {
	const envFile = join(dir, "secrets.env");
	const { THUMBOR_SECURITY_KEY: thumborKey, ADMIN_TOKEN: adminToken } = ensureSecrets(envFile).secrets;
	const [workerPort, thumborPort] = await freePorts(2);
	const logDir = join(dir, "logs");
	mkdirSync(logDir, { recursive: true });
	const stack = await startStack({ workerPort, thumborPort, envFile, persistTo: join(dir, "state"), logDir, vars, thumborEnv });
	return { ...stack, thumborKey, adminToken, logDir, thumborPort };
}
