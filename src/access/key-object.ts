import type { ApiKey, Caller } from "../base/contracts";
import { SqliteObject } from "../base/sql";
import { newWebhookSecret } from "./keys";

export type KeyRow = {
	id: string;
	hash: string;
	name: string;
	owner_id: string;
	prefix: string;
	created_at: number;
	revoked_at: number | null;
};

export const KEY_TABLE = `CREATE TABLE api_key (
	id TEXT PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	owner_id TEXT NOT NULL,
	prefix TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
)`;

/**
 * A key's webhook signing secrets: the current one (valid_until null) and, during a rotation,
 * the one before it until valid_until.
 */
const WEBHOOK_SECRET_TABLE = "CREATE TABLE webhook_secret (secret TEXT NOT NULL, valid_until INTEGER)";

/** Both objects keep the same row for a key (the registry all of them, a KeyObject its own). */
export function insertKey(sql: SqlStorage, row: KeyRow): void {
	sql.exec(
		"INSERT OR IGNORE INTO api_key (id, hash, name, owner_id, prefix, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		row.id,
		row.hash,
		row.name,
		row.owner_id,
		row.prefix,
		row.created_at,
		row.revoked_at,
	);
}

export const toApiKey = (r: KeyRow): ApiKey => ({
	id: r.id,
	name: r.name,
	ownerId: r.owner_id,
	prefix: r.prefix,
	createdAt: r.created_at,
	revokedAt: r.revoked_at,
});

/**
 * One API key, in an object named by the key's SHA-256: what a request's key is
 * checked against. An unknown key's object is only read, and stores nothing.
 */
export class KeyObject extends SqliteObject {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, [[KEY_TABLE, WEBHOOK_SECRET_TABLE]]);
	}

	/** Records the key (by the registry, when it is made) with its first webhook secret. */
	async init(row: KeyRow, webhookSecret: string): Promise<void> {
		this.schema.ensure();
		insertKey(this.schema.sql, row);
		if (this.#secrets().length === 0) this.schema.sql.exec("INSERT INTO webhook_secret (secret) VALUES (?)", webhookSecret);
	}

	/** Who holds the key with this hash, or null if it is unknown or revoked. */
	async caller(hash: string): Promise<Caller | null> {
		const row = this.#row();
		if (!row || row.revoked_at !== null || row.hash !== hash) return null;
		return { keyId: row.id, ownerId: row.owner_id, keyHash: row.hash };
	}

	/** The secrets that sign this key's webhooks now (two during a rotation). */
	async webhookSecrets(): Promise<string[]> {
		return this.#secrets();
	}

	/** Makes a new webhook secret; the old one keeps signing for `overlapMs`. */
	async rotateWebhookSecret(overlapMs: number): Promise<{ secret: string; previousValidUntil: number }> {
		this.schema.ensure();
		const until = Date.now() + overlapMs;
		const secret = newWebhookSecret();
		this.schema.sql.exec("DELETE FROM webhook_secret WHERE valid_until IS NOT NULL");
		this.schema.sql.exec("UPDATE webhook_secret SET valid_until = ?", until);
		this.schema.sql.exec("INSERT INTO webhook_secret (secret) VALUES (?)", secret);
		return { secret, previousValidUntil: until };
	}

	#secrets(): string[] {
		if (!this.schema.exists) return [];
		return this.schema.sql
			.exec<{ secret: string }>(
				"SELECT secret FROM webhook_secret WHERE valid_until IS NULL OR valid_until > ? ORDER BY valid_until IS NOT NULL",
				Date.now(),
			)
			.toArray()
			.map((r) => r.secret);
	}

	async revoke(at: number): Promise<void> {
		if (this.#row()) this.schema.sql.exec("UPDATE api_key SET revoked_at = COALESCE(revoked_at, ?)", at);
	}

	#row(): KeyRow | null {
		if (!this.schema.exists) return null;
		return this.schema.sql.exec<KeyRow>("SELECT * FROM api_key LIMIT 1").toArray()[0] ?? null;
	}
}
