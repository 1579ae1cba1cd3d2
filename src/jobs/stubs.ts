import type { JobId, Slug } from "../contracts";

/** The Durable Object that holds job `id`'s state. */
export const jobStub = (env: Env, id: JobId) => env.JOBS.get(env.JOBS.idFromName(id));

/** The Durable Object that records who owns `slug`. */
export const slugStub = (env: Env, slug: Slug) => env.SLUGS.get(env.SLUGS.idFromName(slug));
