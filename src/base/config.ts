import { z } from "zod";
import type { RetryPolicy } from "./attempts";
import { EagerRenditions } from "./renditions";

const Settings = z.object({
	THUMBOR_URL: z
		.union([z.literal(""), z.url()])
		.default("")
		.describe("Where the Thumbor origin answers; empty means the ThumborContainer instances"),
	THUMBOR_INSTANCES: z.coerce.number().int().min(1).max(100).default(2),
	PUBLIC_BASE_URL: z.url().describe("This Worker's base URL as clients reach it: thumbnail URLs are built on it"),
	MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(26_214_400),
	MAX_PIXELS: z.coerce.number().int().positive().default(50_000_000),
	MAX_DECODED_BYTES: z.coerce.number().int().positive().default(200_000_000),
	UPLOAD_IDLE_SECONDS: z.coerce.number().positive().default(30),
	RESUMABLE_UPLOAD_TTL_SECONDS: z.coerce
		.number()
		.int()
		.min(60)
		.default(86_400)
		.describe("How long an unfinished resumable upload lives after its last bytes (tus expiration)"),
	RESUMABLE_UPLOAD_START_SECONDS: z.coerce
		.number()
		.int()
		.min(10)
		.default(600)
		.describe("How long a resumable upload that has received no byte yet lives"),
	MAX_JPEG_SCANS: z.coerce.number().int().positive().default(100),
	RETRY_BASE_SECONDS: z.coerce.number().positive().default(4),
	RETRY_MAX_DELAY_SECONDS: z.coerce.number().positive().default(600),
	RETRY_WINDOW_SECONDS: z.coerce.number().positive().default(86_400),
	ORIGINAL_RETENTION_DAYS: z.coerce.number().min(0).default(30),
	EAGER_RENDITIONS: z.string().default("webp@1x,webp@2x").pipe(EagerRenditions),
	OWNER_INDEX_SHARDS: z.coerce.number().int().min(0).max(64).default(8),
	WEBHOOK_RETRY_SCHEDULE: z
		.string()
		.regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, "comma-separated seconds")
		.default("5,300,1800,7200,18000,36000,36000"),
	WEBHOOK_DEV_HOSTS: z.string().default(""),
	WEBHOOK_SECRET_OVERLAP_HOURS: z.coerce.number().min(0).default(24),
	AUTH_CACHE_SECONDS: z.coerce.number().min(0).max(300).default(30),
	MAX_JOBS_IN_FLIGHT: z.coerce.number().int().positive().default(100),
	MAX_UPLOADS_IN_PROGRESS: z.coerce.number().int().positive().default(100),
	MONTHLY_UPLOAD_QUOTA: z.coerce.number().int().min(0).default(0),
	RATE_LIMIT_PERIOD_SECONDS: z.coerce.number().int().positive().default(60),
	DATA_JURISDICTION: z
		.enum(["", "eu", "fedramp"])
		.default("")
		.describe("Where every Durable Object of this deployment lives (src/objects.ts, resident); empty: anywhere"),
	CORS_ALLOWED_ORIGINS: z.string().default(""),
	THUMBOR_SECURITY_KEY: z.string().min(16, "THUMBOR_SECURITY_KEY must be set (16+ characters)"),
	ADMIN_TOKEN: z.string().min(24, "ADMIN_TOKEN must be set (24+ characters): it guards the admin API"),
	KEY_CHECKSUM_SECRET: z
		.string()
		.min(16, "KEY_CHECKSUM_SECRET must be set (16+ characters): it signs the checksum every API key ends with"),
	CURSOR_SIGNING_KEY: z.string().min(16, "CURSOR_SIGNING_KEY must be set (16+ characters): it signs listing cursors"),
});
type ParsedSettings = z.infer<typeof Settings>;
export type Settings = ParsedSettings & {
	retry: RetryPolicy;
	corsOrigins: string[];
	/** Seconds to wait before each webhook retry (the first attempt is at once). */
	webhookSchedule: number[];
	webhookDevHosts: string[];
};

const list = (csv: string) =>
	csv
		.split(",")
		.map((x) => x.trim())
		.filter(Boolean);

const cache = new WeakMap<Env, Settings>();

/** The Worker's vars and secrets, checked once per Env; a misconfiguration fails loudly. */
export function settings(env: Env): Settings {
	let parsed = cache.get(env);
	if (!parsed) {
		const result = Settings.safeParse(env);
		if (!result.success) throw new Error(`invalid configuration: ${z.prettifyError(result.error)}`);
		const s = result.data;
		parsed = {
			...s,
			retry: {
				baseSeconds: s.RETRY_BASE_SECONDS,
				maxDelaySeconds: s.RETRY_MAX_DELAY_SECONDS,
				windowSeconds: s.RETRY_WINDOW_SECONDS,
			},
			corsOrigins: list(s.CORS_ALLOWED_ORIGINS),
			webhookSchedule: list(s.WEBHOOK_RETRY_SCHEDULE).map(Number),
			webhookDevHosts: list(s.WEBHOOK_DEV_HOSTS).map((h) => h.toLowerCase()),
		};
		cache.set(env, parsed);
	}
	return parsed;
}
