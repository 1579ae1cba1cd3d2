import { DurableObject } from "cloudflare:workers";
import type { JobId } from "../contracts";
import { migrate } from "../sql";

const MIGRATIONS = ["CREATE TABLE claim (job_id TEXT NOT NULL, claimed_at INTEGER NOT NULL)"];

/**
 * The owner of one slug, in an object named by the slug. A slug is claimed once
 * and never released, which is what lets /thumbnails/<slug>.webp be cached forever.
 */
export class SlugObject extends DurableObject<Env> {
	readonly #sql: SqlStorage;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.#sql = ctx.storage.sql;
		void ctx.blockConcurrencyWhile(async () => migrate(this.#sql, MIGRATIONS));
	}

	/** The job that owns this slug, if any. */
	async owner(): Promise<JobId | null> {
		return this.#sql.exec<{ job_id: string }>("SELECT job_id FROM claim LIMIT 1").toArray()[0]?.job_id ?? null;
	}

	/** Claims the slug for `jobId`; true if it is now (or already was) that job's. */
	async claim(jobId: JobId): Promise<boolean> {
		const owner = await this.owner();
		if (owner !== null) return owner === jobId;
		this.#sql.exec("INSERT INTO claim (job_id, claimed_at) VALUES (?, ?)", jobId, Date.now());
		return true;
	}
}
