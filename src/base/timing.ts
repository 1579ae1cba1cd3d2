/**
 * How long each step of one request or one job took: a `Server-Timing` header for
 * the client (and `npm run bench`), and `<step>Ms` fields for a job's log line.
 * In Workers the clock moves only across I/O, which is what the steps are.
 */
import { createMiddleware } from "hono/factory";

/** The timed steps of one request or one job attempt. */
export class Steps {
	readonly #spans: { name: string; ms: number }[] = [];

	/** Runs `work` as step `name` (a step run twice adds up). */
	async time<T>(name: string, work: () => T): Promise<Awaited<T>> {
		const started = performance.now();
		try {
			return await work();
		} finally {
			this.#add(name, performance.now() - started);
		}
	}

	#add(name: string, ms: number): void {
		const span = this.#spans.find((s) => s.name === name);
		if (span) span.ms += ms;
		else this.#spans.push({ name, ms });
	}

	/** RFC Server-Timing: `admit;dur=1.2, store;dur=3.4`. */
	header(): string {
		return this.#spans.map(({ name, ms }) => `${name};dur=${ms.toFixed(1)}`).join(", ");
	}

	/** `{ admitMs: 1, storeMs: 3 }`, whole milliseconds, for JSON log lines. */
	fields(): Record<string, number> {
		return Object.fromEntries(this.#spans.map(({ name, ms }) => [`${name}Ms`, Math.round(ms)]));
	}
}

/** Gives each request its `steps`, and answers with their Server-Timing (when any were timed). */
export const serverTiming = createMiddleware<{ Variables: { steps: Steps } }>(async (c, next) => {
	const steps = new Steps();
	c.set("steps", steps);
	await next();
	const header = steps.header();
	if (header) c.res.headers.set("Server-Timing", header);
});
