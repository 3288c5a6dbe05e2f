/** Owns the robust-aggregation primitives of a round: L2 projection, coordinate-wise trimmed mean, trim count. */
export { gaussian } from '@vitrine/core/privacy';

/** Projects onto the L2 ball of radius `bound` (1-Lipschitz: it never increases a difference). */
export function clipL2(v: ArrayLike<number>, bound: number): { clipped: Float64Array; norm: number; wasClipped: boolean } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const norm = Math.sqrt(s);
  const scale = norm > bound ? bound / norm : 1;
  const clipped = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) clipped[i] = v[i] * scale;
  return { clipped, norm, wasClipped: scale < 1 };
}

/**
 * Coordinate-wise trimmed mean: per coordinate, drop the `k` smallest and `k` largest values
 * and average the rest. Order statistics are monotone in each input and sum to the inputs'
 * sum, so changing one input vector by d moves the result by at most |d| / (n - 2k) in L2:
 * the sensitivity the central noise is calibrated to (docs/privacy.md).
 */
export function trimmedMean(vectors: Float64Array[], k: number): Float64Array {
  const n = vectors.length;
  if (n - 2 * k < 1) throw new Error(`trimmedMean: ${n} vectors cannot drop ${k} from each end`);
  const d = vectors[0].length;
  const out = new Float64Array(d);
  const column = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) column[i] = vectors[i][j];
    column.sort();
    let s = 0;
    for (let i = k; i < n - k; i++) s += column[i];
    out[j] = s / (n - 2 * k);
  }
  return out;
}

export function trimCount(n: number, fraction: number): number {
  return Math.min(Math.floor(n * fraction), Math.floor((n - 1) / 2));
}
