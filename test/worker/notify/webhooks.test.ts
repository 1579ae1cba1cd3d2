import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { sha256Hex } from "../../../src/access/keys";
import { settings } from "../../../src/base/config";
import { NO_DETAILS } from "../../../src/base/contracts";
import type { JobView } from "../../../src/http/job-view";
import { nextDeliveryDelayMs } from "../../../src/notify/deliver";
import { webhookHeaders } from "../../../src/notify/sign";
import { checkCallbackUrl } from "../../../src/notify/url";
import { jobStub, keyObject, keyRegistry } from "../../../src/objects";
import { caller, env, expectProblem, multipart, pngLike, request, upload } from "../helpers";

type Hooked = JobView & {
	webhook: {
		url: string;
		events: {
			id: string;
			type: string;
			state: string;
			nextAttemptAt?: string;
			attempts: { status: number | null; ms: number }[];
		}[];
	};
};

describe("callback_url", () => {
	it.each([
		["http://hooks.example/", /only https/],
		["ftp://hooks.example/", /only https/],
		["https://user:pw@hooks.example/", /credentials/],
		["https://hooks.example:8443/", /default port/],
		["https://localhost/", /names this machine/],
		["https://api.localhost./", /names this machine/],
		["https://127.0.0.1/", /not globally reachable/],
		["https://2130706433/", /not globally reachable/], // 127.0.0.1 in decimal
		["https://0x7f.1/", /not globally reachable/], // hex, short form
		["https://0177.0.0.1/", /not globally reachable/], // octal
		["https://10.1.2.3/", /not globally reachable/],
		["https://172.16.0.1/", /not globally reachable/],
		["https://172.31.255.255/", /not globally reachable/],
		["https://192.168.1.1/", /not globally reachable/],
		["https://100.64.0.1/", /not globally reachable/], // CGNAT
		["https://169.254.169.254/", /not globally reachable/], // metadata
		["https://0.0.0.0/", /not globally reachable/],
		["https://224.0.0.1/", /not globally reachable/],
		["https://[::1]/", /not globally reachable/],
		["https://[::]/", /not globally reachable/],
		["https://[::ffff:127.0.0.1]/", /not globally reachable/],
		["https://[::ffff:a9fe:a9fe]/", /not globally reachable/], // 169.254.169.254, IPv4-mapped
		["https://[64:ff9b::a00:1]/", /not globally reachable/], // 10.0.0.1 via NAT64
		["https://[fd00:ec2::254]/", /not globally reachable/], // AWS metadata, unique local
		["https://[fe80::1]/", /not globally reachable/],
		[`https://hooks.example/${"a".repeat(2048)}`, /longer than 2048/],
		["not a url", /absolute URL/],
	])("refuses %s", (url, why) => {
		expect(() => checkCallbackUrl(url, [])).toThrow(why);
	});

	it.each([
		"https://hooks.example/in",
		"https://8.8.8.8/x",
		"https://172.32.0.1/",
		"https://[2606:4700::1111]/h",
		"https://100.128.0.1/",
	])("accepts %s", (url) => {
		expect(checkCallbackUrl(url, [])).toBe(new URL(url).href);
	});

	it("lets development hosts use http, any port and loopback, and nothing else", () => {
		expect(checkCallbackUrl("http://127.0.0.1:9999/hook", ["127.0.0.1"])).toBe("http://127.0.0.1:9999/hook");
		expect(() => checkCallbackUrl("http://127.0.0.2:9999/hook", ["127.0.0.1"])).toThrow(/only https/);
	});

	it("is refused at upload with 400 invalid_callback_url, from the query or the form", async () => {
		await expectProblem(
			await upload(pngLike(), { query: `?callback_url=${encodeURIComponent("https://10.0.0.1/")}` }),
			400,
			"invalid_callback_url",
		);
		const form = multipart([
			{ name: "callback_url", value: "https://[::1]/" },
			{ name: "file", value: pngLike(), filename: "a.png" },
		]);
		await expectProblem(await upload(form.body, { headers: { "Content-Type": form.contentType } }), 400, "invalid_callback_url");
	});
});

