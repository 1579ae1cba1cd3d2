import { count } from "../base/metering";
import { SqliteObject } from "../base/sql";

/** Version 1: the claim's one row (none while the name is free). */
const SCHEMA = [
	[
		`CREATE TABLE claim (
		owner TEXT NOT NULL,
		fingerprint TEXT NOT NULL DEFAULT '',
		claimed_at INTEGER NOT NULL,
		expires_at INTEGER
	)`,
	],
];

/** Who holds a name, since when, and what they asked for when they took it. */
export interface Claim {
	owner: string;
	fingerprint: string;
	claimedAt: number;
}

/**
 * The holder of one name, in an object named by it: `slug:<slug>` (held for
 * good, which is what lets /thumbnails/<slug>.webp be cached forever) or
 * `idempotency:<key>` (held for a day). Asking who holds a free name stores
 * nothing; a released or expired claim leaves nothing behind.
 */
export class ClaimObject extends SqliteObject {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env, SCHEMA);
	}

	/** The current claim, if any and not expired. */
	async holder(): Promise<Claim | null> {
		if (!this.schema.exists) return null;
		const row = this.sql
			.exec<{ owner: string; fingerprint: string; claimed_at: number; expires_at: number | null }>(
				"SELECT owner, fingerprint, claimed_at, expires_at FROM claim",
			)
			.toArray()[0];
		if (!row || (row.expires_at !== null && row.expires_at <= Date.now())) return null;
		return { owner: row.owner, fingerprint: row.fingerprint, claimedAt: row.claimed_at };
	}

	/**
	 * Takes the name for `owner` unless someone holds it; returns whoever holds it
	 * afterwards (`owner` itself when the claim succeeded or was already theirs).
	 */
	async claim(owner: string, { fingerprint = "", ttlMs }: { fingerprint?: string; ttlMs?: number } = {}): Promise<Claim> {
		const current = await this.holder();
		if (current) return current;
		const now = Date.now();
		const expiresAt = ttlMs === undefined ? null : now + ttlMs;
		this.schema.ensure();
		this.sql.exec("DELETE FROM claim");
		this.sql.exec(
			"INSERT INTO claim (owner, fingerprint, claimed_at, expires_at) VALUES (?, ?, ?, ?)",
			owner,
			fingerprint,
			now,
			expiresAt,
		);
		if (expiresAt !== null) await this.ctx.storage.setAlarm(expiresAt);
		return { owner, fingerprint, claimedAt: now };
	}

	/** Gives the name up, if `owner` holds it (a claim whose request failed). */
	async release(owner: string): Promise<void> {
		if ((await this.holder())?.owner === owner) await this.schema.dropAll(this.ctx.storage);
	}

	/** Deletes an expired claim, and with it everything this object stored. */
	override async alarm(): Promise<void> {
		count("do alarm ClaimObject");
		if ((await this.holder()) === null) await this.schema.dropAll(this.ctx.storage);
	}
}
