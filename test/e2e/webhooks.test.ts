/**
 * Webhooks between real processes: the Worker under `wrangler dev` (its webhook retries
 * compressed to a second apart) posts to a receiver on 127.0.0.1 that verifies every
 * request with the `standardwebhooks` package and answers what the test tells it to.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { JobView } from "../../src/http/job-view";
import { expectNoInternals, freePorts, type Receiver, readFixture, startReceiver } from "./support.mjs";

const base = inject("baseUrl");
const { a: key, aWebhookSecret } = inject("apiKeys");
const auth = { Authorization: `Bearer ${key}` };
let receiver: Receiver;
beforeAll(async () => {
	receiver = await startReceiver(aWebhookSecret);
});
afterAll(async () => receiver.close());

async function uploadWithCallback(fixture: string): Promise<JobView> {
	const res = await fetch(`${base}/jobs?callback_url=${encodeURIComponent(receiver.url)}`, {
		method: "POST",
		body: readFixture(inject("fixtures"), fixture),
		headers: auth,
	});
	expect(res.status, await res.clone().text()).toBe(202);
	return (await res.json()) as JobView;
}

type Hooked = JobView & {
	webhook: {
		events: { id: string; state: string; nextAttemptAt?: string; attempts: { status: number | null; error: string | null }[] }[];
	};
};

/** The job's webhook events as its view tells them: what was sent, and whether anything is left to send. */
const webhookOf = async (id: string) => ((await (await fetch(`${base}/jobs/${id}`, { headers: auth })).json()) as Hooked).webhook;

/** The requests the receiver got for job `id`'s events. */
const eventsFor = (id: string) => receiver.requests.filter((r) => (r.event?.data as { id?: string } | undefined)?.id === id);

async function until<T>(
	what: string,
	job: JobView,
	fn: () => T | undefined | Promise<T | undefined>,
	timeoutMs = 30_000,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await fn();
		if (value) return value;
		if (Date.now() > deadline) {
			const now = await (await fetch(`${base}/jobs/${job.id}`, { headers: auth })).text();
			throw new Error(
				`timed out waiting for ${what}; the job: ${now}; last requests: ${JSON.stringify(receiver.requests.slice(-3))}`,
			);
		}
		await new Promise((r) => setTimeout(r, 100));
	}
}

