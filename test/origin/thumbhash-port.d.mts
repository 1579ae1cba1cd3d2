export interface Case {
	name: string;
	w: number;
	h: number;
	/** RGBA pixels, base64. */
	rgba: string;
	/** The port's ThumbHash, base64. */
	ours: string;
}
export function encodeWithThePort(names: string[]): Case[];
