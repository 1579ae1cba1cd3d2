/**
 * Counts the operations Cloudflare bills, as the Worker makes them, when METER_OPS is
 * "1" (`npm run bench`'s cost table and the cost test turn it on; off by default):
 * Worker invocations, Durable Object requests (each RPC call and alarm, by binding and
 * method), R2 operations (Class A, Class B, free), queue messages written, read and
 * acknowledged, rate-limit checks, outbound fetches (Thumbor, webhooks) and SQLite rows
 * read and written in the objects. `GET /admin/meter` reads the counts, `DELETE` zeroes them.
 *
 * The counts live in this module: locally one workerd isolate runs the Worker and every
 * object, so they see everything. In production (many isolates) a count would be partial:
 * leave METER_OPS off there.
 */

const counts = new Map<string, number>();
let on = false;

/** Adds `n` to operation `op` (a no-op unless metering is on). */
export function count(op: string, n = 1): void {
	if (on) counts.set(op, (counts.get(op) ?? 0) + n);
}

/** A Worker invocation by HTTP; the meter's own reads (and key management) are not what a thumbnail costs. */
export function countFetch(req: Request): void {
	if (on && !new URL(req.url).pathname.startsWith("/admin/")) count("worker fetch");
}

export const meterSnapshot = (): Record<string, number> => Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
export const meterReset = (): void => counts.clear();

/** R2 methods by what Cloudflare bills for them (R2 pricing: Class A, Class B, free). */
const R2_CLASS: Record<string, "A" | "B" | "free"> = {
	put: "A",
	list: "A",
	createMultipartUpload: "A",
	// Names an upload already made: no request to R2.
	resumeMultipartUpload: "free",
	get: "B",
	head: "B",
	delete: "free",
};

const isNamespace = (v: unknown): v is DurableObjectNamespace =>
	typeof v === "object" && v !== null && "idFromName" in v && "get" in v;
const isBucket = (v: unknown): v is R2Bucket =>
	typeof v === "object" && v !== null && "head" in v && "createMultipartUpload" in v;
const isQueue = (v: unknown): v is Queue => typeof v === "object" && v !== null && "sendBatch" in v;
const isRateLimiter = (v: unknown): v is RateLimit => typeof v === "object" && v !== null && "limit" in v;

/** Calls through `target`'s methods are counted by `name(method, args)`; other properties pass through. */
function counting<T extends object>(target: T, name: (method: string, args: unknown[]) => [string, number] | null): T {
	return new Proxy(target, {
		get(t, prop) {
			const value = Reflect.get(t, prop);
			// A Durable Object stub answers every property with an RPC method, `then` included: never count or wrap that.
			if (typeof prop !== "string" || prop === "then" || typeof value !== "function") return value;
			return (...args: unknown[]) => {
				const op = name(prop, args);
				if (op) count(...op);
				// Reflect.apply: an RPC method's own `.apply` would be a remote call.
				return Reflect.apply(value, t, args);
			};
		},
	});
}

/** A stub of namespace `binding` whose every call counts as one Durable Object request. */
function meteredNamespace(binding: string, ns: DurableObjectNamespace): DurableObjectNamespace {
	const stubOf = (stub: DurableObjectStub) =>
		counting(stub, (method) => (method === "id" || method === "name" ? null : [`do ${binding}.${method}`, 1]));
	return new Proxy(ns, {
		get(t, prop) {
			const value = Reflect.get(t, prop);
			if (prop === "get" || prop === "getByName") {
				return (...args: unknown[]) => stubOf(Reflect.apply(value as (...a: unknown[]) => DurableObjectStub, t, args));
			}
			return typeof value === "function" ? (...args: unknown[]) => Reflect.apply(value, t, args) : value;
		},
	});
}

/** A bucket whose operations are counted by class, a multipart upload's parts and completion too (Class A). */
function meteredBucket(bucket: R2Bucket): R2Bucket {
	const counted = counting(bucket, (m, args) =>
		m in R2_CLASS ? [`r2 ${R2_CLASS[m]} ${m}`, m === "delete" && Array.isArray(args[0]) ? args[0].length : 1] : null,
	);
	const upload = (u: R2MultipartUpload) =>
		counting(u, (m) => (m === "uploadPart" || m === "complete" ? [`r2 A ${m}`, 1] : m === "abort" ? ["r2 free abort", 1] : null));
	return new Proxy(counted, {
		get(t, prop) {
			const value = Reflect.get(t, prop);
			if (prop !== "createMultipartUpload" && prop !== "resumeMultipartUpload") return value;
			return (...args: unknown[]) => {
				const made = Reflect.apply(value as (...a: unknown[]) => unknown, t, args);
				return made instanceof Promise ? made.then(upload) : upload(made as R2MultipartUpload);
			};
		},
	});
}

/** `env` with its bindings counted, when METER_OPS is "1"; else `env` itself. */
export function metered(env: Env): Env {
	if (env.METER_OPS !== "1") return env;
	on = true;
	return new Proxy(env, {
		get(t, prop) {
			const value = Reflect.get(t, prop);
			if (typeof prop !== "string") return value;
			if (isNamespace(value)) return meteredNamespace(prop, value);
			if (isBucket(value)) return meteredBucket(value);
			if (isQueue(value))
				return counting(value, (m, args) =>
					m === "send" ? ["queue write", 1] : m === "sendBatch" ? ["queue write", (args[0] as unknown[]).length] : null,
				);
			if (isRateLimiter(value)) return counting(value, (m) => (m === "limit" ? [`ratelimit ${prop}`, 1] : null));
			return value;
		},
	});
}

/**
 * A Durable Object's SQL, with the rows each statement read and wrote counted (SQLite storage billing):
 * in all, and the rows written by `object` (its class) on their own.
 */
export function meteredSql(sql: SqlStorage, env: Env, object: string): SqlStorage {
	if (env.METER_OPS !== "1") return sql;
	return new Proxy(sql, {
		get(t, prop) {
			const value = Reflect.get(t, prop);
			if (prop !== "exec") return typeof value === "function" ? value.bind(t) : value;
			return (query: string, ...bindings: unknown[]) => {
				const cursor = t.exec(query, ...bindings);
				// Read once the caller has consumed the cursor (every caller does so at once).
				queueMicrotask(() => {
					count("sqlite rows read", cursor.rowsRead);
					count("sqlite rows written", cursor.rowsWritten);
					if (cursor.rowsWritten > 0) count(`sqlite rows written by ${object}`, cursor.rowsWritten);
				});
				return cursor;
			};
		},
	});
}

/** A batch's messages: each delivery counts as a queue read, each ack or retry as what it is. */
export function meteredMessages<T>(messages: readonly Message<T>[]): readonly Message<T>[] {
	if (!on) return messages;
	count("queue read", messages.length);
	return messages.map((m) => counting(m, (method) => (method === "ack" || method === "retry" ? [`queue ${method}`, 1] : null)));
}
