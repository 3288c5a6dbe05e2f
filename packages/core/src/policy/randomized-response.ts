/**
 * k-ary randomized response (Warner 1965; Kairouz et al. 2016), the mechanism of segment reports.
 * A device in category t of m reports t with probability p = e^ε/(e^ε+m−1) and each other category
 * with q = 1/(e^ε+m−1). For any two true categories the odds of any report differ by at most
 * p/q = e^ε: ε-local differential privacy with respect to the device's segment (adjacency: the
 * same device in any other segment). Its cost in the ledger is `reportRho(ε)`.
 */
export interface ResponseProbabilities {
  /** Probability of reporting the true category. */
  truth: number;
  /** Probability of reporting one given other category. */
  other: number;
}

export function responseProbabilities(categories: number, epsilon: number): ResponseProbabilities {
  if (!Number.isInteger(categories) || categories < 2) throw new RangeError('randomized response needs at least 2 categories');
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError('epsilon must be a positive number');
  const e = Math.exp(epsilon);
  return { truth: e / (e + categories - 1), other: 1 / (e + categories - 1) };
}

/** The category to report for true category `index` (0 ≤ index < categories). */
export function randomizeCategory(index: number, categories: number, epsilon: number, random: () => number): number {
  const { truth } = responseProbabilities(categories, epsilon);
  if (random() < truth) return index;
  // Uniform over the m − 1 other categories.
  const other = Math.min(categories - 2, Math.floor(random() * (categories - 1)));
  return other >= index ? other + 1 : other;
}

/**
 * The ledger's cost of one ε-DP segment report. The ledger adds ρ = μ²/2 and converts the total
 * to (ε, δ) through μ-GDP (Dong, Roth & Su 2019), so a report must be charged the μ of a GDP
 * bound that holds for it, not its zCDP parameter ε²/2 (pure ε-DP is ε²/2-zCDP, but not ε-GDP:
 * binary randomized response at ε = 1 needs μ = 1.232). Every ε-DP mechanism's trade-off
 * function lies above binary randomized response's f_ε, and f_ε ≥ G_μ exactly when
 * μ ≥ 2Φ⁻¹(e^ε/(1 + e^ε)) (G_μ is convex and meets f_ε's kink on the diagonal, so it lies under
 * both of f_ε's linear pieces). That μ is charged, for any number of segments; it is above ε²/2
 * for every ε up to 4.8. Tests: packages/server/test/privacy.test.ts ("segment reports: the charged ρ
 * covers randomized response").
 */
export function reportRho(epsilon: number): number {
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

/**
 * Unbiased estimates of the true counts per category from reported counts: E[reported_j] =
 * q·N + (p − q)·true_j, so true_j ≈ (reported_j − q·N)/(p − q). Estimates may be negative or
 * fractional; `variance` is each estimate's sampling variance (for intervals and thresholds).
 */
export function debiasCounts(reported: readonly number[], epsilon: number): { estimates: number[]; variance: number[] } {
  const m = reported.length;
  const { truth: p, other: q } = responseProbabilities(m, epsilon);
  const n = reported.reduce((s, x) => s + x, 0);
  const estimates = reported.map((r) => (r - q * n) / (p - q));
  // Var of reported_j given the truth: sum of Bernoullis; approximated with the estimated truth mix.
  const variance = estimates.map((t) => {
    const tj = Math.min(Math.max(t, 0), n);
    return (tj * p * (1 - p) + (n - tj) * q * (1 - q)) / ((p - q) * (p - q));
  });
  return { estimates, variance };
}
