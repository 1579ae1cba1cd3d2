/**
 * The floor `npm run bench` measures the pipeline against: the product's fixed shape with
 * nothing else. An upload is put in R2, a Durable Object (SQLite) records the job and sends
 * it to the queue, the consumer streams the original from R2 to Thumbor, puts the thumbnail
 * in R2 and tells the object, and the upload's answer waits for that (as POST /jobs?wait).
 * No keys, rate limits, admission, idempotency, listing, dedupe, leases, retries, watchdog,
 * webhooks or error handling: whatever wrangler dev takes for this much, any Worker of this
 * shape pays on this machine. Not part of the product; only the bench starts it.
 */
import { DurableObject } from "cloudflare:workers";
import { originAsk } from "../../src/render/thumbor-path";

interface Env {
	BUCKET: R2Bucket;
	JOBS: DurableObjectNamespace<FloorJob>;
	JOB_QUEUE: Queue<{ id: string }>;
	THUMBOR_URL: string;
	THUMBOR_SECURITY_KEY: string;
}

export class FloorJob extends DurableObject<Env> {
	#ended: (() => void)[] = [];

	async create(id: string): Promise<void> {
		this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS job (id TEXT PRIMARY KEY, status TEXT NOT NULL)");
		this.ctx.storage.sql.exec("INSERT INTO job VALUES (?, 'queued')", id);
		await this.env.JOB_QUEUE.send({ id });
	}

	async done(): Promise<void> {
		this.ctx.storage.sql.exec("UPDATE job SET status = 'done'");
		for (const wake of this.#ended.splice(0)) wake();
	}

	async waitToEnd(): Promise<void> {
		if (this.ctx.storage.sql.exec<{ status: string }>("SELECT status FROM job").one().status === "done") return;
		await new Promise<void>((resolve) => this.#ended.push(resolve));
	}
}

const job = (env: Env, id: string) => env.JOBS.get(env.JOBS.idFromName(id));

export default {
	async fetch(req: Request, env: Env): Promise<Response> {
		if (req.method !== "POST") return new Response("ok");
		const id = crypto.randomUUID();
		await env.BUCKET.put(`originals/${id}`, await req.arrayBuffer());
		await job(env, id).create(id);
		await job(env, id).waitToEnd();
		return Response.json({ id, status: "done" }, { status: 201 });
	},

	async queue(batch: MessageBatch<{ id: string }>, env: Env): Promise<void> {
		await Promise.all(
			batch.messages.map(async (message) => {
				const { id } = message.body;
				const original = await env.BUCKET.get(`originals/${id}`);
				const res = await fetch(`${env.THUMBOR_URL}${(await originAsk(env.THUMBOR_SECURITY_KEY, id)).path}`, {
					method: "POST",
					body: original!.body,
				});
				await env.BUCKET.put(`thumbnails/${id}.webp`, await res.arrayBuffer());
				await job(env, id).done();
				message.ack();
			}),
		);
	},
};
