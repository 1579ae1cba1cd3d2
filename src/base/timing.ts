/**
 * How long each step of one request or one job took: a span of its own in the trace
 * (`<area>.<step>`, base/tracing.ts), a `Server-Timing` header for the client (and `npm run
 * bench`), and `<step>Ms` fields for a job's log line. In Workers the clock moves only across
 * I/O, which is what the steps are.
 */
import { createMiddleware } from "hono/factory";
import { inSpan, type SpanAttributes } from "./tracing";

/** The timed steps of one request or one job attempt. */
export class Steps {
	readonly #spans: { name: string; ms: number }[] = [];
	/** Set on every step's span from the time they are given (tag). */
	readonly #attributes: SpanAttributes = {};

	/** `area` names the steps' spans: `request.store`, `render.thumbor`. */
	constructor(private readonly area: string) {}

	/** Attributes for the spans of the steps that follow (the job's id once it has one, say). */
	tag(attributes: SpanAttributes): void {
		Object.assign(this.#attributes, attributes);
	}

	/**
	 * Runs `work` as step `name`, in a span of its own (a step run twice adds up). Steps are listed
	 * in the order they started: two that run side by side keep their order.
	 */
	time<T>(name: string, work: () => T): Promise<Awaited<T>> {
		const span = this.#spans.find((s) => s.name === name) ?? { name, ms: 0 };
		if (!this.#spans.includes(span)) this.#spans.push(span);
		return inSpan(`${this.area}.${name}`, this.#attributes, async (): Promise<Awaited<T>> => {
			const started = performance.now();
			try {
				return await work();
			} finally {
				span.ms += performance.now() - started;
			}
		});
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
	const steps = new Steps("request");
	c.set("steps", steps);
	await next();
	const header = steps.header();
	if (header) c.res.headers.set("Server-Timing", header);
});
