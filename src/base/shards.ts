/** FNV-1a: a cheap, stable spread of keys over a fixed number of shards or instances. */
export function fnv1a(key: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
	return h >>> 0;
}

export const shardOf = (key: string, shards: number) => fnv1a(key) % shards;