/** An uploaded job with a callback to the stand-in receiver answering `status`, taken to done. */
async function doneWithCallback(status: number) {
	const created = (await (
		await upload(pngLike(), { query: `?callback_url=${encodeURIComponent(`https://hooks.example/${status}`)}` })
	).json()) as JobView;
	const stub = jobStub(env, created.id);
	await stub.begin();
	await stub.succeed({ width: 100, height: 100, bytes: 10, etag: '"e"' }, NO_DETAILS);
	return { id: created.id, stub };
}
const view = async (id: string) => (await (await request(`/jobs/${id}`)).json()) as Hooked;
const alarmAt = (stub: ReturnType<typeof jobStub>) => runInDurableObject(stub, (_o, state) => state.storage.getAlarm());

describe("delivery", () => {
	it("sends job.done from the job's alarm, and records the attempt", async () => {
		const { id, stub } = await doneWithCallback(200);
		// Due at once: the alarm is set for now, before the original's retention.
		expect(await alarmAt(stub)).toBeLessThanOrEqual(Date.now());
		expect((await view(id)).webhook.events).toMatchObject([{ type: "job.done", state: "pending", attempts: [] }]);
		await runDurableObjectAlarm(stub);
		const after = await view(id);
		expect(after.status).toBe("done");
		expect(after.webhook.events).toMatchObject([{ type: "job.done", state: "delivered", attempts: [{ status: 200 }] }]);
		// With nothing pending, the alarm is back to the retention, days away, counted from when the
		// job ended (the delivery attempt does not move it).
		expect(await alarmAt(stub)).toBeGreaterThan(Date.now() + 86_400_000);
		const ended = await runInDurableObject(
			stub,
			(_o, state) => state.storage.sql.exec<{ at: number }>("SELECT ended_at AS at FROM job").one().at,
		);
		expect(await alarmAt(stub)).toBe(ended + settings(env).ORIGINAL_RETENTION_DAYS * 86_400_000);
	});

	it("retries a receiver that fails on the schedule, and stops for good at 410", async () => {
		const failing = await doneWithCallback(503);
		await runDurableObjectAlarm(failing.stub);
		const first = (await view(failing.id)).webhook.events[0]!;
		expect(first).toMatchObject({ state: "pending", attempts: [{ status: 503 }] });
		const wait = Date.parse(first.nextAttemptAt!) - Date.now();
		expect(wait).toBeGreaterThan(0.8 * 5000 - 1000);
		expect(wait).toBeLessThanOrEqual(1.2 * 5000);
		// The job's one alarm now serves the webhook's next attempt.
		expect(await alarmAt(failing.stub)).toBe(Date.parse(first.nextAttemptAt!));
		// The job itself is untouched by its webhook's fate.
		expect((await view(failing.id)).status).toBe("done");

		const gone = await doneWithCallback(410);
		await runDurableObjectAlarm(gone.stub);
		expect((await view(gone.id)).webhook.events[0]).toMatchObject({ state: "failed", attempts: [{ status: 410 }] });
	});

	it("follows the schedule, then gives up", () => {
		const schedule = settings(env).webhookSchedule;
		expect(schedule).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
		expect(schedule.map((_, i) => nextDeliveryDelayMs(i + 1, schedule, () => 0.5))).toEqual(schedule.map((s) => s * 1000));
		expect(nextDeliveryDelayMs(schedule.length + 1, schedule)).toBeNull();
	});

	it("marks failed after the last scheduled attempt", async () => {
		const { id, stub } = await doneWithCallback(500);
		for (let i = 0; i < 8; i++) {
			await runInDurableObject(stub, (_o, state) =>
				state.storage.sql.exec("UPDATE webhook_event SET next_at = ?", Date.now() - 1),
			);
			await runDurableObjectAlarm(stub);
		}
		const event = (await view(id)).webhook.events[0]!;
		expect(event.state).toBe("failed");
		expect(event.attempts).toHaveLength(8);
	});

	it("redelivers by hand with the same webhook-id, and refuses a job without a callback", async () => {
		const { id, stub } = await doneWithCallback(410);
		await runDurableObjectAlarm(stub);
		const before = (await view(id)).webhook.events[0]!;
		expect(before.state).toBe("failed");
		const res = await request(`/jobs/${id}/webhook/redeliver`, { method: "POST" });
		expect(res.status).toBe(202);
		expect(((await res.json()) as Hooked).webhook.events[0]).toMatchObject({ id: before.id, state: "pending" });
		const plain = (await (await upload(pngLike())).json()) as JobView;
		await expectProblem(await request(`/jobs/${plain.id}/webhook/redeliver`, { method: "POST" }), 409, "no_webhook");
	});

	it("sends job.deleted when a job with a callback is deleted", async () => {
		const { id, stub } = await doneWithCallback(200);
		await runDurableObjectAlarm(stub);
		expect((await request(`/jobs/${id}`, { method: "DELETE" })).status).toBe(204);
		await runDurableObjectAlarm(stub);
		expect((await view(id)).webhook.events.map((e) => [e.type, e.state])).toEqual([
			["job.done", "delivered"],
			["job.deleted", "delivered"],
		]);
	});
});

describe("signing", () => {
	it("signs as Standard Webhooks says (checked with the standardwebhooks package), with both secrets while rotating", async () => {
		const made = await keyRegistry(env).create({ name: "hooks", ownerId: caller.ownerId });
		expect(made.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
		const body = JSON.stringify({ type: "ping" });
		const headers = await webhookHeaders([made.webhookSecret], "msg_1", body);
		expect(new Webhook(made.webhookSecret).verify(body, headers)).toEqual({ type: "ping" });

		const res = await request(`/admin/keys/${made.key.id}/webhook-secret`, { method: "POST" }, env.ADMIN_TOKEN);
		const rotated = (await res.json()) as { webhookSecret: string; previousValidUntil: number };
		expect(rotated.previousValidUntil).toBeGreaterThan(Date.now() + 23 * 3_600_000);
		const secrets = await keyObject(env, await sha256Hex(made.secret)).webhookSecrets();
		expect(secrets).toEqual([rotated.webhookSecret, made.webhookSecret]);
		const both = await webhookHeaders(secrets, "msg_2", body);
		expect(both["webhook-signature"]!.split(" ")).toHaveLength(2);
		for (const secret of [rotated.webhookSecret, made.webhookSecret])
			expect(new Webhook(secret).verify(body, both)).toEqual({ type: "ping" });
		expect(() =>
			new Webhook(made.webhookSecret).verify(body, { ...both, "webhook-signature": both["webhook-signature"]!.split(" ")[0]! }),
		).toThrow();
	});
});

describe("POST /webhooks/test", () => {
	it("sends a signed ping and says what the receiver answered", async () => {
		const ok = await request("/webhooks/test", {
			method: "POST",
			body: JSON.stringify({ url: "https://hooks.example/204" }),
			headers: { "Content-Type": "application/json" },
		});
		expect(await ok.json()).toMatchObject({ delivered: true, status: 204, error: null });
		const down = await request("/webhooks/test", {
			method: "POST",
			body: JSON.stringify({ url: "https://hooks.example/503" }),
			headers: { "Content-Type": "application/json" },
		});
		expect(await down.json()).toMatchObject({ delivered: false, status: 503 });
		// A receiver that cannot be reached: what the runtime said (it names internals) stays in the logs.
		const refused = vi.spyOn(globalThis, "fetch").mockRejectedValue(new Error("internal error; reference = 7h3kq9tb"));
		const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
		const unreachable = await request("/webhooks/test", {
			method: "POST",
			body: JSON.stringify({ url: "https://hooks.example/204" }),
			headers: { "Content-Type": "application/json" },
		});
		refused.mockRestore();
		expect(warn).toHaveBeenCalledWith(expect.stringContaining("reference = 7h3kq9tb"));
		warn.mockRestore();
		expect(await unreachable.json()).toMatchObject({
			delivered: false,
			status: null,
			error: "no connection to the receiver (refused, reset or TLS)",
		});
		await expectProblem(
			await request("/webhooks/test", {
				method: "POST",
				body: JSON.stringify({ url: "https://192.168.0.1/" }),
				headers: { "Content-Type": "application/json" },
			}),
			400,
			"invalid_callback_url",
		);
		await expectProblem(await request("/webhooks/test", { method: "POST" }, null), 401, "unauthorized");
	});
});
