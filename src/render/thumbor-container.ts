/**
 * Thumbor in a Cloudflare Container, driven by Cloudflare's own library (`@cloudflare/containers`):
 * where the origin runs in production when THUMBOR_URL is empty. Each instance is one container
 * built from thumbor/; the consumer spreads jobs over THUMBOR_INSTANCES of them by job and
 * attempt (render/origins.ts), so a retry can land on another. The library starts the container
 * on first use, waits for Thumbor to answer, renews its idle time with every request and stops it
 * after `sleepAfter` without one.
 */
import { Container, type StopParams } from "@cloudflare/containers";
import { settings } from "../base/config";
import { answersHealthCheck } from "./origins";

/** Thumbor's port inside the image (thumbor/Dockerfile). */
export const THUMBOR_PORT = 8888;
/** How long a cold Thumbor (a 1/4 vCPU instance importing Pillow) may take to answer its health check. */
const READY_TIMEOUT_MS = 60_000;

export class ThumborContainer extends Container<Env> {
	override defaultPort = THUMBOR_PORT;
	override sleepAfter = "10m";
	// Every original comes in the request (thumbor/pushed_original.py): Thumbor fetches nothing.
	override enableInternet = false;
	// Ready when Thumbor answers its health check (the library polls this host and path).
	override pingEndpoint = "thumbor/healthcheck";
	// Its key and the limits it shares with the Worker (set once the base class has this.env).
	override envVars = containerEnv(this.env);

	/**
	 * Thumbor's answer to a POST of `original` to `path` (a signed Thumbor path) with `headers`,
	 * starting the container if needed. A container that cannot be started answers 503: a passing
	 * fault, which the job waits out.
	 */
	async render(path: string, original: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
		try {
			await this.startAndWaitForPorts({ ports: THUMBOR_PORT, cancellationOptions: { portReadyTimeoutMS: READY_TIMEOUT_MS } });
		} catch (err) {
			await original.cancel();
			return new Response(`the Thumbor container did not start: ${err instanceof Error ? err.message : String(err)}`, {
				status: 503,
			});
		}
		return this.containerFetch(`http://thumbor${path}`, { method: "POST", body: original, headers });
	}

	/** Whether this instance's Thumbor answers its health check at once (false when it is not running: never starts it). */
	async healthy(): Promise<boolean> {
		if (!this.ctx.container?.running) return false;
		const port = this.ctx.container.getTcpPort(THUMBOR_PORT);
		return answersHealthCheck((url, init) => port.fetch(url, init), "http://thumbor");
	}

	override onStart(): void {
		console.log(`thumbor container ${this.ctx.id} started`);
	}

	override onStop({ exitCode, reason }: StopParams): void {
		if (exitCode !== 0 && reason !== "runtime_signal")
			console.warn(`thumbor container ${this.ctx.id} stopped: ${reason}, exit ${exitCode}`);
	}

	override onError(error: unknown): never {
		console.error(`thumbor container ${this.ctx.id}:`, error);
		throw error;
	}
}

/** What a Thumbor container is started with: its key and the limits it shares with the Worker. */
export function containerEnv(env: Env): Record<string, string> {
	const cfg = settings(env);
	return {
		THUMBOR_SECURITY_KEY: cfg.THUMBOR_SECURITY_KEY,
		THUMBOR_MAX_PIXELS: String(cfg.MAX_PIXELS),
		THUMBOR_MAX_DECODED_BYTES: String(cfg.MAX_DECODED_BYTES),
	};
}
