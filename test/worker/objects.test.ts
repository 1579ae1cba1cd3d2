/**
 * The address book (src/objects.ts): with DATA_JURISDICTION set, every Durable Object the Worker
 * makes or addresses is named in a namespace restricted to that jurisdiction. workerd does not
 * implement jurisdictions ("Jurisdiction restrictions are not implemented in workerd"), so the
 * namespaces here record what they are asked: every function of the address book is called, and
 * each must ask for its id through the restricted namespace, never the unrestricted one.
 */
import { describe, expect, it } from "vitest";
import {
	digestClaim,
	idempotencyClaim,
	indexShard,
	jobStub,
	keyObject,
	keyRegistry,
	ownerStub,
	resident,
	slugClaim,
	thumborContainer,
	uploadStub,
} from "../../src/objects";
import { env } from "./helpers";

const NAMESPACES = ["JOBS", "UPLOADS", "CLAIMS", "OWNERS", "JOB_INDEX", "KEYS", "KEY_REGISTRY", "THUMBOR"] as const;

/** A namespace that records, by binding, each id asked of it and in which jurisdiction. */
function recorder(binding: string, asked: string[]) {
	const within = (jurisdiction: string | null) => ({
		idFromName: (name: string) => {
			asked.push(`${binding} ${jurisdiction ?? "anywhere"} ${name}`);
			return { name, jurisdiction };
		},
		get: (id: unknown) => ({ id }),
	});
	return { ...within(null), jurisdiction: (jurisdiction: string) => within(jurisdiction) };
}

function envIn(jurisdiction: string) {
	const asked: string[] = [];
	const namespaces = Object.fromEntries(NAMESPACES.map((name) => [name, recorder(name, asked)]));
	return { env: { ...env, ...namespaces, DATA_JURISDICTION: jurisdiction } as unknown as Env, asked };
}

/** Every function of the address book, once. */
function addressEverything(e: Env) {
	jobStub(e, "01m8hf579a46pj7cvwrb2j8xcf");
	uploadStub(e, "01m8hf579a46pj7cvwrb2j8xcf");
	slugClaim(e, "cat");
	idempotencyClaim(e, "acme", "key-1");
	ownerStub(e, "acme");
	void digestClaim(e, "acme", "e3b0").claim;
	indexShard(e, "acme", 3);
	keyObject(e, "9f2c");
	keyRegistry(e);
	thumborContainer(e, 0);
}

describe("the address book and DATA_JURISDICTION", () => {
	it("names every object in the deployment's jurisdiction, through every namespace", () => {
		const { env: eu, asked } = envIn("eu");
		addressEverything(eu);
		expect(asked.length).toBeGreaterThanOrEqual(10);
		expect(asked.filter((line) => !line.split(" ")[1]!.startsWith("eu"))).toEqual([]);
		expect(new Set(asked.map((line) => line.split(" ")[0]))).toEqual(new Set(NAMESPACES));
	});

	it("names them anywhere without it (as locally, where workerd has no jurisdictions)", () => {
		const { env: anywhere, asked } = envIn("");
		addressEverything(anywhere);
		expect(asked.every((line) => line.split(" ")[1] === "anywhere")).toBe(true);
	});

	it("refuses a jurisdiction Cloudflare does not have, rather than place objects anywhere", () => {
		const { env: mars } = envIn("mars");
		expect(() => resident(mars, mars.JOBS)).toThrow(/DATA_JURISDICTION = "mars" is not one of eu, fedramp/);
	});
});
