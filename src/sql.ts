/**
 * Schema migrations for a Durable Object's SQLite database, applied lazily: an
 * object that is only read (a lookup of a job or claim that does not exist)
 * must store nothing, so the schema is made by the first write, and an existing
 * one is brought up to date when the object starts.
 */
import { meteredSql } from "./metering";

/** How a new database records the migrations it was made with, at no cost: a comment in its first table's SQL. */
const MARK = (version: number) => `/* schema ${version} */`;
const MARKED = /\/\* schema (\d+) \*\//;

export class Schema {
	/** How many of the migrations this database has; null while it has stored nothing. */
	#version: number | null;

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
		this.#version = Schema.#versionOf(sql);
		if (this.#version !== null && this.#version < migrations.length) this.#migrate(this.#version);
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
		return this.#version !== null;
	}

	/** How many of the migrations this database has; null while it has stored nothing. */
	get version(): number | null {
		return this.#version;
	}

	/**
	 * Makes the schema if it is not there yet: call before the first write. A new database
	 * gets the latest schema in one go, and records that in a comment of its first table's SQL
	 * (which SQLite keeps, through ALTER TABLE too) rather than in a table of its own: a
	 * schema_migrations table and its row would be 3 of the few rows a new job's object writes.
	 */
	ensure(): void {
		if (this.#version !== null) return;
		let marked = false;
		for (const statement of this.fresh ?? this.migrations) {
			const first: boolean = !marked && /^CREATE TABLE \w+/.test(statement);
			this.sql.exec(
				first ? statement.replace(/^CREATE TABLE \w+/, (head) => `${head} ${MARK(this.migrations.length)}`) : statement,
			);
			marked ||= first;
		}
		if (!marked) throw new Error("a schema's migrations must create a table");
		this.#version = this.migrations.length;
	}

	/** Deletes everything the object stored (its alarm too); the next write makes the schema again. */
	async dropAll(storage: DurableObjectStorage): Promise<void> {
		this.#version = null;
		await storage.deleteAll();
	}

	/**
	 * How far a database's migrations have gone: its schema_migrations table, else its mark; null
	 * for an empty one. One read of sqlite_master (every object's start makes it; it writes nothing).
	 */
	static #versionOf(sql: SqlStorage): number | null {
		const tables = sql.exec<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table'").toArray();
		if (tables.some((t) => t.name === "schema_migrations")) {
			return sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one().v ?? 0;
		}
		const mark = tables.map((t) => MARKED.exec(t.sql)).find((m) => m !== null);
		return mark ? Number(mark[1]) : null;
	}

	/**
	 * The migrations after `from` that this database has not seen yet, and one row saying how
	 * far it now is (rows written are billed: one per migration would be most of a new job's).
	 */
	#migrate(from: number): void {
		const { sql } = this;
		for (const statement of this.migrations.slice(from)) sql.exec(statement);
		sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
		sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", this.migrations.length, Date.now());
		this.#version = this.migrations.length;
	}
}
