/**
 * Thumbor's side of the contract: how the original is sent (with the job's trace) and what
 * Thumbor's answers mean for a job. The signed path itself: render/thumbor-path.ts.
 */

import { AttemptError } from "../base/attempts";
import type { ImageDetails, JobErrorCode } from "../base/contracts";
import { parseImageDetails } from "../base/contracts";
import { type Rendition, renditionName, sideOf, typeOf } from "../base/renditions";
import { traceparent } from "../base/tracing";
import { readImageSize } from "../images/size";
import { sniffImageType } from "../images/sniff";
import { readWebpInfo } from "../images/webp";
import { type OriginAsk, parseFocus } from "./thumbor-path";

/** A Thumbor: a process at a URL, or one of our containers (render/origins.ts). */
export interface ThumborOrigin {
	/**
	 * Thumbor's answer to a POST of `original` to `path` (a signed Thumbor path), with `headers`
	 * (the trace's `traceparent`).
	 */
	render(
		path: string,
		original: ReadableStream<Uint8Array>,
		headers: Record<string, string>,
		signal: AbortSignal,
	): Promise<Response>;
	/** Whether Thumbor answers its health check at once (it is up and not swamped). */
	healthy(): Promise<boolean>;
}

/** One output of an answer: a rendition's bytes, checked to be what was asked. */
export interface Output {
	rendition: Rendition;
	bytes: Uint8Array;
}

export interface Rendered {
	/** The renditions asked for, in the ask's order, but for any the origin left out (splitOutputs). */
	outputs: Output[];
	/** What our engine said of the image beside it (thumbor/placeholder.py): none from a stock Thumbor. */
	details: ImageDetails;
	/** Where the crop was centred (thumbor-path.ts, FOCUS); null from a stock Thumbor. */
	focus: string | null;
}

/** The headers our engine says them in (thumbor/edge_engine.py, renditions.py). */
export const DETAIL_HEADERS = { thumbhash: "Edge-Thumbhash", color: "Edge-Color", facts: "Edge-Facts" } as const;
const OUTPUTS_HEADER = "Edge-Outputs";
const FOCUS_HEADER = "Edge-Focus";

/** The placeholder and facts in Thumbor's answer, where they are there and valid. */
const detailsOf = (res: Response): ImageDetails =>
	parseImageDetails(
		res.headers.get(DETAIL_HEADERS.thumbhash),
		res.headers.get(DETAIL_HEADERS.color),
		res.headers.get(DETAIL_HEADERS.facts),
	);

/**
 * How long one attempt waits for Thumbor. Our engine stops any one decode well
 * before this (thumbor/edge_engine.py): only a Thumbor that hangs or is swamped gets here.
 */
const THUMBOR_TIMEOUT_MS = 30_000;

/** What the Worker knows of an attempt, which Thumbor's empty error bodies do not say. */
export interface AttemptContext {
	/** Which attempt this is, from 1. */
	attempt: number;
	/** Why the attempt before this one failed, if it did: an image fault seen twice is final. */
	previousError: JobErrorCode | null;
	/** The job's trace (its upload's): sent as `traceparent`, Thumbor writes it in its log line. */
	traceId?: string;
}

/**
 * Sends `original` (opened afresh for each ask) to Thumbor and returns the renditions `ask` makes;
 * throws AttemptError with a reason a user can act on.
 */
export async function renderThumbnail(
	origin: ThumborOrigin,
	{ path, outputs: asked }: OriginAsk,
	original: () => Promise<ReadableStream<Uint8Array>>,
	context: AttemptContext,
	timeoutMs = THUMBOR_TIMEOUT_MS,
): Promise<Rendered> {
	const signal = AbortSignal.timeout(timeoutMs);
	const headers: Record<string, string> = context.traceId ? { traceparent: traceparent(context.traceId) } : {};
	const ask = async () =>
		Promise.race([
			origin.render(path, await original(), headers, signal),
			new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
		]);
	let res: Response;
	try {
		// A pooled connection to a Thumbor that has since restarted fails once; a fresh one may not.
		res = await ask().catch((err: unknown) => (signal.aborted || err instanceof AttemptError ? Promise.reject(err) : ask()));
	} catch (err) {
		if (err instanceof AttemptError) throw err;
		if (signal.aborted && (await origin.healthy())) {
			// Thumbor had the image, answers others and never answered this: the image keeps it busy.
			throw imageFault("image_too_complex", TOO_COMPLEX, context);
		}
		// What the runtime said (a host, a port, "Network connection lost") is for the logs only.
		console.warn(`Thumbor could not be reached on attempt ${context.attempt}: ${errorName(err)}`);
		throw new AttemptError({ code: "thumbor_unavailable", message: UNREACHABLE }, false);
	}
	if (!res.ok) {
		// Thumbor's error bodies say nothing; the status and our engine's header are what there is.
		await res.body?.cancel();
		const refusal = res.headers.get(REFUSAL_HEADER);
		console.warn(
			`Thumbor answered ${res.status}${refusal ? ` (${REFUSAL_HEADER}: ${refusal})` : ""} on attempt ${context.attempt}`,
		);
		throw classifyThumborAnswer(res.status, refusal, context);
	}
	const body = new Uint8Array(await res.arrayBuffer());
	const outputs = splitOutputs(body, res.headers.get(OUTPUTS_HEADER), asked);
	return { outputs, details: detailsOf(res), focus: parseFocus(res.headers.get(FOCUS_HEADER)) };
}

