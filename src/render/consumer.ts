/**
 * The queue consumer: turns a job's original into its thumbnail through Thumbor.
 * Each message is acked or retried on its own, so one slow or broken job never
 * holds back or repeats the others in its batch. A passing fault does not go back
 * through the queue's own retries (capped in number): the job's object waits out
 * the backoff with its alarm and sends the job again, for as long as its retry
 * window lasts.
 */
import { AttemptError, retryDelayMs } from "../base/attempts";
import { type Settings, settings } from "../base/config";
import { type ImageDetails, type Job, JobMessage, pixelsOf, THUMBNAIL } from "../base/contracts";
import { meteredMessages } from "../base/metering";
import { JOB, record } from "../base/metrics";
import type { Rendition } from "../base/renditions";
import { detailsOf, renditionKey, thumbnailKey } from "../base/storage";
import { Steps } from "../base/timing";
import { inSpan } from "../base/tracing";
import { digestClaim, jobStub } from "../objects";
import type { Output } from "./origin-client";
import { renderRenditions } from "./render";
import { parseFocus } from "./thumbor-path";

/** Messages that reach a queue named `*-dlq` exhausted their retries: their jobs are failed for good. */
const isDeadLetterQueue = (queue: string) => queue.endsWith("-dlq");

export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	const handle = isDeadLetterQueue(batch.queue) ? buryMessage : processMessage;
	await Promise.all(meteredMessages(batch.messages).map((message) => handle(message, env)));
}

async function processMessage(message: Message<unknown>, env: Env): Promise<void> {
	const parsed = JobMessage.safeParse(message.body);
	if (!parsed.success) {
		console.error(`dropping malformed message ${message.id}:`, JSON.stringify(message.body));
		return message.ack();
	}
	const { jobId, ownerId } = parsed.data;
	// One span per message: the job's run, found by its upload's trace id (upload.trace_id).
	return inSpan("render.job", { "job.id": jobId, "owner.id": ownerId, "queue.delivery": message.attempts }, (span) =>
		runJob(message, parsed.data, env, span),
	);
}

async function runJob(message: Message<unknown>, { jobId, ownerId, sha256 }: JobMessage, env: Env, span: Span): Promise<void> {
	const cfg = settings(env);
	const job = jobStub(env, jobId);
	const steps = new Steps("render");
	steps.tag({ "job.id": jobId, "owner.id": ownerId });
	const outcome = (name: string, code?: string) =>
		span.setAttributes({ "job.outcome": name, ...(code && { "error.code": code }) });
	// Who else made a thumbnail of these bytes is asked while the job's object is.
	// Which of the owner's jobs holds these bytes, asked beside the job's own object.
	const bytesHolder = steps.time("reuse", () => claimBytes(env, ownerId, sha256, jobId));
	bytesHolder.catch(() => {}); // awaited below, unless the attempt ends before
	try {
		const attempt = await steps.time("begin", () => job.begin());
		if (!attempt.proceed) {
			outcome(`skipped: ${attempt.reason}`);
			// Its attempts kept dying until its retry window ran out: that is how it ended.
			if (attempt.reason === "exhausted") log(env, "job.failed", attempt.job, { code: attempt.job.error?.code, exhausted: true });
			return message.ack();
		}
		const about = jobAttributes(attempt.job);
		span.setAttributes(about);
		steps.tag(about);
		const started = Date.now();
		try {
			const done = await makeThumbnail(env, cfg, attempt.job, job, steps, bytesHolder);
			if (done?.status !== "done") {
				outcome("deleted");
				log(env, "job.deleted", attempt.job, { ms: Date.now() - started });
				return message.ack();
			}
			outcome(done.deduplicatedFrom ? "done: deduplicated" : "done");
			log(env, "job.done", attempt.job, {
				ms: Date.now() - started,
				// From the upload's answer to this attempt (the queue's delivery), first attempts only.
				...(attempt.job.attempts === 1 && { queuedMs: started - attempt.job.createdAt }),
				bytes: done.thumbnail?.bytes,
				...steps.fields(),
				...(done.deduplicatedFrom && { deduplicatedFrom: done.deduplicatedFrom }),
			});
		} catch (err) {
			if (!(err instanceof AttemptError)) console.error(`job ${attempt.job.id}: attempt ${attempt.job.attempts} crashed`, err);
			const failure =
				err instanceof AttemptError
					? err
					: new AttemptError({ code: "internal_error", message: "An internal error interrupted processing." }, false);
			// The job's object decides what follows (retry_* policy, its window); this reports the attempt.
			const { decision, delayMs } = await job.attemptFailed(failure.error, failure.permanent);
			outcome(decision, failure.error.code);
			const fields = { code: failure.error.code, ...steps.fields() };
			if (decision === "failed") log(env, "job.failed", attempt.job, { ...fields, ms: Date.now() - started });
			else log(env, "job.retry", attempt.job, { code: failure.error.code, delayMs, ...steps.fields() });
		}
		return message.ack();
	} catch (err) {
		// The job's own object could not be reached: let the queue deliver again.
		// If the lease is still held then, the job's watchdog alarm takes over.
		console.error(`job ${jobId}: could not record the attempt`, err);
		outcome("redelivered");
		return message.retry({ delaySeconds: Math.ceil(retryDelayMs(message.attempts, cfg.retry) / 1000) });
	}
}

