import { z } from "zod";

const Settings = z.object({
	THUMBOR_URL: z
		.union([z.literal(""), z.url()])
		.default("")
		.describe("Where the Thumbor origin answers; empty means the ThumborContainer instances"),
	THUMBOR_INSTANCES: z.coerce.number().int().min(1).max(100).default(2),
	ORIGINALS_BASE_URL: z.url().describe("This Worker's base URL as Thumbor reaches it"),
	MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(26_214_400),
	MAX_PIXELS: z.coerce.number().int().positive().default(50_000_000),
	MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
	THUMBOR_SECURITY_KEY: z.string().min(16, "THUMBOR_SECURITY_KEY must be set (16+ characters)"),
	ORIGINALS_SIGNING_KEY: z.string().min(16, "ORIGINALS_SIGNING_KEY must be set (16+ characters)"),
}).refine((s) => s.THUMBOR_URL !== "" || !/^(127\.|localhost$|\[::1\]$)/.test(new URL(s.ORIGINALS_BASE_URL).hostname), {
	path: ["ORIGINALS_BASE_URL"],
	message: "must be the Worker's public URL when Thumbor runs in Cloudflare Containers (THUMBOR_URL empty)",
});
export type Settings = z.infer<typeof Settings>;

const cache = new WeakMap<Env, Settings>();

/** The Worker's vars and secrets, checked once per Env; a misconfiguration fails loudly. */
export function settings(env: Env): Settings {
	let parsed = cache.get(env);
	if (!parsed) {
		const result = Settings.safeParse(env);
		if (!result.success) throw new Error(`invalid configuration: ${z.prettifyError(result.error)}`);
		parsed = result.data;
		cache.set(env, parsed);
	}
	return parsed;
}
