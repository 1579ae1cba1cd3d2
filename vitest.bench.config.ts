// `npm run bench:listing`: the listing and index measurements, inside workerd on the
// production wrangler.toml (test/bench/). Prints tables; asserts nothing about speed.
import { defineConfig } from "vitest/config";
import { workerdTests } from "./test/workerd.ts";

export default defineConfig({
	plugins: [workerdTests({ MAX_JOBS_IN_FLIGHT: "1000000" })],
	test: { include: ["test/bench/**/*.bench.ts"], testTimeout: 600_000, reporters: ["default"] },
});
