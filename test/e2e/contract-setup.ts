/**
 * Every response the shared stack (or a stack of a test's own, startOwnStack) gives an e2e
 * test is checked against /openapi.json as it arrives: an undocumented route, status, header
 * or body shape makes that fetch throw, and so fails the test that made it (test/contract.mjs
 * says what is checked).
 */
import { inject } from "vitest";
import { contract } from "../contract.mjs";

const base = inject("baseUrl");
const realFetch = globalThis.fetch;
const spec = await (await realFetch(`${base}/openapi.json`)).json();
const check = contract(spec);

/** Origins whose answers are checked: the shared stack's, and each own stack's (support.mjs adds them). */
const shared = globalThis as { contractOrigins?: Set<string> };
shared.contractOrigins ??= new Set();
const checked: Set<string> = shared.contractOrigins;
checked.add(base);

globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
	const res = await realFetch(input, init);
	const url = input instanceof Request ? input.url : String(input);
	if (checked.has(new URL(url).origin)) {
		const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
		const problems = await check(method, url, res);
		if (problems.length > 0) throw new Error(`not as /openapi.json says:\n${problems.join("\n")}`);
	}
	return res;
};
