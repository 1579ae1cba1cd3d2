const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

/** A lowercase ULID: 48 bits of milliseconds then 80 random bits, in Crockford base32. */
export function ulid(now = Date.now()): string {
	let time = "";
	for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
	const rand = crypto.getRandomValues(new Uint8Array(16));
	let tail = "";
	for (const b of rand) tail += CROCKFORD[b % 32];
	return time + tail;
}
