/**
 * A Durable Object's SQLite schema, by version: version 1 is what this release makes, and
 * each later version will be the statements that bring the one before it up to date. It is
 * made lazily: an object that is only read (a lookup of a job or claim that does not exist)
 * must store nothing, so the schema is made by the first write, and an existing one is
 * brought up to date when the object starts.
 */
import { DurableObject } from "cloudflare:workers";
import { metered, meteredSql } from "./metering";

/** Version 1's statements, then each later version's: `versions.length` is the latest. */
export type SchemaVersions = readonly (readonly string[])[];

/** How a new database records the version it was made with, at no cost: a comment in its tables' SQL. */
const MARK = (version: number) => `/* schema ${version} */`;
const MARKED = /\/\* schema (\d+) \*\//;

export class Schema {
	/** This database's version; null while it has stored nothing. */
	#version: number | null;

	constructor(
		readonly sql: SqlStorage,
		readonly versions: SchemaVersions,
	) {
		this.#version = Schema.#versionOf(sql);
		if (this.#version !== null && this.#version < versions.length) this.#migrate(this.#version);
	}

	/**
	 * The schema of a Durable Object's own database, made in its constructor (synchronous:
	 * done before any call reaches the object), on its SQL with rows counted when METER_OPS is on
	 * (in all, and by `object`, its class).
	 */
	static of(ctx: DurableObjectState, env: Env, versions: SchemaVersions, object: string): Schema {
		return new Schema(meteredSql(ctx.storage.sql, env, object), versions);
	}

	/** Whether this object has ever stored anything. */
	get exists(): boolean {
		return this.#version !== null;
	}

	/** This database's version; null while it has stored nothing. */
	get version(): number | null {
		return this.#version;
	}

	/**
	 * Makes the schema if it is not there yet: call before the first write. A new database gets
	 * the latest shape in one go (every version's statements), and records
	 * the version in a comment of each table's SQL (which SQLite keeps, through ALTER TABLE too)
	 * rather than in a table of its own: a version table and its row would be most of the few rows
	 * a new job's object writes.
	 */
	ensure(): void {
		if (this.#version !== null) return;
		const statements = this.versions.flat();
		if (!statements.some((s) => /^CREATE TABLE \w+/.test(s))) throw new Error("a schema must create a table");
		const mark = MARK(this.versions.length);
		for (const statement of statements) this.sql.exec(statement.replace(/^CREATE TABLE \w+/, (head) => `${head} ${mark}`));
		this.#version = this.versions.length;
	}

	/** Deletes everything the object stored (its alarm too); the next write makes the schema again. */
	async dropAll(storage: DurableObjectStorage): Promise<void> {
		this.#version = null;
		await storage.deleteAll();
	}

	/**
	 * A database's version: the latest in schema_migrations once it has been migrated, else the
	 * mark it was made with; null for an empty one. One read of sqlite_master (every object's
	 * start makes it; it writes nothing).
	 */
	static #versionOf(sql: SqlStorage): number | null {
		const tables = sql.exec<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table'").toArray();
		if (tables.some((t) => t.name === "schema_migrations")) {
			return sql.exec<{ v: number }>("SELECT MAX(version) AS v FROM schema_migrations").one().v;
		}
		const mark = tables.map((t) => MARKED.exec(t.sql)).find((m) => m !== null);
		return mark ? Number(mark[1]) : null;
	}

	/**
	 * Runs the versions after `from`, and records in one row how far the database now is (rows
	 * written are billed: one per version would cost a busy object more than it needs).
	 */
	#migrate(from: number): void {
		const { sql } = this;
		for (const statement of this.versions.slice(from).flat()) sql.exec(statement);
		sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
		sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", this.versions.length, Date.now());
		this.#version = this.versions.length;
	}
}

/**
 * A Durable Object with a SQLite database of its own: its schema, made lazily (Schema), on
 * SQL whose rows are counted when METER_OPS is on, and its env metered likewise.
 */
export abstract class SqliteObject extends DurableObject<Env> {
	protected readonly schema: Schema;
	protected readonly sql: SqlStorage;

	constructor(ctx: DurableObjectState, env: Env, versions: SchemaVersions) {
		super(ctx, metered(env));
		this.schema = Schema.of(ctx, env, versions, new.target.name);
		this.sql = this.schema.sql;
	}
}
