/**
 * Metrics an operator can graph: one Workers Analytics Engine data point (the METRICS binding,
 * dataset `edge_thumbnails`) for every upload answered, every job outcome and every webhook
 * attempt, indexed (and so sampled) by owner. Each kind of event has its own layout below: which
 * field is which `blobN`/`doubleN` column. docs/operations.md gives the SQL for the dashboards.
 * Writing is fire-and-forget (the runtime batches it): it never fails or slows the request.
 */
import { count } from "./metering";

/** The columns of one kind of event: blob1 is always the event's name. */
interface Layout<B extends string, D extends string> {
	event: string;
	/** blob2, blob3, … in this order. */
	blobs: readonly B[];
	/** double1, double2, … in this order. */
	doubles: readonly D[];
}

const layout = <B extends string, D extends string>(event: string, blobs: readonly B[], doubles: readonly D[]): Layout<B, D> => ({
	event,
	blobs,
	doubles,
});

/** An upload answered (POST /jobs): accepted, replayed (Idempotency-Key) or refused with its code. */
export const UPLOAD = layout("upload", ["outcome", "code", "imageType", "owner"], ["status", "bytes", "pixels", "ms"]);

/** A job's attempt ended: done, failed, retry (a passing fault) or deleted meanwhile. */
export const JOB = layout(
	"job",
	["outcome", "code", "imageType", "owner", "dedupe"],
	[
		"attempt",
		"totalMs", // from the upload's answer to this outcome
		"queuedMs", // from the upload's answer to the first attempt (first attempts only)
		"thumborMs",
		"storeMs",
		"beginMs",
		"originalBytes",
		"pixels",
		"thumbnailBytes",
	],
);

/** One webhook delivery attempt. */
export const WEBHOOK = layout("webhook", ["result", "eventType", "owner"], ["status", "ms", "attempt"]);

type Fields<L> = L extends Layout<infer B, infer D> ? { [K in B]?: string | null } & { [K in D]?: number | null } : never;

/** Writes one event of `kind` for `owner` (the index: what a query groups and samples by). */
export function record<L extends Layout<string, string>>(env: Env, kind: L, owner: string | null, fields: Fields<L>): void {
	const values = fields as Record<string, string | number | null | undefined>;
	count("analytics write");
	try {
		env.METRICS.writeDataPoint({
			indexes: [owner ?? ""],
			blobs: [kind.event, ...kind.blobs.map((name) => (name === "owner" ? owner : ((values[name] as string | null) ?? null)))],
			doubles: kind.doubles.map((name) => (values[name] as number | null | undefined) ?? 0),
		});
	} catch (err) {
		// A metric lost is not worth a failed upload.
		console.warn("could not write a metrics data point", err);
	}
}

/** Column names of `kind`, as the dashboards' SQL uses them: `{ outcome: "blob2", … }`. */
export function columns(kind: Layout<string, string>): Record<string, string> {
	return {
		event: "blob1",
		...Object.fromEntries(kind.blobs.map((name, i) => [name, `blob${i + 2}`])),
		...Object.fromEntries(kind.doubles.map((name, i) => [name, `double${i + 1}`])),
	};
}
