/**
 * What we ask of Thumbor, as a URL: a square crop around the most interesting part, in one or more
 * renditions from one decode, and how the path is signed (Thumbor's HMAC-SHA1 over the path after
 * the signature). Plain functions: the end-to-end tests sign with them too.
 */
import { base64url, hmac } from "../base/crypto";
import { CANONICAL, FORMATS, qualityOf, type Rendition, sideOf } from "../base/renditions";

/** Thumbor's signature: URL-safe base64 (padded) of HMAC-SHA1 over the path after the signature. */
export async function signThumborPath(securityKey: string, path: string): Promise<string> {
	return base64url(await hmac(securityKey, "SHA-1", path), true);
}

/**
 * Where a job's crop is centred: `x,y` as fractions of the upright original's width and height,
 * as the origin's `Edge-Focus` says it (thumbor/renditions.py). Sent back with every later
 * rendition (`focus(x,y)`), so 1x, 2x and 3x show the same framing.
 */
export const FOCUS = /^(?:0(?:\.\d{1,6})?|1(?:\.0{1,6})?),(?:0(?:\.\d{1,6})?|1(?:\.0{1,6})?)$/;
export const parseFocus = (value: string | null | undefined): string | null => (value && FOCUS.test(value) ? value : null);

/** A request to the origin: its signed path, and the renditions its answer holds, in the body's order. */
export interface OriginAsk {
	path: string;
	outputs: Rendition[];
}

/**
 * The signed Thumbor path (from its leading slash) that makes `renditions` (the canonical alone by
 * default) from one decode of the original named `name` (a job id), framed around `focus` when
 * given (else where the origin finds the subject). The largest is the URL's own output; the rest are
 * `also(format,side,quality)` filters, made from its pixels (thumbor/renditions.py). The original
 * goes in the request's body (thumbor/pushed_original.py): the name only labels it in Thumbor's
 * logs, and the signature covers it like the rest of the path.
 */
export async function originAsk(
	securityKey: string,
	name: string,
	renditions: readonly Rendition[] = [CANONICAL],
	focus: string | null = null,
): Promise<OriginAsk> {
	const main = renditions.reduce((a, b) => (sideOf(b) > sideOf(a) ? b : a));
	const outputs = [main, ...renditions.filter((r) => r !== main)];
	const path = `${operation(outputs, focus)}/${encodeURIComponent(name)}`;
	return { path: `/${await signThumborPath(securityKey, path)}/${path}`, outputs };
}

/** The operation making `outputs` (the first the largest), before the original's name. */
function operation([main, ...also]: readonly Rendition[], focus: string | null): string {
	const filters = [
		`format(${FORMATS[main!.format].thumbor})`,
		`quality(${qualityOf(main!)})`,
		...(focus ? [`focus(${focus})`] : []),
		...also.map((r) => `also(${FORMATS[r.format].thumbor},${sideOf(r)},${qualityOf(r)})`),
	];
	const side = sideOf(main!);
	return `${side}x${side}/smart/filters:${filters.join(":")}`;
}

/** The canonical thumbnail's operation: what the tests also ask of a stock Thumbor. */
export const OPERATION = operation([CANONICAL], null);
