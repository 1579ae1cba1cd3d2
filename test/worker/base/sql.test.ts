import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SCHEMA as OWNER_SCHEMA } from "../../../src/access/owner-object";
import { Schema, type SchemaVersions } from "../../../src/base/sql";
import { JOB_SCHEMA } from "../../../src/jobs/schema";
import { SCHEMA as INDEX_SCHEMA } from "../../../src/listing/job-index-shard";
import { env } from "../helpers";

/** Runs `make` on a fresh object's database; what it then holds, and rows `make` wrote. */
async function afterMaking(make: (sql: SqlStorage) => void) {
	const stub = env.JOBS.get(env.JOBS.idFromName(`schema-${crypto.randomUUID()}`));
	return runInDurableObject(stub, (_obj, state) => {
		const { sql } = state.storage;
		let rowsWritten = 0;
		const counting = {
			exec: (q: string, ...b: SqlStorageValue[]) => {
				const cursor = sql.exec(q, ...b);
				const rows = cursor.toArray(); // read to the end, so that rowsWritten is complete
				rowsWritten += cursor.rowsWritten;
				return { toArray: () => rows, one: () => rows[0] };
			},
		} as unknown as SqlStorage;
		make(counting);
		const objects = sql
			.exec<{ type: string; name: string }>(
				"SELECT type, name FROM sqlite_master WHERE name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
			)
			.toArray();
		const tables = objects.filter((o) => o.type === "table").map((o) => o.name);
		return {
			tables,
			indexes: objects.filter((o) => o.type === "index").map((o) => o.name),
			columns: (table: string) => tables.includes(table),
			jobColumns: tables.includes("job")
				? sql
						.exec<{ name: string }>("SELECT name FROM pragma_table_info('job')")
						.toArray()
						.map((c) => c.name)
				: [],
			version: new Schema(sql, []).version,
			rowsWritten,
		};
	});
}

const addedLater: SchemaVersions = [...JOB_SCHEMA, ["ALTER TABLE job ADD COLUMN added_later TEXT"]];

describe("a job's schema (version 1)", () => {
	it("is made for a new job in one go: table WITHOUT ROWID, version in a comment — 3 rows with the job's", async () => {
		const made = await afterMaking((sql) => {
			new Schema(sql, JOB_SCHEMA).ensure();
			sql.exec(
				`INSERT INTO job (id, owner_id, slug, trace_id, sha256, status, original_content_type, original_bytes, created_at, updated_at)
				 VALUES ('j', 'o', 's', 't', '', 'queued', 'image/png', 1, 0, 0)`,
			);
		});
		expect(made.tables).toEqual(["job"]);
		expect(made.indexes).toEqual([]); // the id is the table's key: no index beside it
		expect(made.version).toBe(1);
		expect(made.rowsWritten).toBe(3);
		expect(made.jobColumns).not.toContain("original_served_attempt");
		expect(made.jobColumns).not.toContain("writing_until");
	});
});

describe("a schema's later versions", () => {
	it("bring a version-1 database up to date when its object starts, once, and record how far it went", async () => {
		const upgraded = await afterMaking((sql) => {
			new Schema(sql, JOB_SCHEMA).ensure();
			expect(new Schema(sql, JOB_SCHEMA).version).toBe(1); // up to date: nothing to do
			expect(new Schema(sql, addedLater).version).toBe(2); // migrates as the object starts
			expect(new Schema(sql, addedLater).version).toBe(2); // and not again
		});
		expect(upgraded.jobColumns.at(-1)).toBe("added_later");
		expect(upgraded.tables).toEqual(["job", "schema_migrations"]);
		expect(upgraded.version).toBe(2);
	});

	it("are made in one go for a new database, which records the latest version", async () => {
		const made = await afterMaking((sql) => new Schema(sql, addedLater).ensure());
		expect(made.version).toBe(2);
		expect(made.jobColumns).toContain("added_later");
		expect(made.tables).toEqual(["job"]);
	});

	it("leave an object that was only read without a schema: nothing is written", async () => {
		const read = await afterMaking((sql) => {
			expect(new Schema(sql, addedLater).exists).toBe(false);
		});
		expect(read).toMatchObject({ tables: [], version: null, rowsWritten: 0 });
	});
});

describe("an owner's schema (version 1)", () => {
	it("keeps in_flight, digest and usage WITHOUT ROWID: no index beside any", async () => {
		const made = await afterMaking((sql) => new Schema(sql, OWNER_SCHEMA).ensure());
		expect(made.tables).toEqual(["digest", "in_flight", "usage"]);
		expect(made.indexes).toEqual([]);
		expect(made.version).toBe(1);
	});
});

describe("a listing shard's schema (version 1)", () => {
	const entry = (sql: SqlStorage, id: string, status: string, version: number) =>
		sql.exec(
			`INSERT INTO entry (job_id, status, version, job) VALUES (?, ?, ?, '{}')
			 ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, version = excluded.version, job = excluded.job
			 WHERE excluded.version > entry.version`,
			id,
			status,
			version,
		);

	it("is made WITHOUT ROWID, with only unfinished jobs indexed by status: a job's two reports write 3 rows", async () => {
		const schemaOnly = await afterMaking((sql) => new Schema(sql, INDEX_SCHEMA).ensure());
		const made = await afterMaking((sql) => {
			new Schema(sql, INDEX_SCHEMA).ensure();
			entry(sql, "j1", "queued", 0);
			entry(sql, "j1", "done", 3);
		});
		expect(made.tables).toEqual(["entry"]);
		expect(made.indexes).toEqual(["entry_unfinished"]);
		expect(made.version).toBe(1);
		expect(made.rowsWritten - schemaOnly.rowsWritten).toBe(3);
		expect(schemaOnly.rowsWritten).toBe(3);
	});

	it("finds unfinished jobs through the index", async () => {
		await afterMaking((sql) => {
			new Schema(sql, INDEX_SCHEMA).ensure();
			entry(sql, "j1", "done", 2);
			entry(sql, "j2", "failed", 2);
			const plan = sql
				.exec<{ detail: string }>(
					"EXPLAIN QUERY PLAN SELECT job FROM entry WHERE job_id < ? AND status = ? AND status <> 'done' ORDER BY job_id DESC LIMIT ?",
					"~",
					"failed",
					10,
				)
				.toArray()
				.map((r) => r.detail)
				.join("; ");
			expect(plan).toContain("entry_unfinished");
			expect(sql.exec("SELECT job_id, status FROM entry ORDER BY job_id").toArray()).toEqual([
				{ job_id: "j1", status: "done" },
				{ job_id: "j2", status: "failed" },
			]);
		});
	});
});