/**
 * One JSON line per job outcome, for Workers Logs (`traceId` finds the upload's trace and
 * Thumbor's log line), and the outcome's metrics event (base/metrics.ts).
 */
function log(env: Env, event: `job.${string}`, job: Job, fields: Record<string, unknown>): void {
	console.log(JSON.stringify({ event, jobId: job.id, traceId: job.traceId, slug: job.slug, attempt: job.attempts, ...fields }));
	const ms = (name: string) => (typeof fields[name] === "number" ? (fields[name] as number) : null);
	record(env, JOB, job.ownerId, {
		outcome: event.slice("job.".length),
		code: typeof fields.code === "string" ? fields.code : null,
		imageType: job.original.contentType,
		dedupe: fields.deduplicatedFrom ? "copied" : null,
		attempt: job.attempts,
		totalMs: Date.now() - job.createdAt,
		queuedMs: ms("queuedMs"),
		thumborMs: ms("thumborMs"),
		storeMs: ms("storeMs"),
		beginMs: ms("beginMs"),
		originalBytes: job.original.bytes,
		pixels: pixelsOf(job.original),
		thumbnailBytes: ms("bytes"),
	});
}

/** What a span says of a job's attempt (base/tracing.ts lists the names). */
const jobAttributes = (job: Job) => ({
	"upload.trace_id": job.traceId,
	"job.attempt": job.attempts,
	"image.type": job.original.contentType,
	"image.bytes": job.original.bytes,
	"image.pixels": pixelsOf(job.original) ?? undefined,
});

/**
 * Makes and stores the job's eager renditions (EAGER_RENDITIONS: the canonical thumbnail, and by
 * default its @2x) from one decode; the job as it ends up (done, or deleted meanwhile), or null
 * when it was no longer being processed (nothing is written then).
 */
async function makeThumbnail(
	env: Env,
	cfg: Settings,
	job: Job,
	stub: ReturnType<typeof jobStub>,
	steps: Steps,
	bytesHolder: Promise<string | null>,
): Promise<Job | null> {
	// An earlier attempt may have stored the thumbnail and then failed to record it. A slug's
	// bytes never change once stored, so that object is the thumbnail: keep it, skip Thumbor.
	// (A first attempt has no earlier one, and slugs are unique: it skips the look.)
	const stored = job.attempts > 1 ? await env.BUCKET.head(thumbnailKey(job.slug)) : null;
	if (stored) {
		const { jobId } = stored.customMetadata ?? {};
		if (jobId !== job.id) {
			throw new AttemptError({ code: "internal_error", message: "Another job's thumbnail holds this slug." }, true);
		}
		const thumbnail = { width: THUMBNAIL.width, height: THUMBNAIL.height, bytes: stored.size, etag: stored.httpEtag };
		return steps.time("store", () => stub.succeed(thumbnail, detailsOf(stored.customMetadata)));
	}
	const reused = await reuseThumbnail(env, job, await bytesHolder, cfg.EAGER_RENDITIONS);
	if (reused) return steps.time("store", () => stub.storeThumbnail(reused.outputs, reused.details, reused.focus, reused.from));
	const rendered = await steps.time("thumbor", () =>
		renderRenditions(
			env,
			{ id: job.id, traceId: job.traceId, attempt: job.attempts, previousError: job.error?.code ?? null },
			cfg.EAGER_RENDITIONS,
			null,
		),
	);
	return steps.time("store", () => stub.storeThumbnail(rendered.outputs, rendered.details, rendered.focus));
}

