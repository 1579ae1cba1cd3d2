/**
 * Whether an IP address is globally reachable, by the IANA special-purpose address
 * registries (iana-ipv4-special-registry, iana-ipv6-special-registry; rows as of 2025)
 * plus the address space outside them that no one may route to (IPv4 multicast; in
 * IPv6, everything outside global unicast 2000::/3). The most specific row that holds an
 * address decides. IPv6 rows that carry an IPv4 address (NAT64, 6to4, Teredo) and are
 * otherwise global hold only if the IPv4 address they carry does; IPv4-mapped and
 * IPv4-compatible addresses are never global. So no spelling of a private IPv4 address
 * gets through as IPv6.
 *
 * A general tool: it knows nothing of webhooks or HTTP. Addresses are taken as URL parsing
 * prints them (IPv4 dotted quads; IPv6 compressed, lowercase, without brackets).
 */

/** One registry row: `global` is the registry's "Globally Reachable" column. */
export interface AddressBlock {
	prefix: string;
	name: string;
	global: boolean;
	/** For IPv6 rows that carry an IPv4 address: where it sits (a global row also needs it to be global). */
	embedsV4?: "last32" | "6to4" | "teredo";
}

/** IANA IPv4 Special-Purpose Address Registry, and IPv4 multicast (RFC 5771). */
export const IPV4_BLOCKS: readonly AddressBlock[] = [
	{ prefix: "0.0.0.0/8", name: '"This network" (RFC 791)', global: false },
	{ prefix: "0.0.0.0/32", name: '"This host on this network" (RFC 1122)', global: false },
	{ prefix: "10.0.0.0/8", name: "Private-Use (RFC 1918)", global: false },
	{ prefix: "100.64.0.0/10", name: "Shared Address Space (RFC 6598)", global: false },
	{ prefix: "127.0.0.0/8", name: "Loopback (RFC 1122)", global: false },
	{ prefix: "169.254.0.0/16", name: "Link Local (RFC 3927)", global: false },
	{ prefix: "172.16.0.0/12", name: "Private-Use (RFC 1918)", global: false },
	{ prefix: "192.0.0.0/24", name: "IETF Protocol Assignments (RFC 6890)", global: false },
	{ prefix: "192.0.0.0/29", name: "IPv4 Service Continuity Prefix (RFC 7335)", global: false },
	{ prefix: "192.0.0.8/32", name: "IPv4 dummy address (RFC 7600)", global: false },
	{ prefix: "192.0.0.9/32", name: "Port Control Protocol Anycast (RFC 7723)", global: true },
	{ prefix: "192.0.0.10/32", name: "Traversal Using Relays around NAT Anycast (RFC 8155)", global: true },
	{ prefix: "192.0.0.170/32", name: "NAT64/DNS64 Discovery (RFC 7050)", global: false },
	{ prefix: "192.0.0.171/32", name: "NAT64/DNS64 Discovery (RFC 7050)", global: false },
	{ prefix: "192.0.2.0/24", name: "Documentation, TEST-NET-1 (RFC 5737)", global: false },
	{ prefix: "192.31.196.0/24", name: "AS112-v4 (RFC 7535)", global: true },
	{ prefix: "192.52.193.0/24", name: "AMT (RFC 7450)", global: true },
	{ prefix: "192.88.99.0/24", name: "Deprecated 6to4 Relay Anycast (RFC 7526)", global: false },
	{ prefix: "192.168.0.0/16", name: "Private-Use (RFC 1918)", global: false },
	{ prefix: "192.175.48.0/24", name: "Direct Delegation AS112 Service (RFC 7534)", global: true },
	{ prefix: "198.18.0.0/15", name: "Benchmarking (RFC 2544)", global: false },
	{ prefix: "198.51.100.0/24", name: "Documentation, TEST-NET-2 (RFC 5737)", global: false },
	{ prefix: "203.0.113.0/24", name: "Documentation, TEST-NET-3 (RFC 5737)", global: false },
	{ prefix: "224.0.0.0/4", name: "Multicast (RFC 5771)", global: false },
	{ prefix: "240.0.0.0/4", name: "Reserved (RFC 1112)", global: false },
	{ prefix: "255.255.255.255/32", name: "Limited Broadcast (RFC 919)", global: false },
];