describe("webhooks", () => {
	it("sends exactly one verified job.done with the finished job", async () => {
		receiver.status = 200;
		const job = await uploadWithCallback("photo-640x480.jpg");
		const got = await until("job.done", job, () => eventsFor(job.id)[0]);
		expect(got.error).toBeNull();
		// The delivery carries the job's trace (its upload's), as W3C trace context.
		expect(got.traceparent).toMatch(new RegExp(`^00-${job.traceId}-[0-9a-f]{16}-0[01]$`));
		expect(got.event).toMatchObject({
			type: "job.done",
			data: {
				id: job.id,
				status: "done",
				thumbnail: { width: 100, height: 100 },
				// What to paint before the thumbnail loads, and what the image is, come with the event.
				placeholder: { thumbhash: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/), color: expect.stringMatching(/^#[0-9a-f]{6}$/) },
				original: { facts: { format: "jpeg", displayWidth: 640, displayHeight: 480 } },
			},
		});
		// Delivered, and nothing left to send: no second request will come (no waiting to see).
		const webhook = await until("the delivery recorded", job, async () => {
			const w = await webhookOf(job.id);
			return w.events[0]?.state === "delivered" ? w : undefined;
		});
		expect(webhook.events).toMatchObject([{ id: got.id, state: "delivered", attempts: [{ status: 200 }] }]);
		expect(webhook.events[0]!.nextAttemptAt).toBeUndefined();
		expect(eventsFor(job.id)).toHaveLength(1);
	});

	it("sends job.failed with the reason for an image that cannot be made into a thumbnail", async () => {
		receiver.status = 200;
		const job = await uploadWithCallback("half-photo-640x480.jpg");
		const got = await until("job.failed", job, () => eventsFor(job.id)[0]);
		expect(got.event).toMatchObject({
			type: "job.failed",
			data: { id: job.id, status: "failed", error: { code: "unprocessable_image" } },
		});
	});

	it("delivers once the receiver is back after answering 503, with the same webhook-id", async () => {
		receiver.status = 503;
		const job = await uploadWithCallback("photo-640x480.jpg");
		const firstTry = await until("a first attempt", job, () => eventsFor(job.id)[0]);
		// Down for three attempts (a second apart here), then back.
		await until("three refused attempts", job, () => (eventsFor(job.id).length >= 3 ? true : undefined));
		receiver.status = 200;
		await until("delivery", job, () => eventsFor(job.id).find((r) => r.status === 200));
		const attempts = eventsFor(job.id);
		expect(new Set(attempts.map((r) => r.id))).toEqual(new Set([firstTry.id]));
		expect(attempts.filter((r) => r.status === 200)).toHaveLength(1);
		expect(attempts.filter((r) => r.status === 503).length).toBeGreaterThanOrEqual(3);
		console.log(
			`receiver down for 3 attempts: ${attempts.length} in all, delivered ${attempts.at(-1)!.at - firstTry.at} ms after the first`,
		);
	});

	it("stops for good when the receiver answers 410", async () => {
		receiver.status = 410;
		const job = await uploadWithCallback("photo-640x480.jpg");
		await until("the 410", job, () => eventsFor(job.id)[0]);
		// Stopped for good: the event is failed with nothing scheduled (no waiting to see).
		const webhook = await until("the stop recorded", job, async () => {
			const w = await webhookOf(job.id);
			return w.events[0]?.state === "failed" ? w : undefined;
		});
		expect(webhook.events).toMatchObject([{ state: "failed", attempts: [{ status: 410 }] }]);
		expect(webhook.events[0]!.nextAttemptAt).toBeUndefined();
		expect(eventsFor(job.id)).toHaveLength(1);
		receiver.status = 200;
	});

	it("answers POST /webhooks/test with a verified ping", async () => {
		receiver.status = 200;
		const before = receiver.requests.length;
		const res = await fetch(`${base}/webhooks/test`, {
			method: "POST",
			headers: { ...auth, "Content-Type": "application/json" },
			body: JSON.stringify({ url: receiver.url }),
		});
		expect(await res.json()).toMatchObject({ delivered: true, status: 200 });
		expect(receiver.requests.slice(before)).toMatchObject([{ error: null, event: { type: "ping" } }]);
	});

	it("says a receiver that cannot be reached in words of its own: no address, reference or exception text", async () => {
		// A port on this machine where nothing listens: the runtime's own error names internals.
		const [closed] = await freePorts(1);
		const url = `http://127.0.0.1:${closed}/hooks`;
		const ping = await fetch(`${base}/webhooks/test`, {
			method: "POST",
			headers: { ...auth, "Content-Type": "application/json" },
			body: JSON.stringify({ url }),
		});
		const answer = await ping.text();
		expect(JSON.parse(answer)).toMatchObject({
			delivered: false,
			status: null,
			error: "no connection to the receiver (refused, reset or TLS)",
		});
		expectNoInternals(answer, { allowed: [url] });
		// The same for a job's event: its delivery attempts, as the job view shows them.
		const res = await fetch(`${base}/jobs?callback_url=${encodeURIComponent(url)}`, {
			method: "POST",
			body: readFixture(inject("fixtures"), "photo-640x480.jpg"),
			headers: auth,
		});
		const job = (await res.json()) as JobView;
		const failedAttempt = await until("a failed delivery attempt", job, async () =>
			(await webhookOf(job.id))?.events[0]?.attempts.find((a) => a.status === null),
		);
		expect(failedAttempt).toMatchObject({ error: "no connection to the receiver (refused, reset or TLS)" });
		const view = await (await fetch(`${base}/jobs/${job.id}`, { headers: auth })).text();
		expectNoInternals(view, { allowed: [url, base] });
		await fetch(`${base}/jobs/${job.id}`, { method: "DELETE", headers: auth });
	});
});
