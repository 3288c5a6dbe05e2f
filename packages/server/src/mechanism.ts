/** Owns the DP mechanism derived from the privacy configuration: what rounds apply and GET /v1/privacy publishes. */
import { muForEpsilon, rhoForEpsilon } from '@vitrine/core/privacy';
import { reportRho } from '@vitrine/core/policy';
import type { PrivacyConfig } from './config';

export type Mechanism = ReturnType<typeof mechanism>;

/**
 * Gaussian noise on the round's two sums, calibrated so that `contributionsPerWindow`
 * contributions of one device (each: its gradient sum, L2 ≤ clipGradient, and its curvature sum,
 * L2 ≤ clipCurvature) compose to μ-GDP with μ = μ(ε, δ) exactly. Adjacency: add or remove one
 * device's contributions. `curvatureShare` of μ² goes to the curvature sum.
 *
 * With segments in the policy a contribution also carries a randomized-response segment report
 * (`segmentEpsilon`); its cost `segmentReportRho` is added to what a device is charged
 * (`contributionRho`), so a device's ledger admits fewer contributions per window then.
 */
export function mechanism(p: PrivacyConfig) {
  const mu = muForEpsilon(p.epsilon, p.delta);
  const muPerContribution2 = (mu * mu) / p.contributionsPerWindow;
  const rhoPerContribution = muPerContribution2 / 2;
  const asked = p.segmentEpsilon && p.segmentEpsilon > 0 ? p.segmentEpsilon : null;
  const budget = rhoForEpsilon(p.epsilon, p.delta);
  // A contribution with a report must fit the whole window's budget, or devices would refuse every update.
  const segmentRefusal =
    asked !== null && rhoPerContribution + segmentReportRho(asked) > budget * (1 + 1e-12)
      ? `segment reports are off: at VITRINE_SEGMENT_EPSILON ${asked} a contribution with one would cost ` +
        `ρ ${(rhoPerContribution + segmentReportRho(asked)).toFixed(4)}, more than the whole budget ` +
        `(ρ ${budget.toFixed(4)} for ε ${p.epsilon}, δ ${p.delta}); lower it`
      : null;
  const segmentEpsilon = segmentRefusal === null ? asked : null;
  return {
    mu,
    /** σ on the gradient sum = noiseMultiplierGradient × clipGradient (× contributions of one device in the round). */
    noiseMultiplierGradient: 1 / Math.sqrt((1 - p.curvatureShare) * muPerContribution2),
    noiseMultiplierCurvature: 1 / Math.sqrt(p.curvatureShare * muPerContribution2),
    /** ρ = μ²/2 of one contribution's two Gaussian releases: what a device's ledger charges without a segment report. */
    rhoPerContribution,
    minHoursBetween: (p.windowDays * 24) / p.contributionsPerWindow,
    /** ε of the segment report, or null when segment reports are off (0, or too costly for the budget). */
    segmentEpsilon,
    /** What one segment report adds to a contribution's ρ (0 when off): see `segmentReportRho`. */
    segmentReportRho: segmentEpsilon === null ? 0 : segmentReportRho(segmentEpsilon),
    /** Why configured segment reports are off (the configured ε does not fit the budget), or null. */
    segmentRefusal,
  };
}

/** ρ a device is charged per contribution: the Gaussian releases, plus the segment report when one is asked for. */
export function contributionRho(mech: Mechanism, withSegmentReport: boolean): number {
  return mech.rhoPerContribution + (withSegmentReport ? mech.segmentReportRho : 0);
}

/** The ledger's cost of one ε-DP segment report (see `reportRho` in @vitrine/core/policy). */
export const segmentReportRho = reportRho;
