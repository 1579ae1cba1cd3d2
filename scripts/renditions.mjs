// The renditions' origin operations, for the benchmarks (plain JavaScript: they run in Node without
// the Worker's TypeScript). The same family and settings as src/base/renditions.ts and the same
// operation as src/render/thumbor-path.ts: test/scripts/renditions.test.ts holds them together.

/** Thumbor's name and the quality at 1x, 2x and 3x of each format (src/base/renditions.ts, FORMATS). */
export const FORMATS = {
	webp: { thumbor: "webp", quality: { 1: 80, 2: 80, 3: 80 } },
	avif: { thumbor: "avif", quality: { 1: 55, 2: 55, 3: 50 } },
	jpg: { thumbor: "jpeg", quality: { 1: 80, 2: 85, 3: 85 } },
};

/** Every rendition's name, in the family's order (canonical first). */
export const ALL = Object.keys(FORMATS).flatMap((format) => [1, 2, 3].map((density) => `${format}@${density}x`));

/** The master (src/base/renditions.ts, MASTER): the crop at 300 px, lossless WebP. */
export const MASTER = "master";

const parse = (name) => {
	if (name === MASTER) return { format: "webp", density: 3, side: 300, lossless: true };
	const [format, density] = name.split("@");
	return { format, density: Number.parseInt(density, 10), side: 100 * Number.parseInt(density, 10) };
};

/**
 * The origin operation (the path before the image's name) making `names` (or MASTER) from one decode, framed
 * around `focus` ("x,y") when given: the largest is the URL's own output, the rest `also`.
 */
export function operation(names, focus = null) {
	const renditions = names.map(parse);
	const main = renditions.reduce((a, b) => (b.side > a.side ? b : a));
	const quality = (r) => (r.lossless ? 100 : FORMATS[r.format].quality[r.density]);
	const filters = [
		`format(${FORMATS[main.format].thumbor})`,
		`quality(${quality(main)})`,
		...(focus ? [`focus(${focus})`] : []),
		...renditions.filter((r) => r !== main).map((r) => `also(${FORMATS[r.format].thumbor},${r.side},${quality(r)})`),
	];
	return `${main.side}x${main.side}/smart/filters:${filters.join(":")}`;
}
