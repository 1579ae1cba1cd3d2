import type { JobId, Slug } from "../contracts";

/** The Durable Object that holds job `id`'s state. */
export const jobStub = (env: Env, id: JobId) => env.JOBS.get(env.JOBS.idFromName(id));

/** The Durable Object that records which job owns `slug`. */
export const slugClaim = (env: Env, slug: Slug) => env.CLAIMS.get(env.CLAIMS.idFromName(`slug:${slug}`));

/** The Durable Object that records which job an Idempotency-Key created. */
export const idempotencyClaim = (env: Env, key: string) => env.CLAIMS.get(env.CLAIMS.idFromName(`idempotency:${key}`));
