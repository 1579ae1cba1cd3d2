/** The docs tell what the code does: the metrics columns in docs/observability.md are src/base/metrics.ts's. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack.mjs";
import { columns, JOB, UPLOAD, WEBHOOK } from "../../src/base/metrics.ts";

const doc = readFileSync(join(ROOT, "docs", "observability.md"), "utf8");

describe("docs/observability.md", () => {
	it.each([UPLOAD, JOB, WEBHOOK])("lists the $event event's columns as the code writes them", (kind) => {
		const row = doc.split("\n").find((line) => line.startsWith(`| \`${kind.event}\` |`));
		expect(row, `no row for ${kind.event}`).toBeDefined();
		const documented = [...row.matchAll(/`((?:blob|double)\d+)` (\w+)/g)].map(([, column, name]) => [name, column]);
		const { event: _, ...written } = columns(kind);
		expect(Object.fromEntries(documented)).toEqual(written);
	});
});