/**
 * IANA IPv6 Special-Purpose Address Registry, IPv4-compatible addresses (deprecated by
 * RFC 4291, still routed to their IPv4 address by some stacks), multicast, and the rule
 * that only 2000::/3 is global unicast (the rest is unassigned or reserved by the IETF).
 */
export const IPV6_BLOCKS: readonly AddressBlock[] = [
	{ prefix: "::/0", name: "Outside global unicast 2000::/3 (RFC 4291)", global: false },
	{ prefix: "2000::/3", name: "Global Unicast (RFC 4291)", global: true },
	{ prefix: "::/128", name: "Unspecified Address (RFC 4291)", global: false },
	{ prefix: "::1/128", name: "Loopback Address (RFC 4291)", global: false },
	{ prefix: "::/96", name: "IPv4-compatible (deprecated, RFC 4291)", global: false, embedsV4: "last32" },
	{ prefix: "::ffff:0:0/96", name: "IPv4-mapped Address (RFC 4291)", global: false, embedsV4: "last32" },
	{ prefix: "64:ff9b::/96", name: "IPv4-IPv6 Translation (RFC 6052)", global: true, embedsV4: "last32" },
	{ prefix: "64:ff9b:1::/48", name: "IPv4-IPv6 Translation, local use (RFC 8215)", global: false },
	{ prefix: "100::/64", name: "Discard-Only Address Block (RFC 6666)", global: false },
	{ prefix: "100:0:0:1::/64", name: "Dummy IPv6 Prefix (RFC 9780)", global: false },
	{ prefix: "2001::/23", name: "IETF Protocol Assignments (RFC 2928)", global: false },
	{ prefix: "2001::/32", name: "TEREDO (RFC 4380)", global: true, embedsV4: "teredo" },
	{ prefix: "2001:1::1/128", name: "Port Control Protocol Anycast (RFC 7723)", global: true },
	{ prefix: "2001:1::2/128", name: "Traversal Using Relays around NAT Anycast (RFC 8155)", global: true },
	{ prefix: "2001:1::3/128", name: "DNS-SD Service Registration Protocol Anycast (RFC 9665)", global: true },
	{ prefix: "2001:2::/48", name: "Benchmarking (RFC 5180)", global: false },
	{ prefix: "2001:3::/32", name: "AMT (RFC 7450)", global: true },
	{ prefix: "2001:4:112::/48", name: "AS112-v6 (RFC 7535)", global: true },
	{ prefix: "2001:10::/28", name: "Deprecated ORCHID (RFC 4843)", global: false },
	{ prefix: "2001:20::/28", name: "ORCHIDv2 (RFC 7343)", global: true },
	{ prefix: "2001:30::/28", name: "Drone Remote ID Protocol Entity Tags (RFC 9374)", global: true },
	{ prefix: "2001:db8::/32", name: "Documentation (RFC 3849)", global: false },
	{ prefix: "2002::/16", name: "6to4 (RFC 3056)", global: true, embedsV4: "6to4" },
	{ prefix: "2620:4f:8000::/48", name: "Direct Delegation AS112 Service (RFC 7534)", global: true },
	{ prefix: "3fff::/20", name: "Documentation (RFC 9637)", global: false },
	{ prefix: "5f00::/16", name: "Segment Routing (SRv6) SIDs (RFC 9602)", global: false },
	{ prefix: "fc00::/7", name: "Unique-Local (RFC 4193)", global: false },
	{ prefix: "fe80::/10", name: "Link-Local Unicast (RFC 4291)", global: false },
	{ prefix: "ff00::/8", name: "Multicast (RFC 4291)", global: false },
];

