import * as v from 'valibot';
import { sufficientStatistics, type HeadExample } from './update';

/**
 * What the server knows before any device contributes, computed once from the seed model's own
 * training data (no privacy cost: no contributor's data is involved):
 * - the clip norms: a high quantile of the per-contribution gradient and curvature norms of
 *   seed shoppers (each seed shopper's events split into one chunk per contribution);
 * - the seed Fisher information Σ p(1 − p) u uᵀ over all seed events at θ = 0: the prior
 *   precision of the head (the seed data's weight) and the correlation structure the noisy
 *   diagonal curvature is combined with.
 */
export const UPDATE_PRIOR_FORMAT = 'vitrine-update-prior@1';
/** Contributions one device makes per 30-day window by default (rounds 10 days apart). */
export const DEFAULT_CONTRIBUTIONS_PER_WINDOW = 3;

export const UpdatePriorSchema = v.object({
  format: v.literal(UPDATE_PRIOR_FORMAT),
  /** Version of the seed model (the frozen MLP) it was computed for. */
  model: v.string(),
  dimension: v.pipe(v.number(), v.integer(), v.minValue(1)),
  clipGradient: v.pipe(v.number(), v.gtValue(0)),
  clipCurvature: v.pipe(v.number(), v.gtValue(0)),
  clipQuantile: v.number(),
  /** Seed shoppers × contributions per window: the number of seed "contributions" summed in the Fisher. */
  contributions: v.pipe(v.number(), v.gtValue(0)),
  events: v.number(),
  /** The Fisher matrix file (float32, row-major, dimension²) and its sha256. */
  fisher: v.object({ path: v.string(), sha256: v.string() }),
});
export type UpdatePriorFile = v.InferOutput<typeof UpdatePriorSchema>;

export interface UpdatePrior extends Omit<UpdatePriorFile, 'fisher'> {
  fisher: Float64Array;
}

/**
 * The prior from seed shoppers' examples (at the seed model, θ = 0): `shoppers[i][k]` are the
 * examples shopper i would contribute at its k-th contribution.
 */
export function computeUpdatePrior(
  model: string,
  dimension: number,
  shoppers: { example: HeadExample; reward: number }[][][],
  clipQuantile = 0.9,
): UpdatePrior {
  const gradientNorms: number[] = [];
  const curvatureNorms: number[] = [];
  const fisher = new Float64Array(dimension * dimension);
  let contributions = 0;
  let events = 0;
  for (const chunks of shoppers)
    for (const chunk of chunks) {
      if (!chunk.length) continue;
      const s = sufficientStatistics(chunk, dimension, Infinity, Infinity);
      gradientNorms.push(s.gradientNorm);
      curvatureNorms.push(s.curvatureNorm);
      contributions += 1;
      for (const { example } of chunk) {
        events += 1;
        const p = 1 / (1 + Math.exp(-example.logit));
        const w = p * (1 - p);
        const { index, value } = example;
        for (let a = 0; a < index.length; a++)
          for (let b = 0; b < index.length; b++) fisher[index[a] * dimension + index[b]] += w * value[a] * value[b];
      }
    }
  if (!contributions) throw new Error('computeUpdatePrior: no seed examples');
  return {
    format: UPDATE_PRIOR_FORMAT,
    model,
    dimension,
    clipGradient: quantile(gradientNorms, clipQuantile),
    clipCurvature: quantile(curvatureNorms, clipQuantile),
    clipQuantile,
    contributions,
    events,
    fisher,
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
