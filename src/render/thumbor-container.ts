import { DurableObject } from "cloudflare:workers";
import { settings } from "../base/config";
import { answersHealthCheck } from "./origins";

/** Thumbor's port inside the image (thumbor/Dockerfile). */
const PORT = 8888;
const READY_TIMEOUT_MS = 60_000;
const IDLE_TIMEOUT_MS = 10 * 60_000;

/**
 * Thumbor in a Cloudflare Container: where the origin runs in production when
 * THUMBOR_URL is empty. Each instance is one container built from thumbor/;
 * the consumer spreads jobs over THUMBOR_INSTANCES of them.
 */
export class ThumborContainer extends DurableObject<Env> {
	#starting: Promise<void> | undefined;

	/**
	 * Thumbor's answer to a POST of `original` to `path` (a signed Thumbor path) with `headers`,
	 * starting the container if needed.
	 */
	async render(path: string, original: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
		if (!this.ctx.container) {
			// A deployment without [[containers]]: every job waits (a passing fault) until it is fixed.
			console.error("ThumborContainer has no container: add [[containers]] to wrangler.toml");
			await original.cancel();
			return new Response("ThumborContainer has no container", { status: 503 });
		}
		await this.#ready();
		return this.#container().getTcpPort(PORT).fetch(`http://thumbor${path}`, { method: "POST", body: original, headers });
	}

	/** Whether this instance's Thumbor answers its health check at once (false when it is not running). */
	async healthy(): Promise<boolean> {
		return !!this.ctx.container?.running && (await this.#answers());
	}

	/** Whether this instance's Thumbor answers its health check (answersHealthCheck). */
	#answers(): Promise<boolean> {
		const port = this.#container().getTcpPort(PORT);
		return answersHealthCheck((url, init) => port.fetch(url, init), "http://thumbor");
	}

	#ready(): Promise<void> {
		this.#starting ??= this.#start().finally(() => {
			this.#starting = undefined;
		});
		return this.#starting;
	}

	#container(): Container {
		const container = this.ctx.container;
		if (!container) throw new Error("ThumborContainer has no container: add [[containers]] to wrangler.toml");
		return container;
	}

	async #start(): Promise<void> {
		const container = this.#container();
		if (!container.running) {
			const cfg = settings(this.env);
			container.start({
				// Every original comes in the request (thumbor/pushed_original.py): Thumbor fetches nothing.
				enableInternet: false,
				env: {
					THUMBOR_SECURITY_KEY: cfg.THUMBOR_SECURITY_KEY,
					THUMBOR_MAX_PIXELS: String(cfg.MAX_PIXELS),
					THUMBOR_MAX_DECODED_BYTES: String(cfg.MAX_DECODED_BYTES),
				},
			});
			await container.setInactivityTimeout(IDLE_TIMEOUT_MS);
		}
		// `running` means a start was requested, not that Thumbor listens yet.
		const deadline = Date.now() + READY_TIMEOUT_MS;
		while (Date.now() < deadline) {
			if (await this.#answers()) return;
			await new Promise((r) => setTimeout(r, 250));
		}
		throw new Error(`Thumbor container not ready after ${READY_TIMEOUT_MS} ms`);
	}
}