/**
 * The job that makes thumbnails of these bytes for this owner: the first to be
 * processed claims them (one call, made while the job's object is asked for the job).
 * Null when the claim could not be reached: the job then simply asks Thumbor.
 */
async function claimBytes(env: Env, ownerId: string, sha256: string, jobId: string): Promise<string | null> {
	try {
		return await digestClaim(env, ownerId, sha256).claim(jobId);
	} catch (err) {
		console.error(`job ${jobId}: could not look up its bytes for reuse`, err);
		return null;
	}
}

/**
 * Never pay Thumbor twice for the same bytes: the renditions of `holder`, the owner's job that
 * claimed an identical original (by SHA-256), if it is done and its thumbnail is still there: its
 * canonical and whichever of `eager` it stored (any other is made on request, framed as the
 * holder's). The bytes are copied, so deleting either job leaves the other's intact. A holder that
 * failed (or vanished) hands its claim to this job. Per owner only: across owners, "identical
 * bytes" would tell one owner what another uploaded.
 */
async function reuseThumbnail(
	env: Env,
	job: Job,
	holder: string | null,
	eager: readonly Rendition[],
): Promise<{ outputs: Output[]; details: ImageDetails; focus: string | null; from: string } | null> {
	if (!holder || holder === job.id) return null;
	const source = await jobStub(env, holder).get();
	if (source?.status === "done" && source.thumbnail) {
		const objects = await Promise.all(eager.map((r) => env.BUCKET.get(renditionKey(source.slug, r))));
		const canonical = objects[0]; // the eager set starts with the canonical (base/renditions.ts)
		if (canonical) {
			const outputs = await Promise.all(
				objects.flatMap((object, i) =>
					object ? [object.arrayBuffer().then((b) => ({ rendition: eager[i]!, bytes: new Uint8Array(b) }))] : [],
				),
			);
			return {
				outputs,
				// The same bytes: the same placeholder, facts and framing.
				details: { placeholder: source.placeholder, facts: source.facts },
				focus: parseFocus(canonical.customMetadata?.focus),
				from: source.id,
			};
		}
		await Promise.all(objects.map((object) => object?.body.cancel()));
	}
	// A holder still at work keeps its claim (this job asks Thumbor meanwhile); one that will never be done gives it up.
	if (!source || source.status === "failed" || source.status === "deleted") {
		await digestClaim(env, job.ownerId, job.sha256).handOver(holder, job.id);
	}
	return null;
}

/** Each dead letter on its own: one that cannot be recorded now is delivered again, without holding back the rest. */
async function buryMessage(message: Message<unknown>, env: Env): Promise<void> {
	const parsed = JobMessage.safeParse(message.body);
	try {
		if (parsed.success) {
			const job = await jobStub(env, parsed.data.jobId).fail({
				code: "timed_out",
				message: "Processing kept failing and was abandoned.",
			});
			if (job?.status === "failed" && job.error?.code === "timed_out")
				log(env, "job.failed", job, { code: "timed_out", deadLetter: true });
		}
		message.ack();
	} catch (err) {
		console.error(`dead letter ${message.id}: could not fail its job`, err);
		message.retry();
	}
}
