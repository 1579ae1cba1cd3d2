// `npm run check` runs this: the folders of src/ import one another in one direction only. A
// folder (or a file at src/'s top, such as objects.ts) that imports, directly or through others,
// a folder that imports it back is a circle; each circle is printed with the imports that make
// it, and the check fails. Type-only imports count too: they tie the folders' meanings together.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Every .ts file below `dir` (generated declarations left out). */
function sources(dir) {
	return readdirSync(dir).flatMap((name) => {
		const path = join(dir, name);
		if (statSync(path).isDirectory()) return sources(path);
		return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
	});
}

/**
 * The circles among the top-level folders of `srcDir`: each a list of folders, with the imports
 * (`file -> file`) that lead from one to the next. Empty when every import points one way.
 */
export function folderCircles(srcDir) {
	const unit = (file) => relative(srcDir, file).split("/")[0].replace(/\.ts$/, "");
	/** unit -> unit -> the imports that make that edge */
	const edges = new Map();
	for (const file of sources(srcDir)) {
		const text = readFileSync(file, "utf8");
		for (const [, spec] of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gms)) {
			const target = resolve(dirname(file), spec.endsWith(".ts") ? spec : `${spec}.ts`);
			const [from, to] = [unit(file), unit(target)];
			if (from === to) continue;
			if (!edges.has(from)) edges.set(from, new Map());
			const why = edges.get(from).get(to) ?? [];
			why.push(`${relative(srcDir, file)} -> ${relative(srcDir, target)}`);
			edges.get(from).set(to, why);
		}
	}
	// Tarjan's strongly connected components: a component of more than one unit is a circle.
	const index = new Map();
	const low = new Map();
	const stack = [];
	const onStack = new Set();
	const circles = [];
	let next = 0;
	const visit = (v) => {
		index.set(v, next);
		low.set(v, next++);
		stack.push(v);
		onStack.add(v);
		for (const w of edges.get(v)?.keys() ?? []) {
			if (!index.has(w)) {
				visit(w);
				low.set(v, Math.min(low.get(v), low.get(w)));
			} else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
		}
		if (low.get(v) !== index.get(v)) return;
		const component = [];
		for (let w = stack.pop(); ; w = stack.pop()) {
			onStack.delete(w);
			component.push(w);
			if (w === v) break;
		}
		if (component.length < 2) return;
		const members = new Set(component);
		const imports = [];
		for (const from of component.sort()) {
			for (const [to, why] of edges.get(from) ?? []) if (members.has(to)) imports.push(...why);
		}
		circles.push({ folders: component, imports });
	};
	for (const v of edges.keys()) if (!index.has(v)) visit(v);
	return circles;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const srcDir = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "src"));
	const circles = folderCircles(srcDir);
	for (const { folders, imports } of circles) {
		console.error(`src/ folders import each other in a circle: ${folders.join(", ")}`);
		for (const line of imports) console.error(`  ${line}`);
	}
	if (circles.length > 0) process.exit(1);
}
