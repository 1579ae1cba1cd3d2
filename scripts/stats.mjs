// What the benchmarks share: the p-th percentile (nearest rank) of a list of timings.

/**
 * @param {number[]} xs
 * @param {number} p 0-100
 * @returns {number}
 */
export const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
