/** Owns the DP mechanism derived from the privacy configuration: what rounds apply and GET /v1/privacy publishes. */
import { muForEpsilon } from '@vitrine/core/privacy';
import type { PrivacyConfig } from './config';

export type Mechanism = ReturnType<typeof mechanism>;

/**
 * Gaussian noise on the round's two sums, calibrated so that `contributionsPerWindow`
 * contributions of one device (each: its gradient sum, L2 ≤ clipGradient, and its curvature sum,
 * L2 ≤ clipCurvature) compose to μ-GDP with μ = μ(ε, δ) exactly. Adjacency: add or remove one
 * device's contributions. `curvatureShare` of μ² goes to the curvature sum.
 */
export function mechanism(p: PrivacyConfig) {
  const mu = muForEpsilon(p.epsilon, p.delta);
  const muPerContribution2 = (mu * mu) / p.contributionsPerWindow;
  return {
    mu,
    /** σ on the gradient sum = noiseMultiplierGradient × clipGradient (× contributions of one device in the round). */
    noiseMultiplierGradient: 1 / Math.sqrt((1 - p.curvatureShare) * muPerContribution2),
    noiseMultiplierCurvature: 1 / Math.sqrt(p.curvatureShare * muPerContribution2),
    /** ρ = μ²/2 of one contribution: what a device's ledger charges. */
    rhoPerContribution: muPerContribution2 / 2,
    minHoursBetween: (p.windowDays * 24) / p.contributionsPerWindow,
  };
}
