/** `npm run check`'s import check (scripts/check-imports.mjs): src/'s folders import one way only. */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { folderCircles } from "../../scripts/check-imports.mjs";
import { ROOT } from "../../scripts/stack.mjs";

describe("the import check", () => {
	it("finds no circle among src/'s folders", () => {
		expect(folderCircles(join(ROOT, "src"))).toEqual([]);
	});

	it("names a circle through three folders, with the imports that make it; a type import counts", () => {
		const dir = join(tmpdir(), `imports-${process.pid}-${Date.now()}`);
		const write = (path, text) => {
			mkdirSync(join(dir, path, ".."), { recursive: true });
			writeFileSync(join(dir, path), text);
		};
		try {
			write("jobs/routes.ts", 'import { submit } from "../upload/submit";\n');
			write("upload/submit.ts", 'import { start } from "../resumable/start";\nimport { x } from "./local";\n');
			write("upload/local.ts", "export const x = 1;\n");
			write("resumable/start.ts", 'import type { Job } from "../jobs/routes";\n');
			write("base/config.ts", "export const y = 2;\n");
			write("objects.ts", 'import { y } from "./base/config";\n');
			expect(folderCircles(dir)).toEqual([
				{
					folders: expect.arrayContaining(["jobs", "upload", "resumable"]),
					imports: [
						"jobs/routes.ts -> upload/submit.ts",
						"resumable/start.ts -> jobs/routes.ts",
						"upload/submit.ts -> resumable/start.ts",
					],
				},
			]);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});