/**
 * The answer's body cut into the renditions asked for (`Edge-Outputs` gives their lengths, in the
 * ask's order; a single output may come without it), each checked to be its format at its size.
 * A length of 0 is an output the origin left out (only a decode many times dearer could make it:
 * thumbor/renditions.py); never the smallest asked, which every answer holds.
 */
function splitOutputs(body: Uint8Array, lengths: string | null, asked: Rendition[]): Output[] {
	const sizes = lengths === null && asked.length === 1 ? [body.length] : (lengths ?? "").split(",").map(Number);
	const whole = sizes.length === asked.length && sizes.every((n) => Number.isInteger(n) && n >= 0);
	const smallest = Math.min(...asked.map(sideOf));
	const missing = asked.filter((r, i) => sizes[i] === 0 && sideOf(r) === smallest);
	if (!whole || missing.length > 0 || sizes.reduce((a, b) => a + b, 0) !== body.length) {
		throw unexpected(`The image service returned ${sizes.length} outputs of ${body.length} bytes instead of ${asked.length}.`);
	}
	let at = 0;
	return asked.flatMap((rendition, i) => {
		const bytes = body.subarray(at, at + sizes[i]!);
		at += sizes[i]!;
		if (bytes.length === 0) return [];
		const type = sniffImageType(bytes);
		const size = type && readImageSize(bytes, type);
		const side = sideOf(rendition);
		const still = type !== "image/webp" || readWebpInfo(bytes)?.animated === false;
		if (type !== typeOf(rendition) || size?.width !== side || size.height !== side || !still) {
			const got = type ? `a ${size ? `${size.width}x${size.height} ` : ""}${type}` : "something else";
			throw unexpected(`The image service returned ${got} instead of the ${side}x${side} ${renditionName(rendition)}.`);
		}
		return [{ rendition, bytes }];
	});
}

const unexpected = (message: string) => new AttemptError({ code: "unexpected_output", message }, true);

const UNREACHABLE = "The image service could not be reached; the job waits and is tried again.";
const UNDECODABLE = "The image could not be decoded: it may be corrupt or truncated. Upload a complete image.";
const TOO_COMPLEX =
	"The image takes too long to decode (a progressive JPEG with very many scans, say). Re-encode it and upload it again.";
const TOO_LARGE =
	"The image decodes to more pixels or bytes than the image service allows (a very large or 16-bit image, say). " +
	"Upload a smaller one.";
const MISCONFIGURED =
	"The image service refused our request itself, not the image: its configuration does not match this service's " +
	"(THUMBOR_SECURITY_KEY, or its route for pushed originals). The job waits until that is fixed.";

/** A fault of the image: final at once when `certain`, else once the attempt before saw the same. */
function imageFault(code: JobErrorCode, message: string, context: AttemptContext, certain = false): AttemptError {
	return new AttemptError({ code, message }, certain || context.previousError === code);
}

/**
 * The header our origin puts on every error answer about the image itself, with the reason
 * (thumbor/refusals.py). Thumbor's own refusals of a request (a signature that does not match
 * its key, an unknown route) come without it: those are never the image's fault.
 */
export const REFUSAL_HEADER = "Edge-Refusal";

/**
 * What a Thumbor error answer means for the job.
 * With our engine's `Edge-Refusal` reason, it is about the image:
 * - `undecodable`, `empty`: not an image, corrupt, truncated: final.
 * - `too_large`: more pixels or decoded bytes than allowed: final.
 * - `too_complex`: a decode that ran, or would run, past its budget: final.
 * - `crashed`: the decoder choked: final once a retry saw it too.
 * - `busy`: no room to decode it now: a passing fault.
 * Without it, the image was never looked at:
 * - 4xx (400 "Malformed URL", 404, 405…): this Thumbor refuses our requests (a wrong key, not
 *   our route): a passing fault of its own code, logged loudly, so jobs wait for the fix.
 * - 5xx: a passing fault.
 */
export function classifyThumborAnswer(status: number, refusal: string | null, context: AttemptContext): AttemptError {
	switch (refusal) {
		case "undecodable":
		case "empty":
			return imageFault("unprocessable_image", UNDECODABLE, context, true);
		case "too_large":
			return imageFault("image_too_large", TOO_LARGE, context, true);
		case "too_complex":
			return imageFault("image_too_complex", TOO_COMPLEX, context, true);
		case "crashed":
			return imageFault("unprocessable_image", UNDECODABLE, context);
		case "busy":
			return new AttemptError(
				{ code: "thumbor_unavailable", message: "The image service is busy with other large images." },
				false,
			);
	}
	if (status >= 400 && status < 500) {
		console.error(
			`THUMBOR MISCONFIGURED: it answered ${status} without looking at the image. ` +
				"Check that it runs thumbor/thumbor.conf with the Worker's THUMBOR_SECURITY_KEY; jobs wait until then.",
		);
		return new AttemptError({ code: "thumbor_misconfigured", message: MISCONFIGURED }, false);
	}
	return new AttemptError({ code: "thumbor_unavailable", message: `The image service failed (HTTP ${status}).` }, false);
}

const errorName = (err: unknown) =>
	err instanceof Error ? (err.name === "TimeoutError" ? "timed out" : err.message) : String(err);
