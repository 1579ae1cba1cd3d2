/** Applies the numbered schema migrations a Durable Object's SQLite database has not seen yet. */
export function migrate(sql: SqlStorage, migrations: readonly string[]): void {
	sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
	const applied = sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").one().v ?? 0;
	migrations.slice(applied).forEach((statement, i) => {
		sql.exec(statement);
		sql.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", applied + i + 1, Date.now());
	});
}
