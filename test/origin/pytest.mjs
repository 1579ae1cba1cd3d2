// Runs thumbor/tests with the venv's pytest (made on demand, as for the local Thumbor).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ensureThumborVenv, ROOT, venvBin } from "../../scripts/stack.mjs";

export function runPytest() {
	ensureThumborVenv();
	const run = spawnSync(venvBin("python"), ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], {
		cwd: join(ROOT, "thumbor"),
		encoding: "utf8",
		env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
	});
	return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
