import { referenceScores } from '@vitrine/core/artifact';
import { FeatureEncoder } from '@vitrine/core/features';
import type { LoadedModel } from '../model/loader';
import type { RankedSlate } from './placement';

/** Shadow propensities need the shadow's scores for every candidate: bounded work per rank. */
export const SHADOW_MAX_CANDIDATES = 256;

/**
 * The shadow model the server is trying out. Devices never rank with it; for each logged
 * placement they report the probability that the same policy, ranking with the shadow, would
 * have made it, so the server can evaluate the shadow off-policy before promoting it.
 */
export class ShadowScorer {
  private readonly encoder: FeatureEncoder;

  constructor(readonly model: LoadedModel) {
    this.encoder = new FeatureEncoder(model.manifest.featureSpec);
  }

  get version(): string {
    return this.model.manifest.version;
  }

  /**
   * The shadow's propensity for each given position of the slate: the same policy as the logging
   * one (epsilon-greedy, and the merchant's rules when they ran), with the shadow's scores. Null
   * above the candidate bound.
   */
  propensities(slate: RankedSlate, positions: number[]): number[] | null {
    const { activities, order, epsilon } = slate;
    const n = activities.length;
    if (n > SHADOW_MAX_CANDIDATES) return null;
    // Float64 reference forward pass: a few hundred candidates at most, off rank()'s latency.
    const rows = this.encoder.encodeBatch(activities, slate.context, slate.user, slate.profile);
    const scores = referenceScores(this.model.manifest, this.model.weights, rows, n);
    // Under rules (pins, boosts, type caps, MMR, the holdout) the shadow is judged as the same policy with its own scores.
    if (slate.propensitiesUnder) return slate.propensitiesUnder(activities, scores, positions);
    const greedy = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    const eps = n > 1 ? epsilon : 0;
    return positions.map((pos) => (1 - eps) * (greedy[pos] === order[pos] ? 1 : 0) + eps / n);
  }
}
