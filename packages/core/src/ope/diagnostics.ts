/**
 * Importance-weight diagnostics for off-policy estimates: effective sample size, the largest
 * single-row share of the total weight (with the row named), clipped-weight sensitivity and a
 * seeded percentile bootstrap. Pure functions; the estimators and the CLIs use them.
 */
import { seededRandom } from '../random';

/** Warn when ESS falls below this share of n. */
export const LOW_ESS_SHARE = 0.01;
/** Warn when one row holds more than this share of the total weight. */
export const MAX_ROW_SHARE = 0.1;
/** Clipping caps, as multiples of the mean weight. */
export const CLIP_MULTIPLES = [10, 100, 1000] as const;

export interface WeightDiagnostics {
  n: number;
  /** (Σw)² / Σw². */
  effectiveSampleSize: number;
  /** Index of the row with the largest weight. */
  maxWeightIndex: number;
  maxWeight: number;
  /** Largest weight / Σw. */
  maxWeightShare: number;
  /** ESS < 1% of n, or one row holds > 10% of the weight: use the bootstrap and read the warnings. */
  degenerate: boolean;
  warnings: string[];
}

export function weightDiagnostics(w: readonly number[], describeRow: (i: number) => string = (i) => `row ${i}`): WeightDiagnostics {
  const n = w.length;
  let sum = 0;
  let sum2 = 0;
  let maxWeightIndex = 0;
  for (let i = 0; i < n; i++) {
    sum += w[i];
    sum2 += w[i] * w[i];
    if (w[i] > w[maxWeightIndex]) maxWeightIndex = i;
  }
  const effectiveSampleSize = sum2 > 0 ? (sum * sum) / sum2 : 0;
  const maxWeight = n ? w[maxWeightIndex] : 0;
  const maxWeightShare = sum > 0 ? maxWeight / sum : 0;
  const warnings: string[] = [];
  if (effectiveSampleSize < LOW_ESS_SHARE * n)
    warnings.push(
      `effective sample size ${effectiveSampleSize.toFixed(1)} is below ${LOW_ESS_SHARE * 100}% of n = ${n}: a few rows carry the estimate`,
    );
  if (maxWeightShare > MAX_ROW_SHARE)
    warnings.push(
      `${describeRow(maxWeightIndex)} holds ${(maxWeightShare * 100).toFixed(1)}% of the total weight (weight ${maxWeight.toPrecision(6)})`,
    );
  return { n, effectiveSampleSize, maxWeightIndex, maxWeight, maxWeightShare, degenerate: warnings.length > 0, warnings };
}

export interface ClippedEstimate {
  /** Cap as a multiple of the mean (unclipped) weight. */
  multiple: number;
  cap: number;
  /** Rows whose weight was above the cap. */
  clippedRows: number;
  ipw: number;
  snipw: number;
}

/**
 * IPW and SNIPW with every weight replaced by min(w, cap), cap = multiple × mean weight. Clipping
 * trades bias for variance; if the estimate moves a lot between caps, a few rows drive it.
 */
export function clippedSensitivity(
  w: readonly number[],
  rewards: readonly number[],
  multiples: readonly number[] = CLIP_MULTIPLES,
): ClippedEstimate[] {
  const n = w.length;
  const meanW = w.reduce((a, b) => a + b, 0) / n;
  return multiples.map((multiple) => {
    const cap = multiple * meanW;
    let sw = 0;
    let swr = 0;
    let clippedRows = 0;
    for (let i = 0; i < n; i++) {
      const c = Math.min(w[i], cap);
      if (w[i] > cap) clippedRows++;
      sw += c;
      swr += c * rewards[i];
    }
    return { multiple, cap, clippedRows, ipw: swr / n, snipw: sw > 0 ? swr / sw : 0 };
  });
}

/**
 * Percentile bootstrap: resample rows with replacement `resamples` times (seeded), apply
 * `statistic` to the resampled indices, and return the (α/2, 1 − α/2) quantiles.
 */
export function percentileBootstrap(
  n: number,
  statistic: (indices: Uint32Array) => number,
  { resamples = 2000, seed = 12, level = 0.95 }: { resamples?: number; seed?: number; level?: number } = {},
): [number, number] {
  if (!(resamples >= 1 && resamples <= 100_000)) throw new Error(`percentileBootstrap: resamples must be in [1, 100000], got ${resamples}`);
  const random = seededRandom(seed);
  const stats = new Float64Array(resamples);
  const idx = new Uint32Array(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(random() * n);
    stats[b] = statistic(idx);
  }
  stats.sort();
  const q = (p: number) => {
    // Linear interpolation between order statistics (numpy's default "linear" method).
    const h = (resamples - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(resamples - 1, lo + 1);
    return stats[lo] + (h - lo) * (stats[hi] - stats[lo]);
  };
  const alpha = 1 - level;
  return [q(alpha / 2), q(1 - alpha / 2)];
}

/** Clamp an interval into [lo, hi] (e.g. [0, 1] for a click rate). */
export function clampInterval(ci: [number, number], lo = 0, hi = 1): [number, number] {
  return [Math.min(hi, Math.max(lo, ci[0])), Math.min(hi, Math.max(lo, ci[1]))];
}
