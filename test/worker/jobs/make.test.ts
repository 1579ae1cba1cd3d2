/**
 * Making a job (jobs/make.ts): its object and its listing entry, asked side by side. The real
 * objects run; a namespace that fails on purpose stands in only for the faults they cannot be
 * made to produce on demand (an object that cannot be reached).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { settings } from "../../../src/base/config";
import { ulid } from "../../../src/base/ids";
import { shardOf } from "../../../src/base/shards";
import { makeJob } from "../../../src/jobs/make";
import { indexShard, jobStub } from "../../../src/objects";
import { caller, digestOf, env, newTraceId } from "../helpers";

const input = (id: string) => ({
	id,
	ownerId: caller.ownerId,
	keyHash: null,
	callbackUrl: null,
	sha256: digestOf(id),
	slug: id,
	traceId: newTraceId(),
	original: { contentType: "image/png" as const, bytes: 512, width: 16, height: 16 },
});

/** `env` with one method of one namespace's stubs failing (after calling the real one, with `after`). */
function failing(binding: "JOBS" | "JOB_INDEX", method: string, { after = false } = {}): Env {
	const ns = env[binding] as unknown as DurableObjectNamespace;
	const broken = {
		...ns,
		idFromName: (name: string) => ns.idFromName(name),
		get: (id: DurableObjectId) => {
			const real = ns.get(id) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
			return new Proxy(real, {
				get: (target, prop) =>
					prop === method
						? async (...args: unknown[]) => {
								if (after) await target[method]!(...args);
								throw new Error(`${binding}.${method} unreachable (test)`);
							}
						: (...args: unknown[]) => target[prop as string]!(...args),
			});
		},
	};
	return { ...env, [binding]: broken } as Env;
}

const listed = async (id: string) => {
	const shard = indexShard(env, caller.ownerId, shardOf(id, settings(env).OWNER_INDEX_SHARDS));
	return (await shard.list(null, null, 1000)).some((job) => job.id === id);
};

describe("making a job", () => {
	it("lists the job before answering, from the same input its object records", async () => {
		const id = ulid();
		const job = await makeJob(env, createExecutionContext(), input(id));
		expect(await listed(id)).toBe(true);
		expect(await jobStub(env, id).get()).toEqual(job);
	});

	it("has the job's object list it when the listing could not be told", async () => {
		const id = ulid();
		const ctx = createExecutionContext();
		const job = await makeJob(failing("JOB_INDEX", "record"), ctx, input(id));
		expect(job.status).toBe("queued");
		await waitOnExecutionContext(ctx);
		expect(await listed(id)).toBe(true);
	});

	it("takes back the listing entry of a job that was not made, and says why", async () => {
		const id = ulid();
		const ctx = createExecutionContext();
		await expect(makeJob(failing("JOBS", "create"), ctx, input(id))).rejects.toThrow(/unreachable/);
		await waitOnExecutionContext(ctx);
		expect(await listed(id)).toBe(false);
		expect(await jobStub(env, id).get()).toBeNull();
	});

	it("keeps a job made before its object's answer was lost (during a wait, say)", async () => {
		const id = ulid();
		const job = await makeJob(failing("JOBS", "create", { after: true }), createExecutionContext(), input(id), 50);
		expect(job).toMatchObject({ id, status: "queued" });
		expect(await listed(id)).toBe(true);
	});
});
