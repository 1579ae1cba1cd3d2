/**
 * What one thumbnail costs, counted by the Worker itself (METER_OPS="1") on a stack of this
 * test's own: the ordinary path's every billed operation, so that a change adding a round
 * trip fails here until this table (and docs/performance.md's) says so. `npm run bench` prices them.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { meterRenditions, meterUploads } from "../../scripts/cost.mjs";
import { readFixture, startOwnStack } from "./support.mjs";

let stack: Awaited<ReturnType<typeof startOwnStack>>;
beforeAll(async () => {
	// One listing shard: the warm-up upload makes it, so the rows counted are a job's own and not a
	// new shard's schema (made once per owner and shard: 3 rows).
	stack = await startOwnStack({ METER_OPS: "1", OWNER_INDEX_SHARDS: "1" });
});
afterAll(async () => stack?.stop());

const image = () => Buffer.from(readFixture(inject("fixtures"), "photo-640x480.jpg"));
const roundTrips = (ops: Record<string, number>) =>
	Object.fromEntries(Object.entries(ops).filter(([op]) => !op.startsWith("sqlite ")));
const BY = "sqlite rows written by ";
/** SQLite rows written per upload, by the object (its class) that wrote them; they add up to the total. */
const rows = (ops: Record<string, number>) => {
	const by = Object.entries(ops).flatMap(([op, n]) => (op.startsWith(BY) ? [[op.slice(BY.length), n] as const] : []));
	expect(by.reduce((sum, [, n]) => sum + n, 0)).toBe(ops["sqlite rows written"]);
	return Object.fromEntries(by);
};

/** What every upload costs until its job's object is asked to make it (the two paths below differ after). */
const UPLOAD = {
	"worker fetch": 2, // POST /jobs?wait, then GET /thumbnails/<slug>.webp
	"ratelimit UPLOAD_RATE_LIMITER": 1,
	"do OWNERS.admit": 1, // a place among the owner's jobs in flight…
	"do OWNERS.release": 1, // …given back when the job ends
	"do JOBS.create": 1, // the job's object: made, sent to the queue and (POST ?wait) waited for, in one request
	"do JOB_INDEX.record": 2, // the listing hears of queued (beside the creation) and done (processing only after a second)
	"queue write": 1,
	"queue read": 1,
	"queue ack": 1,
	"worker queue": 1, // one batch each, uploads one after another
	"do JOBS.begin": 1,
	"do OWNERS.claimDigest": 1, // whose thumbnail these bytes get (asked beside begin)
	"do JOBS.storeThumbnail": 1, // writes the eager renditions to R2 and marks the job done
	"r2 A put": 3, // the original, the eager renditions (EAGER_RENDITIONS: the canonical and its @2x)
	"r2 B get": 2, // the original (sent to Thumbor), the thumbnail (its first fetch; later ones are cached)
	"analytics write": 2, // metrics: the upload answered, the job's outcome
};

describe("the operations one thumbnail costs", () => {
	it("an upload taken to done through Thumbor (POST /jobs?wait), and its thumbnail fetched once", async () => {
		const { perUpload } = await meterUploads({ ...stack, image: image(), n: 3 });
		expect(roundTrips(perUpload)).toEqual({
			...UPLOAD,
			"fetch thumbor": 1, // the original goes in the request: Thumbor never calls back
		});
		expect(rows(perUpload)).toEqual({
			JobObject: 4, // its table (a CREATE TABLE writes 2), its row, done (the attempt's lease is held in memory)
			JobIndexShard: 3, // the entry made (its row, the index of jobs not done), then done
			OwnerObject: 4, // the admission, the bytes' claim, the release, the day's usage
		});
	});

	it("the same upload through the tus server: creation, one PATCH, the job waited for", async () => {
		const { perUpload } = await meterUploads({ ...stack, image: image(), n: 3, tus: true });
		// A job that has ended by the time GET /jobs/<id>?wait comes is answered without waiting: the wait
		// is one request at most, depending on how fast Thumbor was (not a cost the upload adds).
		const { "do JOBS.waitForChange": waits = 0, ...trips } = roundTrips(perUpload);
		expect(waits).toBeLessThanOrEqual(1);
		expect(trips).toEqual({
			...UPLOAD,
			"worker fetch": 4, // POST /uploads, PATCH, GET /jobs/<id>?wait, the thumbnail
			"ratelimit READ_RATE_LIMITER": 2, // the PATCH and the GET
			"do UPLOADS.create": 1, // the upload's own object…
			"do UPLOADS.append": 2, // …told of the PATCH before its body is read, then given the bytes
			"do OWNERS.promote": 1, // the PATCH with the last byte takes a job's place (the upload's place was admitted)
			"do JOBS.get": 1, // GET /jobs/<id> finds the job (and waits for it to end, above)
			"r2 B get": 3, // the original read back once whole (hashed and checked to its end), then as above
			"fetch thumbor": 1,
		});
		// The upload's object: its two tables (4), its row, the PATCH's hold on it (kept in the row, so an
		// eviction does not lose it), the row marked finishing then finished. The owner's: as a plain upload's,
		// and the upload's place made a job's.
		expect(rows(perUpload)).toEqual({ JobObject: 4, JobIndexShard: 3, OwnerObject: 5, UploadObject: 8 });
	});

	it("the same bytes again: the renditions are copied, Thumbor is not asked", async () => {
		const { perUpload } = await meterUploads({ ...stack, image: image(), n: 2, same: true });
		expect(roundTrips(perUpload)).toEqual({
			...UPLOAD,
			"do JOBS.get": 1, // the job that made these bytes' renditions, and is done
			"r2 B get": 3, // its two eager renditions (copied), the thumbnail's first fetch
		});
		expect(rows(perUpload)).toEqual({ JobObject: 4, JobIndexShard: 3, OwnerObject: 3 }); // the bytes are claimed already
	});

	it("a rendition made on its first request: one call to the job's object, one to Thumbor, one write", async () => {
		const { perRendition } = await meterRenditions({ ...stack, image: image(), renditions: ["avif@1x", "jpg@2x", "webp@3x"] });
		expect(roundTrips(perRendition)).toEqual({
			"worker fetch": 1,
			"do JOBS.rendition": 1, // the job's object makes it (once, for every request that comes meanwhile)
			"r2 B get": 3, // not in R2 (the route, then the object, which may have made it since), the original
			"r2 B head": 2, // the canonical: which job (the route), its framing and placeholder (the object)
			"fetch thumbor": 1, // this rendition alone, framed by the job's focus
			"r2 A put": 1,
		});
		expect(perRendition["sqlite rows written"]).toBe(0); // the job's row is read, never written
	});
});
