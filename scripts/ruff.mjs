// Ruff (ruff.toml) on the Thumbor origin, the test fixtures and the Python scripts, from the venv (made on demand,
// as for the local Thumbor): `npm run check` checks lint and format; `npm run format` (--fix) fixes both.
import { spawnSync } from "node:child_process";
import { ensureThumborVenv, ROOT, venvBin } from "./stack.mjs";

const fix = process.argv.includes("--fix");
ensureThumborVenv();
for (const args of fix ? [["check", "--fix"], ["format"]] : [["check"], ["format", "--check"]]) {
	const run = spawnSync(venvBin("ruff"), [...args, "thumbor", "test/fixtures", "scripts"], { cwd: ROOT, stdio: "inherit" });
	if (run.status !== 0) process.exit(run.status ?? 1);
}
