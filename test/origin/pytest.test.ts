/**
 * The Thumbor origin's own tests (thumbor/tests, pytest from the venv): its engine's guards
 * and memory, the log filters. Run here so that `npm test` runs everything; pytest's report is
 * shown when it fails.
 */
import { describe, expect, it } from "vitest";
import { runPytest } from "./pytest.mjs";

describe("the Thumbor origin (pytest)", () => {
	it("passes its own tests", () => {
		const { status, output } = runPytest();
		expect(status, output).toBe(0);
		expect(output).toMatch(/\d+ passed/);
	});
});