/** An IPv4 address as a 32-bit number, or null. Only the dotted-quad form URL parsing prints. */
export function parseV4(text: string): number | null {
	const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
	if (!m) return null;
	const octets = m.slice(1).map(Number);
	if (octets.some((o) => o > 255)) return null;
	return octets.reduce((n, o) => n * 256 + o, 0);
}

/** An IPv6 address as a 128-bit number, or null (a dotted IPv4 tail is accepted). */
export function parseV6(text: string): bigint | null {
	let s = text.toLowerCase();
	const v4tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
	if (v4tail) {
		const v4 = parseV4(v4tail[2]!);
		if (v4 === null) return null;
		s = `${v4tail[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
	}
	const halves = s.split("::");
	if (halves.length > 2) return null;
	const groups = (part: string) => (part === "" ? [] : part.split(":"));
	const head = groups(halves[0]!);
	const tail = halves.length === 2 ? groups(halves[1]!) : [];
	const missing = 8 - head.length - tail.length;
	if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
	const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
	let n = 0n;
	for (const g of all) {
		if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
		n = (n << 16n) | BigInt(Number.parseInt(g, 16));
	}
	return n;
}

interface Compiled {
	block: AddressBlock;
	base: bigint;
	bits: number;
}

function compile(blocks: readonly AddressBlock[], width: number, parse: (s: string) => bigint | null): Compiled[] {
	return blocks
		.map((block) => {
			const [addr, len] = block.prefix.split("/");
			const base = parse(addr!);
			if (base === null) throw new Error(`bad prefix in the address table: ${block.prefix}`);
			return { block, base, bits: Number(len), width };
		})
		.sort((a, b) => b.bits - a.bits); // most specific first
}

const V4 = compile(IPV4_BLOCKS, 32, (s) => {
	const n = parseV4(s);
	return n === null ? null : BigInt(n);
});
const V6 = compile(IPV6_BLOCKS, 128, parseV6);

const within = (n: bigint, c: Compiled, width: number) => n >> BigInt(width - c.bits) === c.base >> BigInt(width - c.bits);

/** What the registries say of an address: the deciding row, and whether the address is globally reachable. */
export interface Verdict {
	global: boolean;
	/** The row that decided, and for an embedded IPv4 address, that address's row too. */
	why: string;
}

function v4Verdict(n: number): Verdict {
	const hit = V4.find((c) => within(BigInt(n), c, 32));
	return hit ? { global: hit.block.global, why: hit.block.name } : { global: true, why: "Global Unicast" };
}

const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

function embeddedV4(n: bigint, how: NonNullable<AddressBlock["embedsV4"]>): number[] {
	const at = (shift: number) => Number((n >> BigInt(shift)) & 0xffffffffn);
	switch (how) {
		case "last32":
			return [at(0)];
		case "6to4":
			return [at(80)]; // 2002:AABB:CCDD::/48
		case "teredo":
			// 2001:0:<server v4>:<flags>:<port>:<client v4 with every bit flipped>
			return [at(64), ~at(0) >>> 0];
	}
}

/** Whether `address` (IPv4 or IPv6, as URL parsing prints it, IPv6 without brackets) is globally reachable. */
export function classifyAddress(address: string): Verdict {
	const v4 = parseV4(address);
	if (v4 !== null) return v4Verdict(v4);
	const v6 = parseV6(address);
	if (v6 === null) return { global: false, why: "not an IP address" };
	const hit = V6.find((c) => within(v6, c, 128))!; // ::/0 holds every address
	if (!hit.block.global || !hit.block.embedsV4) return { global: hit.block.global, why: hit.block.name };
	for (const inner of embeddedV4(v6, hit.block.embedsV4)) {
		const verdict = v4Verdict(inner);
		if (!verdict.global) return { global: false, why: `${hit.block.name} of ${dotted(inner)}: ${verdict.why}` };
	}
	return { global: true, why: hit.block.name };
}
