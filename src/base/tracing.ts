/**
 * Spans of our own in Workers traces ([observability.traces] in wrangler.toml), made with the
 * runtime's tracing API (`tracing` from cloudflare:workers): they nest under the invocation's
 * root span and the platform's own (R2, Durable Objects, queues, fetch), and end when their work
 * settles. Attribute names follow OpenTelemetry's conventions where one exists; ours are
 * `job.*`, `owner.id`, `image.*`, `upload.trace_id` (docs/operations.md lists them).
 *
 * A job keeps the trace id of its upload (its `traceId`): it is written in the job's log
 * lines, set on every span about the job (so the consumer's run, in a trace of its own, is
 * found by it), sent to Thumbor as `traceparent`, and sent with webhook deliveries.
 */
import { tracing } from "cloudflare:workers";
import { hex } from "./crypto";

export type SpanAttributes = Record<string, string | number | boolean | undefined | null>;

const ZERO_TRACE = /^0+$/;

/** Drops attributes without a value (the API takes strings, numbers and booleans only). */
function defined(attributes: SpanAttributes): Record<string, string | number | boolean> {
	const kept: Record<string, string | number | boolean> = {};
	for (const [key, value] of Object.entries(attributes)) if (value !== undefined && value !== null) kept[key] = value;
	return kept;
}

/**
 * Runs `work` in a span named `name`, a child of the span active now, with `attributes`. A
 * thrown error is recorded on the span (and its status set to error) before it goes on.
 */
export function inSpan<T>(name: string, attributes: SpanAttributes, work: (span: Span) => Promise<T>): Promise<T> {
	return tracing.enterSpan(name, async (span) => {
		span.setAttributes(defined(attributes));
		try {
			return await work(span);
		} catch (err) {
			span.recordException(err instanceof Error ? err : String(err));
			span.setStatus({ code: "error", message: err instanceof Error ? err.message : String(err) });
			throw err;
		}
	});
}

/** Sets attributes on the span active now (the invocation's root span outside any of ours). */
export function annotate(attributes: SpanAttributes): void {
	tracing.getActiveSpan()?.setAttributes(defined(attributes));
}

const randomHex = (bytes: number) => hex(crypto.getRandomValues(new Uint8Array(bytes)));

/**
 * The id of the trace this invocation is part of (32 lowercase hex digits). Where the runtime
 * does not trace it (sampled out, or not traced at all), a fresh random id in the same format:
 * the job's log lines, Thumbor's log and webhook deliveries still share it.
 */
export function currentTraceId(): string {
	const id = tracing.getActiveSpan()?.spanContext().traceId;
	return id && !ZERO_TRACE.test(id) ? id : randomHex(16);
}

/** A W3C `traceparent` for a request made now in trace `traceId`, its parent the span active now. */
export function traceparent(traceId: string): string {
	const context = tracing.getActiveSpan()?.spanContext();
	const spanId = context && !ZERO_TRACE.test(context.spanId) ? context.spanId : randomHex(8);
	const sampled = context?.traceId === traceId && (context.traceFlags & 1) === 1;
	return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}
