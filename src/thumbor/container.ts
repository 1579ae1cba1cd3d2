import { DurableObject } from "cloudflare:workers";
import { settings } from "../config";

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

	/** Thumbor's answer to a GET of `path` (a signed Thumbor path), starting the container if needed. */
	async get(path: string): Promise<Response> {
		if (!this.ctx.container) {
			// A deployment without [[containers]]: every job waits (a passing fault) until it is fixed.
			console.error("ThumborContainer has no container: add [[containers]] to wrangler.toml");
			return new Response("ThumborContainer has no container", { status: 503 });
		}
		this.#starting ??= this.#start().finally(() => {
			this.#starting = undefined;
		});
		await this.#starting;
		return this.#container().getTcpPort(PORT).fetch(`http://thumbor${path}`);
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
				// Thumbor loads originals from this Worker's public /originals URLs.
				enableInternet: true,
				env: {
					THUMBOR_SECURITY_KEY: cfg.THUMBOR_SECURITY_KEY,
					THUMBOR_ALLOWED_SOURCES: new URL(cfg.ORIGINALS_BASE_URL).hostname,
					THUMBOR_MAX_PIXELS: String(cfg.MAX_PIXELS),
				},
			});
			await container.setInactivityTimeout(IDLE_TIMEOUT_MS);
		}
		// `running` means a start was requested, not that Thumbor listens yet.
		const port = container.getTcpPort(PORT);
		const deadline = Date.now() + READY_TIMEOUT_MS;
		while (Date.now() < deadline) {
			try {
				const res = await port.fetch("http://thumbor/healthcheck");
				await res.body?.cancel();
				if (res.ok) return;
			} catch {
				// not listening yet
			}
			await new Promise((r) => setTimeout(r, 250));
		}
		throw new Error(`Thumbor container not ready after ${READY_TIMEOUT_MS} ms`);
	}
}
