/**
 * Which callback URLs the service will POST to. A webhook is a request our Worker
 * makes on a caller's behalf, so the URL must not point it at anything private:
 * https only, the default port, no credentials, and no IP literal (in any of the
 * spellings URL parsing folds into one: decimal, hex, octal, short, IPv4-mapped IPv6)
 * in a private, loopback, link-local, CGNAT, multicast or metadata range, and no
 * `localhost`. Hosts in WEBHOOK_DEV_HOSTS (development only) may use plain http, any
 * port and loopback addresses.
 */
import { ApiError } from "../errors";

export const MAX_CALLBACK_URL_LENGTH = 2048;

const refuse = (why: string) => new ApiError(400, "invalid_callback_url", `The callback_url is refused: ${why}.`);

/** IPv4 ranges a webhook may not reach, as [first octets as a 32-bit number, prefix length]. */
const BLOCKED_V4: [string, number][] = [
	["0.0.0.0", 8], // "this network"
	["10.0.0.0", 8], // private
	["100.64.0.0", 10], // CGNAT
	["127.0.0.0", 8], // loopback
	["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
	["172.16.0.0", 12], // private
	["192.0.0.0", 24], // IETF protocol assignments
	["192.168.0.0", 16], // private
	["198.18.0.0", 15], // benchmarking
	["224.0.0.0", 3], // multicast, reserved, broadcast
];

const v4ToInt = (ip: string) => ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);

function blockedV4(ip: string): boolean {
	const n = v4ToInt(ip);
	return BLOCKED_V4.some(([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(v4ToInt(base) / 2 ** (32 - bits)));
}

/** The eight 16-bit groups of an IPv6 address as URL parsing prints it (compressed, lowercase). */
function v6Groups(ip: string): number[] {
	const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
	const parse = (s: string | undefined) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
	const h = parse(head);
	const t = parse(tail);
	return tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
}

function blockedV6(ip: string): boolean {
	const g = v6Groups(ip);
	if (g.length !== 8 || g.some((x) => Number.isNaN(x))) return true;
	const embeddedV4 = () => `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
	if (g.every((x) => x === 0)) return true; // ::
	if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return true; // ::1
	if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return blockedV4(embeddedV4()); // ::ffff:a.b.c.d
	if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return blockedV4(embeddedV4()); // NAT64
	if ((g[0]! & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local (fd00:ec2::254, metadata)
	if ((g[0]! & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
	if ((g[0]! & 0xff00) === 0xff00) return true; // multicast
	return false;
}

/** The callback URL, checked; `devHosts` are hostnames allowed plain http, any port and loopback. */
export function checkCallbackUrl(raw: string, devHosts: readonly string[]): string {
	if (raw.length > MAX_CALLBACK_URL_LENGTH) throw refuse(`it is longer than ${MAX_CALLBACK_URL_LENGTH} characters`);
	if (!URL.canParse(raw)) throw refuse("it is not an absolute URL");
	const url = new URL(raw);
	const host = url.hostname.toLowerCase().replace(/\.$/, "");
	const dev = devHosts.includes(host);
	if (url.protocol !== "https:" && !(dev && url.protocol === "http:")) throw refuse("only https URLs are accepted");
	if (url.username || url.password) throw refuse("it carries credentials");
	if (dev) return url.href;
	if (url.port !== "") throw refuse("only the default port is accepted");
	if (host === "localhost" || host.endsWith(".localhost")) throw refuse("it names this machine");
	if (/^\d+\.\d+\.\d+\.\d+$/.test(host) && blockedV4(host)) throw refuse("its address is private, loopback, link-local or reserved");
	if (host.startsWith("[") && blockedV6(host.slice(1, -1))) throw refuse("its address is private, loopback, link-local or reserved");
	return url.href;
}
