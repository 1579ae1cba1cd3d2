import { settings } from "../base/config";
import type { ApiKey, NewApiKey } from "../base/contracts";
import { ulid } from "../base/ids";
import { SqliteObject } from "../base/sql";
import { keyObject } from "../objects";
import { insertKey, KEY_TABLE, type KeyRow, toApiKey } from "./key-object";
import { newKeySecret, newWebhookSecret, sha256Hex, shownPrefix } from "./keys";

/**
 * Every API key's record (never the secret), for the admin API: one object, on the
 * admin path only — requests are checked against each key's own KeyObject.
 */
export class KeyRegistry extends SqliteObject {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, [[KEY_TABLE]]);
	}

	/** Makes a key and its webhook secret; both are in the answer, and the key nowhere else. */
	async create(input: NewApiKey): Promise<{ key: ApiKey; secret: string; webhookSecret: string }> {
		this.schema.ensure();
		const secret = await newKeySecret(settings(this.env).KEY_CHECKSUM_SECRET);
		const row: KeyRow = {
			id: `key_${ulid()}`,
			hash: await sha256Hex(secret),
			name: input.name,
			owner_id: input.ownerId,
			prefix: shownPrefix(secret),
			created_at: Date.now(),
			revoked_at: null,
		};
		const webhookSecret = newWebhookSecret();
		await keyObject(this.env, row.hash).init(row, webhookSecret);
		insertKey(this.schema.sql, row);
		return { key: toApiKey(row), secret, webhookSecret };
	}

	/** Every owner that has a key. */
	async owners(): Promise<string[]> {
		if (!this.schema.exists) return [];
		return this.schema.sql
			.exec<{ owner_id: string }>("SELECT DISTINCT owner_id FROM api_key ORDER BY owner_id")
			.toArray()
			.map((r) => r.owner_id);
	}

	async list(ownerId?: string): Promise<ApiKey[]> {
		if (!this.schema.exists) return [];
		const rows = ownerId
			? this.schema.sql.exec<KeyRow>("SELECT * FROM api_key WHERE owner_id = ? ORDER BY id", ownerId)
			: this.schema.sql.exec<KeyRow>("SELECT * FROM api_key ORDER BY id");
		return rows.toArray().map(toApiKey);
	}

	/** A new webhook secret for key `id` (the old one signs too for `overlapMs`); null if there is no such key. */
	async rotateWebhookSecret(id: string, overlapMs: number): Promise<{ secret: string; previousValidUntil: number } | null> {
		const row = this.#byId(id);
		if (!row) return null;
		return keyObject(this.env, row.hash).rotateWebhookSecret(overlapMs);
	}

	/** Revokes key `id`; null if there is no such key. Revoking twice changes nothing. */
	async revoke(id: string): Promise<ApiKey | null> {
		const row = this.#byId(id);
		if (!row) return null;
		const at = row.revoked_at ?? Date.now();
		await keyObject(this.env, row.hash).revoke(at);
		this.schema.sql.exec("UPDATE api_key SET revoked_at = ? WHERE id = ?", at, id);
		return toApiKey({ ...row, revoked_at: at });
	}

	#byId(id: string): KeyRow | null {
		if (!this.schema.exists) return null;
		return this.schema.sql.exec<KeyRow>("SELECT * FROM api_key WHERE id = ?", id).toArray()[0] ?? null;
	}
}
