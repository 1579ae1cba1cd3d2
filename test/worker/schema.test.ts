import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FRESH_SCHEMA, MIGRATIONS, WEBHOOK_TABLES } from "../../src/jobs/object";
import { Schema } from "../../src/sql";
import { env } from "./helpers";

/** Every table's columns (name, type, not null, default, key) and every index of a fresh object's database once `make` has run. */
async function schemaAfter(make: (sql: SqlStorage) => void) {
	const stub = env.JOBS.get(env.JOBS.idFromName(`schema-${crypto.randomUUID()}`));
	return runInDurableObject(stub, (_obj, state) => {
		const { sql } = state.storage;
		make(sql);
		const objects = sql
			.exec<{ type: string; name: string; tbl_name: string }>("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name")
			.toArray();
		return {
			objects,
			columns: objects
				.filter((o) => o.type === "table")
				.map((t) => ({ table: t.name, columns: sql.exec(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${t.name}')`).toArray() })),
			version: sql.exec<{ v: number }>("SELECT MAX(version) AS v FROM schema_migrations").one().v,
		};
	});
}

describe("a job's schema", () => {
	it("made at once for a new job is the one its migrations end in", async () => {
		const migrated = await schemaAfter((sql) => new Schema(sql, MIGRATIONS).ensure());
		// A job with a callback URL: the webhook tables are made beside the fresh schema.
		const fresh = await schemaAfter((sql) => {
			new Schema(sql, MIGRATIONS, FRESH_SCHEMA).ensure();
			for (const table of WEBHOOK_TABLES) sql.exec(table);
		});
		expect(fresh).toEqual(migrated);
		expect(fresh.version).toBe(MIGRATIONS.length);
		expect(fresh.columns.find((t) => t.table === "job")?.columns.length).toBeGreaterThan(30);
	});

	it("is brought up to date from any earlier version, and left alone once it is", async () => {
		const latest = await schemaAfter((sql) => new Schema(sql, MIGRATIONS).ensure());
		const upgraded = await schemaAfter((sql) => {
			new Schema(sql, MIGRATIONS.slice(0, 5)).ensure();
			new Schema(sql, MIGRATIONS, FRESH_SCHEMA); // an existing database migrates when the object starts
		});
		expect(upgraded.columns).toEqual(latest.columns);
	});
});
