/**
 * Schema migrations for a Durable Object's SQLite database, applied lazily: an
 * object that is only read (a lookup of a job or claim that does not exist)
 * must store nothing, so the schema is made by the first write, and an existing
 * one is brought up to date when the object starts.
 */
export class Schema {
	#ready: boolean;

	constructor(
		readonly sql: SqlStorage,
		readonly migrations: readonly string[],
	) {
		// Reading sqlite_master writes nothing.
		this.#ready = sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").toArray().length > 0;
		if (this.#ready) this.#migrate();
	}

	/** Whether this object has ever stored anything. */
	get exists(): boolean {
		return this.#ready;
	}

	/** Makes the schema if it is not there yet: call before the first write. */
	ensure(): void {
		if (this.#ready) return;
		this.#migrate();
		this.#ready = true;
	}

	/** Deletes everything the object stored (its alarm too); the next write makes the schema again. */
	async dropAll(storage: DurableObjectStorage): Promise<void> {
		this.#ready = false;
		await storage.deleteAll();
	}

	/** The numbered migrations this database has not seen yet. */
	#migrate(): void {
		const { sql } = this;
		sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
		const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one().v ?? 0;
		this.migrations.slice(applied).forEach((statement, i) => {
			sql.exec(statement);
			sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", applied + i + 1, Date.now());
		});
	}
}
