/**
 * One delivery attempt of a webhook event, and the retry schedule. `2xx` delivers it;
 * `410 Gone` means the receiver wants no more (stop for good); anything else, or no
 * answer within the timeout, is tried again later.
 */
import { jittered } from "../base/attempts";
import { count } from "../base/metering";
import { inSpan, type SpanAttributes, traceparent } from "../base/tracing";
import { webhookHeaders } from "./sign";

/** How long one attempt may take. */
export const WEBHOOK_TIMEOUT_MS = 5_000;

export interface AttemptOutcome {
	at: number;
	/** The receiver's HTTP status, if it answered. */
	status: number | null;
	/** Why there was no answer. */
	error: string | null;
	ms: number;
	result: "delivered" | "gone" | "retry";
}

/**
 * POSTs `body` (event `id`) to `url`, signed with `secrets`, in a `webhook.deliver` span. With
 * `trace` (the job's upload's trace id and the span's attributes), the request carries it as
 * `traceparent`: a receiver that traces finds the job's whole story under one id.
 */
export function attemptDelivery(
	url: string,
	secrets: readonly string[],
	id: string,
	body: string,
	trace: { traceId: string; attributes: SpanAttributes } | null = null,
): Promise<AttemptOutcome> {
	return inSpan("webhook.deliver", { "webhook.id": id, ...trace?.attributes }, async (span) => {
		const outcome = await post(url, secrets, id, body, trace ? { traceparent: traceparent(trace.traceId) } : {});
		span.setAttributes({
			"webhook.result": outcome.result,
			...(outcome.status !== null && { "http.response.status_code": outcome.status }),
		});
		return outcome;
	});
}

async function post(
	url: string,
	secrets: readonly string[],
	id: string,
	body: string,
	extraHeaders: Record<string, string>,
): Promise<AttemptOutcome> {
	const at = Date.now();
	count("fetch webhook");
	try {
		const res = await fetch(url, {
			method: "POST",
			body,
			headers: { ...(await webhookHeaders(secrets, id, body)), ...extraHeaders },
			signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
			redirect: "manual",
		});
		await res.body?.cancel();
		const result = res.status >= 200 && res.status < 300 ? "delivered" : res.status === 410 ? "gone" : "retry";
		return { at, status: res.status, error: null, ms: Date.now() - at, result };
	} catch (err) {
		// The owner sees what happened in words of its own; the runtime's text (which may name a
		// reference, a host or an address of ours) goes to the logs only.
		const timedOut = err instanceof Error && err.name === "TimeoutError";
		if (!timedOut) console.warn(`webhook ${id}: the POST to its receiver failed: ${String(err)}`);
		const error = timedOut
			? `no answer within ${WEBHOOK_TIMEOUT_MS} ms`
			: "no connection to the receiver (refused, reset or TLS)";
		return { at, status: null, error, ms: Date.now() - at, result: "retry" };
	}
}

/**
 * Milliseconds before the next attempt after `attempts` failed ones, from `schedule`
 * (seconds; ±20% jitter), or null when the schedule is used up.
 */
export function nextDeliveryDelayMs(attempts: number, schedule: readonly number[], random = Math.random): number | null {
	const seconds = schedule[attempts - 1];
	return seconds === undefined ? null : jittered(seconds, random);
}
