/**
 * Schema migrations for a Durable Object's SQLite database, applied lazily: an
 * object that is only read (a lookup of a job or claim that does not exist)
 * must store nothing, so the schema is made by the first write, and an existing
 * one is brought up to date when the object starts.
 */
import { meteredSql } from "./metering";

export class Schema {
	#ready: boolean;

	/**
	 * `migrations` bring any earlier database up to date, one statement at a time; `fresh`,
	 * if given, makes the latest schema at once for a new database (a new object per job
	 * would otherwise write a row per migration, and rows written are billed). Both must
	 * end in the same schema: a test compares them.
	 */
	constructor(
		readonly sql: SqlStorage,
		readonly migrations: readonly string[],
		readonly fresh?: readonly string[],
	) {
		// Reading sqlite_master writes nothing.
		this.#ready = sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").toArray().length > 0;
		if (this.#ready) this.#migrate();
	}

	/**
	 * The schema of a Durable Object's own database, made in its constructor (synchronous:
	 * done before any call reaches the object), on its SQL with rows counted when METER_OPS is on.
	 */
	static of(ctx: DurableObjectState, env: Env, migrations: readonly string[], fresh?: readonly string[]): Schema {
		return new Schema(meteredSql(ctx.storage.sql, env), migrations, fresh);
	}

	/** Whether this object has ever stored anything. */
	get exists(): boolean {
		return this.#ready;
	}

	/** Makes the schema if it is not there yet: call before the first write. */
	ensure(): void {
		if (this.#ready) return;
		if (this.fresh) {
			this.sql.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
			for (const statement of this.fresh) this.sql.exec(statement);
			this.sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", this.migrations.length, Date.now());
		} else {
			this.#migrate();
		}
		this.#ready = true;
	}

	/** Deletes everything the object stored (its alarm too); the next write makes the schema again. */
	async dropAll(storage: DurableObjectStorage): Promise<void> {
		this.#ready = false;
		await storage.deleteAll();
	}

	/**
	 * The numbered migrations this database has not seen yet, and one row saying how far
	 * it now is (rows written are billed: one per migration would be most of a new job's).
	 */
	#migrate(): void {
		const { sql } = this;
		sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
		const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one().v ?? 0;
		if (applied >= this.migrations.length) return;
		for (const statement of this.migrations.slice(applied)) sql.exec(statement);
		sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", this.migrations.length, Date.now());
	}
}
