/**
 * Which callback URLs the service will POST to. A webhook is a request our Worker
 * makes on a caller's behalf, so the URL must not point it at anything private:
 * https only, the default port, no credentials, no `localhost`, and no IP literal that
 * is not globally reachable by the IANA special-purpose registries (./addresses.ts), in
 * any spelling: URL parsing folds decimal, hex, octal and short IPv4 into one, and IPv4
 * inside IPv6 (mapped, compatible, NAT64, 6to4, Teredo) is judged as the IPv4 it carries.
 * Hosts in WEBHOOK_DEV_HOSTS (development only) may use plain http, any port and loopback
 * addresses.
 */
import { ApiError } from "../http/errors";
import { classifyAddress } from "./addresses";

export const MAX_CALLBACK_URL_LENGTH = 2048;

const refuse = (why: string) => new ApiError(400, "invalid_callback_url", `The callback_url is refused: ${why}.`);

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
	const literal = host.startsWith("[") ? host.slice(1, -1) : /^[\d.]+$/.test(host) ? host : null;
	if (literal !== null) {
		const verdict = classifyAddress(literal);
		if (!verdict.global) throw refuse(`its address is not globally reachable (${verdict.why})`);
	}
	return url.href;
}
