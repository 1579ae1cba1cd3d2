import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FRESH_SCHEMA, MIGRATIONS, WEBHOOK_TABLES } from "../../src/jobs/object";
import { FRESH_SCHEMA as OWNER_FRESH, MIGRATIONS as OWNER_MIGRATIONS } from "../../src/owners/object";
import { Schema } from "../../src/sql";
import { env } from "./helpers";

/**
 * Every table's columns (name, type, not null, default, key) and every index of a fresh
 * object's database once `make` has run, and the migrations version a new Schema reads there.
 */
async function schemaAfter(make: (sql: SqlStorage) => void) {
	const stub = env.JOBS.get(env.JOBS.idFromName(`schema-${crypto.randomUUID()}`));
	return runInDurableObject(stub, (_obj, state) => {
		const { sql } = state.storage;
		make(sql);
		const objects = sql
			.exec<{ type: string; name: string }>(
				"SELECT type, name FROM sqlite_master WHERE name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
			)
			.toArray();
		return {
			tables: objects.filter((o) => o.type === "table" && o.name !== "schema_migrations").map((o) => o.name),
			indexes: objects.filter((o) => o.type === "index").map((o) => o.name),
			columns: objects
				.filter((o) => o.type === "table" && o.name !== "schema_migrations")
				.map((t) => ({
					table: t.name,
					columns: sql.exec(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${t.name}')`).toArray(),
				})),
			version: new Schema(sql, []).version,
		};
	});
}

/**
 * `tables` with `table`'s key NOT NULL: what a WITHOUT ROWID table's key is by definition (a rowid
 * table's merely never is null here), so a fresh schema compares equal to the migrated one.
 */
function keyNotNull(tables: Awaited<ReturnType<typeof schemaAfter>>["columns"], table: string) {
	return tables.map((t) => (t.table === table ? { ...t, columns: t.columns.map((c) => (c.pk ? { ...c, notnull: 1 } : c)) } : t));
}

describe("a job's schema", () => {
	it("made at once for a new job is the one its migrations end in", async () => {
		const migrated = await schemaAfter((sql) => new Schema(sql, MIGRATIONS).ensure());
		// A job with a callback URL: the webhook tables are made beside the fresh schema.
		const fresh = await schemaAfter((sql) => {
			new Schema(sql, MIGRATIONS, FRESH_SCHEMA).ensure();
			for (const table of WEBHOOK_TABLES) sql.exec(table);
		});
		expect(fresh.columns).toEqual(keyNotNull(migrated.columns, "job"));
		expect(fresh.tables).toEqual(migrated.tables);
		expect(fresh.version).toBe(MIGRATIONS.length);
		expect(migrated.version).toBe(MIGRATIONS.length);
		expect(fresh.columns.find((t) => t.table === "job")?.columns.length).toBeGreaterThan(30);
		// WITHOUT ROWID: the job's id is its table's key, no index beside it; no schema_migrations table either.
		expect(migrated.indexes).toContain("sqlite_autoindex_job_1");
		expect(fresh.indexes).toEqual(migrated.indexes.filter((name) => name !== "sqlite_autoindex_job_1"));
	});

	it("writes 3 rows to make a new job's schema and the job (its table and its row), far fewer than migrating", async () => {
		const rowsWritten = (make: (sql: SqlStorage) => void) =>
			runInDurableObject(env.JOBS.get(env.JOBS.idFromName(`rows-${crypto.randomUUID()}`)), (_obj, state) => {
				const { sql } = state.storage;
				let rows = 0;
				const counting = {
					exec: (q: string, ...b: unknown[]) => {
						const cursor = sql.exec(q, ...b);
						cursor.toArray();
						rows += cursor.rowsWritten;
						return cursor;
					},
				} as unknown as SqlStorage;
				make(counting);
				counting.exec(
					"INSERT INTO job (id, slug, status, original_content_type, original_bytes, created_at, updated_at) VALUES ('j', 's', 'queued', 'image/png', 1, 0, 0)",
				);
				return rows;
			});
		expect(await rowsWritten((sql) => new Schema(sql, MIGRATIONS, FRESH_SCHEMA).ensure())).toBe(3);
		expect(await rowsWritten((sql) => new Schema(sql, MIGRATIONS).ensure())).toBeGreaterThan(9);
	});

	it("is brought up to date from any earlier version, and left alone once it is", async () => {
		const latest = await schemaAfter((sql) => new Schema(sql, MIGRATIONS).ensure());
		const upgraded = await schemaAfter((sql) => {
			new Schema(sql, MIGRATIONS.slice(0, 5)).ensure();
			new Schema(sql, MIGRATIONS, FRESH_SCHEMA); // an existing database migrates when the object starts
		});
		expect(upgraded.columns).toEqual(latest.columns);
		expect(upgraded.version).toBe(MIGRATIONS.length);
	});

	it("reads its version from a new database's mark, and migrates on from there", async () => {
		const later = [...MIGRATIONS, "ALTER TABLE job ADD COLUMN added_later TEXT"];
		const upgraded = await schemaAfter((sql) => {
			new Schema(sql, MIGRATIONS, FRESH_SCHEMA).ensure();
			expect(new Schema(sql, MIGRATIONS).version).toBe(MIGRATIONS.length); // nothing to do: nothing written
			new Schema(sql, later, FRESH_SCHEMA);
		});
		expect(upgraded.version).toBe(later.length);
		expect(upgraded.columns.find((t) => t.table === "job")?.columns.at(-1)).toMatchObject({ name: "added_later" });
	});
});

describe("an owner's schema", () => {
	it("made at once for a new owner is the one its migrations end in, without a key index beside in_flight", async () => {
		const migrated = await schemaAfter((sql) => new Schema(sql, OWNER_MIGRATIONS).ensure());
		const fresh = await schemaAfter((sql) => new Schema(sql, OWNER_MIGRATIONS, OWNER_FRESH).ensure());
		expect(fresh.columns).toEqual(keyNotNull(migrated.columns, "in_flight"));
		expect(fresh.tables).toEqual(["digest", "in_flight"]);
		expect(fresh.version).toBe(OWNER_MIGRATIONS.length);
		expect(migrated.indexes).toEqual(["sqlite_autoindex_in_flight_1"]);
		expect(fresh.indexes).toEqual([]);
	});
});
