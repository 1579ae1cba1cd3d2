import { describe, expect, it } from "vitest";
import { ALL, FORMATS, operation } from "../../scripts/renditions.mjs";
import { ALL_RENDITIONS, parseRenditionName, renditionName, FORMATS as WORKER_FORMATS } from "../../src/base/renditions.ts";
import { originAsk } from "../../src/render/thumbor-path.ts";

describe("the benchmarks' renditions (scripts/renditions.mjs)", () => {
	it("are the Worker's family, at the Worker's settings, asked for as the Worker asks", async () => {
		expect(ALL).toEqual(ALL_RENDITIONS.map(renditionName));
		for (const [format, { thumbor, quality }] of Object.entries(WORKER_FORMATS)) {
			expect(FORMATS[format]).toEqual({ thumbor, quality });
		}
		for (const [names, focus] of [
			[["webp@1x"], null],
			[["webp@1x", "webp@2x"], null],
			[ALL.slice(2), "0.2500,0.5000"],
		]) {
			const { path } = await originAsk("k", "name", names.map(parseRenditionName), focus);
			expect(path.split("/").slice(2, -1).join("/")).toBe(operation(names, focus));
		}
	});
});
