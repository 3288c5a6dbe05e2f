/** Owns the DP mechanism derived from the privacy configuration: what rounds apply and GET /v1/privacy publishes. */
import { muForEpsilon, rhoForEpsilon } from '@vitrine/core/privacy';
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

/**
 * The ledger's cost of one ε-DP segment report. The ledger adds ρ = μ²/2 and converts the total
 * to (ε, δ) through μ-GDP (Dong, Roth & Su 2019), so a report must be charged the μ of a GDP
 * bound that holds for it, not its zCDP parameter ε²/2 (pure ε-DP is ε²/2-zCDP, but not ε-GDP:
 * binary randomized response at ε = 1 needs μ = 1.232). Every ε-DP mechanism's trade-off
 * function lies above binary randomized response's f_ε, and f_ε ≥ G_μ exactly when
 * μ ≥ 2Φ⁻¹(e^ε/(1 + e^ε)) (G_μ is convex and meets f_ε's kink on the diagonal, so it lies under
 * both of f_ε's linear pieces). That μ is charged, for any number of segments; it is above ε²/2
 * for every ε up to 4.8. Test: "segment reports: the charged ρ covers randomized response" (privacy.test.ts).
 */
export function segmentReportRho(epsilon: number): number {
  const p = Math.exp(epsilon) / (1 + Math.exp(epsilon));
  // A relative 1e-9 up: the quantile's own error (< 1.2e-9) never rounds the charge down.
  const mu = 2 * normalQuantile(p) * (1 + 1e-9);
  return (mu * mu) / 2;
}

/**
 * Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation (relative error < 1.15e-9), enough for a
 * privacy charge rounded up by more than that.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError('normalQuantile: p must be in (0, 1)');
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}
