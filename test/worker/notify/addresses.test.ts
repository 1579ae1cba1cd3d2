import { describe, expect, it } from "vitest";
import { classifyAddress, IPV4_BLOCKS, IPV6_BLOCKS, parseV4, parseV6 } from "../../../src/notify/addresses";
import { checkCallbackUrl } from "../../../src/notify/url";

/** The first and last address of a prefix, spelt as URL parsing prints them. */
function ends(prefix: string): [string, string] {
	const [addr, len] = prefix.split("/");
	const bits = Number(len);
	if (addr!.includes(":")) {
		const base = parseV6(addr!)!;
		const last = base | ((1n << BigInt(128 - bits)) - 1n);
		return [v6(base), v6(last)];
	}
	const base = parseV4(addr!)!;
	const last = base + 2 ** (32 - bits) - 1;
	return [v4(base), v4(last)];
}
const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const v6 = (n: bigint) =>
	new URL(
		`https://[${[...Array(8)].map((_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":")}]/`,
	).hostname.slice(1, -1);

/** The most specific row holding an address: what the verdict must follow. */
function deciding(blocks: typeof IPV4_BLOCKS, address: string) {
	const isV6 = address.includes(":");
	const n = isV6 ? parseV6(address)! : BigInt(parseV4(address)!);
	const width = isV6 ? 128 : 32;
	return blocks
		.filter((b) => {
			const [addr, len] = b.prefix.split("/");
			const base = isV6 ? parseV6(addr!)! : BigInt(parseV4(addr!)!);
			const shift = BigInt(width - Number(len));
			return n >> shift === base >> shift;
		})
		.sort((a, b) => Number(b.prefix.split("/")[1]) - Number(a.prefix.split("/")[1]))[0];
}

describe("the IANA special-purpose address table", () => {
	// Rows whose embedded IPv4 address decides are tested below, with both kinds of IPv4 inside.
	const plain = [...IPV4_BLOCKS, ...IPV6_BLOCKS].filter((b) => !b.embedsV4 && b.prefix !== "::/0");
	it.each(plain.map((b) => [b.prefix, b.name, b.global] as const))(
		"%s (%s): global %s, at both ends",
		(prefix, name, _global) => {
			for (const address of ends(prefix)) {
				const row = deciding(address.includes(":") ? IPV6_BLOCKS : IPV4_BLOCKS, address)!;
				if (row.embedsV4) continue; // decided by the IPv4 address inside: tested below
				// An end may fall in a more specific row (192.0.0.0 is in 192.0.0.0/29): that row decides.
				expect(classifyAddress(address).global, `${address} (${row.name})`).toBe(row.global);
				if (row.prefix === prefix) expect(classifyAddress(address).why).toContain(name);
			}
		},
	);

	it("refuses IPv6 outside global unicast 2000::/3", () => {
		for (const address of ["1::", "4000::1", "8000::", "e000::1", "fb00::"]) expect(classifyAddress(address).global).toBe(false);
	});

	it.each([
		// spelling, the IPv4 inside, whether it may be called
		["::ffff:7f00:1", "127.0.0.1 IPv4-mapped", false],
		["::ffff:808:808", "8.8.8.8 IPv4-mapped (never global)", false],
		["::7f00:1", "127.0.0.1 IPv4-compatible", false],
		["::808:808", "8.8.8.8 IPv4-compatible (deprecated: never global)", false],
		["64:ff9b::7f00:1", "127.0.0.1 by NAT64", false],
		["64:ff9b::a00:1", "10.0.0.1 by NAT64", false],
		["64:ff9b::808:808", "8.8.8.8 by NAT64", true],
		["64:ff9b:1::7f00:1", "local-use NAT64, whatever inside", false],
		["64:ff9b:1::808:808", "local-use NAT64, whatever inside", false],
		["2002:7f00:1::", "127.0.0.1 by 6to4", false],
		["2002:c0a8:101::1", "192.168.1.1 by 6to4", false],
		["2002:808:808::1", "8.8.8.8 by 6to4", true],
		// Teredo: 2001:0:<server>:<flags>:<port>:<client, bits flipped>
		["2001:0:808:808:0:0:80ff:fffe", "client 127.0.0.1, server 8.8.8.8", false],
		["2001:0:a00:1:0:0:f7f7:f7f7", "server 10.0.0.1, client 8.8.8.8", false],
		["2001:0:808:808:0:0:f7f7:f7f7", "server and client 8.8.8.8", true],
	])("%s (%s): global %s", (address, _, global) => {
		expect(classifyAddress(address).global).toBe(global);
	});
});

describe("callback URLs spelling a private address in IPv6", () => {
	it.each([
		"https://[::7f00:1]/",
		"https://[::127.0.0.1]/",
		"https://[2002:7f00:1::]/",
		"https://[64:ff9b:1::7f00:1]/",
		"https://[2001:db8::1]/",
	])("refuses %s", (url) => {
		expect(() => checkCallbackUrl(url, [])).toThrow(/not globally reachable/);
	});

	it("names the IPv4 address inside in the refusal", () => {
		expect(() => checkCallbackUrl("https://[2002:7f00:1::]/", [])).toThrow(/6to4 \(RFC 3056\) of 127\.0\.0\.1: Loopback/);
	});

	it.each(["https://[2002:808:808::1]/", "https://[64:ff9b::808:808]/", "https://192.0.0.9/", "https://[2001:4:112::1]/"])(
		"accepts %s",
		(url) => {
			expect(checkCallbackUrl(url, [])).toBe(new URL(url).href);
		},
	);
});
